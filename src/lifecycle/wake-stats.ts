// Per app: the recent durations of each wake phase, for the waking page's typical times,
// the admin API (/api/wake-phases, which the simulator replays) and the phase histogram.
import { PHASES, type TimelinePhase, type WakeTimeline } from './wake-timeline.js'

/** Samples kept per app and phase (the newest). */
export const KEPT_SAMPLES = 100

export type StatPhase = TimelinePhase | 'total'

export interface PhaseSummary { count: number, mean: number, p50: number, p95: number, samples: number[] }

/** Nearest-rank percentile of sorted values. */
function percentile (sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil(p / 100 * sorted.length) - 1))]
}

export class WakeStats {
  /** Successful wakes recorded (redeploys not included). */
  wakes = 0
  private readonly samples = new Map<StatPhase, number[]>()
  /** Medians, refreshed on record: the waking page reads them on every render. */
  private readonly medians = new Map<StatPhase, number>()
  private readonly listeners = new Set<(t: WakeTimeline) => void>()

  /** Called with every successful wake and redeploy (the histogram); returns an unsubscribe. */
  onRecord (fn: (t: WakeTimeline) => void): () => void {
    this.listeners.add(fn)
    return () => { this.listeners.delete(fn) }
  }

  /**
   * A finished wake or redeploy. Failed ones are not recorded (a timeout is not a typical
   * duration); typical times and samples come from wakes only, since a redeploy's start
   * (a new image to pull) is not what the next wake will take.
   */
  record (t: WakeTimeline): void {
    if (!t.ok) return
    for (const fn of this.listeners) fn(t)
    if (t.kind !== 'wake') return
    this.wakes++
    for (const p of t.phases) this.add(p.phase, p.ms)
    this.add('total', t.totalMs)
  }

  private add (phase: StatPhase, ms: number): void {
    let list = this.samples.get(phase)
    if (!list) this.samples.set(phase, list = [])
    list.push(ms)
    if (list.length > KEPT_SAMPLES) list.shift()
    const sorted = [...list].sort((a, b) => a - b)
    this.medians.set(phase, percentile(sorted, 50))
  }

  /** Median of the recent samples of a phase; undefined before the first. */
  typical (phase: StatPhase): number | undefined {
    return this.medians.get(phase)
  }

  /** Median per phase that has samples. */
  typicals (): Partial<Record<StatPhase, number>> {
    return Object.fromEntries(this.medians)
  }

  /**
   * Typical times measured by the process that runs the lifecycle (cluster workers and
   * replicas record no wakes of their own): their waking pages show the same steps' times.
   */
  useTypicals (t: Partial<Record<StatPhase, number>>): void {
    for (const [phase, ms] of Object.entries(t) as Array<[StatPhase, number]>) if (!this.samples.has(phase)) this.medians.set(phase, ms)
  }

  /** count, mean, p50, p95 (ms) and the samples, per phase in timeline order, then total. */
  summary (): { wakes: number, phases: Partial<Record<TimelinePhase, PhaseSummary>>, total?: PhaseSummary } {
    const phases: Partial<Record<TimelinePhase, PhaseSummary>> = {}
    for (const p of PHASES) {
      const s = this.summarize(p)
      if (s) phases[p] = s
    }
    const total = this.summarize('total')
    return total ? { wakes: this.wakes, phases, total } : { wakes: this.wakes, phases }
  }

  private summarize (phase: StatPhase): PhaseSummary | undefined {
    const list = this.samples.get(phase)
    if (!list?.length) return undefined
    const sorted = [...list].sort((a, b) => a - b)
    const mean = list.reduce((a, b) => a + b, 0) / list.length
    return { count: list.length, mean: Math.round(mean * 10) / 10, p50: percentile(sorted, 50), p95: percentile(sorted, 95), samples: [...list] }
  }
}

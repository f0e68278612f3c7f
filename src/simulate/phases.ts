// How long a simulated task takes to start, phase by phase: a documented model of ECS on EC2,
// or the measured samples a running gateway serves at GET /api/wake-phases (--phases FILE).
import { readFileSync } from 'node:fs'
import { logNormal, pick, type Rng } from './prng.js'

export const PHASES = ['queue', 'placement', 'pull', 'start', 'health'] as const
/** Phases of a measured wake (GET /api/wake-phases): `detect` is the status-poll lag, which the simulation has of its own. */
const MEASURED = [...PHASES, 'detect'] as const
type MeasuredPhase = typeof MEASURED[number]
export type StartPhase = typeof PHASES[number]
/** ms per phase of one task start. */
export type StartTimes = Record<StartPhase, number>

export interface PhaseModel {
  /** Where the numbers come from, for the report. */
  source: string
  /** One start; `cached`: the instance already has this SHA's image. */
  sample (r: Rng, cached: boolean): StartTimes
}

/** Log-normal by median and log-sigma (ms): p95 ≈ median × e^(1.645σ). */
interface LogNormalMs { median: number, sigma: number }

/**
 * ECS on EC2 with spare capacity on the cluster (no scale-out during a wake), one image per
 * SHA in ECR in the same region. Estimates, stated so they can be argued with: replace them
 * with your own measurements (--phases) when you have a gateway running.
 */
export const ECS_EC2_MODEL: Record<'queue' | 'placement' | 'pullNew' | 'pullCached' | 'start' | 'health', LogNormalMs> = {
  /** RunTask round trip. */
  queue: { median: 300, sigma: 0.4 },
  /** RunTask → the agent on the instance picks the task up and starts pulling (PROVISIONING/PENDING). */
  placement: { median: 2_000, sigma: 0.5 },
  /** A SHA's image not on the instance: base layers usually are, the app's ~100–300 MB of new layers are pulled and extracted. */
  pullNew: { median: 20_000, sigma: 0.5 },
  /** The image is on the instance: with ECS_IMAGE_PULL_BEHAVIOR=default the agent still asks the registry for the manifest. */
  pullCached: { median: 1_000, sigma: 0.4 },
  /** Container create and start. */
  start: { median: 1_500, sigma: 0.4 },
  /** App boot until the health check answers < 500 (a typical web app or dev server). */
  health: { median: 8_000, sigma: 0.5 }
}

export function defaultPhaseModel (): PhaseModel {
  const m = ECS_EC2_MODEL
  const ln = (r: Rng, p: LogNormalMs) => Math.round(logNormal(r, p.median, p.sigma))
  return {
    source: 'model: ECS on EC2, per-SHA images (documented estimate)',
    sample (r, cached) {
      return { queue: ln(r, m.queue), placement: ln(r, m.placement), pull: ln(r, cached ? m.pullCached : m.pullNew), start: ln(r, m.start), health: ln(r, m.health) }
    }
  }
}

/** Measured pulls this short are taken as pulls of an image the instance had already. */
export const CACHED_PULL_MAX_MS = 3_000

/** A phases file that cannot be used; the CLI exits 2 with it. */
export class PhasesError extends Error {
  constructor (message: string) { super(message); this.name = 'PhasesError' }
}

type Samples = Partial<Record<MeasuredPhase, number[]>>

/** The samples of one app in a GET /api/wake-phases answer (`app`: which one when it has several). */
export function phaseSamples (json: unknown, app?: string): { app: string, samples: Samples } {
  const root = json && typeof json === 'object' && 'apps' in json ? (json as { apps: unknown }).apps : json
  if (!root || typeof root !== 'object') throw new PhasesError('expected the JSON of GET /api/wake-phases: an object of apps, each an object of phases with samples')
  const entries: Array<[string, unknown]> = Array.isArray(root)
    ? root.map((a: any) => [String(a?.app ?? a?.name ?? ''), a])
    : Object.entries(root)
  const found = entries.filter(([name]) => app === undefined || name === app)
  if (found.length === 0) throw new PhasesError(app ? `no app "${app}" in the phases file (it has ${entries.map(e => e[0]).join(', ') || 'none'})` : 'the phases file has no apps')
  const [name, entry] = found[0]
  const phases = (entry as any)?.phases ?? entry
  const samples: Samples = {}
  for (const p of MEASURED) {
    const s = (phases as any)?.[p]?.samples
    if (s === undefined) continue
    if (!Array.isArray(s) || s.some(x => typeof x !== 'number' || !Number.isFinite(x) || x < 0)) throw new PhasesError(`${name}.${p}.samples: expected an array of non-negative milliseconds`)
    if (s.length) samples[p] = s
  }
  if (!samples.start?.length && !samples.health?.length) throw new PhasesError(`app "${name}" has no start or health samples: nothing to replay`)
  return { app: name, samples }
}

/**
 * Replays measured samples (each phase drawn independently from its own samples). Phases
 * the file has none of take 0 (a local backend has no placement or pull). Pulls up to
 * CACHED_PULL_MAX_MS are the cached-image ones; when only one kind was measured, both draw
 * from it. The app's boot is measured from when wakegate noticed the task running, so a
 * detect sample is added to the health one: the simulation has its own poll lag on top.
 */
export function measuredPhaseModel (samples: Samples, source: string): PhaseModel {
  const pulls = samples.pull ?? []
  const cachedPulls = pulls.filter(x => x <= CACHED_PULL_MAX_MS)
  const newPulls = pulls.filter(x => x > CACHED_PULL_MAX_MS)
  const draw = (r: Rng, xs: number[] | undefined) => xs?.length ? pick(r, xs) : 0
  return {
    source,
    sample (r, cached) {
      const pullFrom = cached ? (cachedPulls.length ? cachedPulls : newPulls) : (newPulls.length ? newPulls : cachedPulls)
      return { queue: draw(r, samples.queue), placement: draw(r, samples.placement), pull: draw(r, pullFrom), start: draw(r, samples.start), health: draw(r, samples.detect) + draw(r, samples.health) }
    }
  }
}

export function loadPhaseModel (file: string, app?: string): PhaseModel {
  let json: unknown
  try {
    json = JSON.parse(readFileSync(file, 'utf8'))
  } catch (err) {
    throw new PhasesError(`cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
  }
  const { app: name, samples } = phaseSamples(json, app)
  return measuredPhaseModel(samples, `measured: ${file} (app ${name})`)
}

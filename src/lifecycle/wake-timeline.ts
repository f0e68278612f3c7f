// One wake's timeline: where its time went, phase by phase. The backend's own timestamps
// (ECS: createdAt, pullStartedAt, pullStoppedAt, startedAt; local: spawn and listening) are
// put between the moments wakegate saw itself (start answered, RUNNING noticed, probe passed),
// so the phases follow each other without gaps and add up to the whole wake.
import type { TaskStatus, TaskTiming } from '../backends/backend.js'

/**
 * In order: `queue` wake asked → task created (or the start call answered); `placement`
 * created → image pull started (ECS); `pull` the image pull (ECS); `start` pull done →
 * container RUNNING (ECS), spawn → port listening (local); `detect` RUNNING → wakegate
 * noticed it (status poll lag); `health` noticed → readiness probe passed.
 */
export const PHASES = ['queue', 'placement', 'pull', 'start', 'detect', 'health'] as const
export type TimelinePhase = typeof PHASES[number]

/** Timelines an env keeps (env.wakes). */
export const WAKES_KEPT = 20

/** What wakegate saw of one wake (ms since the epoch). */
export interface WakeMarks {
  asked: number
  /** backend.start answered. */
  answered?: number
  /** The backend said running, with an endpoint. */
  seen?: number
  /** The readiness probe passed. */
  healthy?: number
  /** The first probe that reached the app (was not refused) was sent: it listened by then. */
  connected?: number
  /** The backend's timestamps, from the last status read. */
  timing?: TaskTiming
  /** When the wake ended: ready, failed or cancelled. */
  end: number
}

export interface PhaseSpan { phase: TimelinePhase, ms: number }

export interface WakeTimeline {
  kind: 'wake' | 'redeploy'
  generation: number
  sha: string
  /** When the wake was asked for (ms since the epoch). */
  at: number
  totalMs: number
  ok: boolean
  /** Catalogue code of the failure (failed wakes only). */
  code?: string
  /** The phases that apply to this backend, in order; a failed wake ends with the phase it failed in. */
  phases: PhaseSpan[]
}

const min = (a?: number, b?: number) => a === undefined ? b : b === undefined ? a : Math.min(a, b)

/** Where each phase ends, for the phases this wake's backend has. */
function boundaries (m: WakeMarks): Array<[TimelinePhase, number | undefined]> {
  const t = m.timing ?? {}
  const queue: [TimelinePhase, number | undefined] = ['queue', min(m.answered, t.createdAt)]
  const health: [TimelinePhase, number | undefined] = ['health', m.healthy]
  // RUNNING as the backend dates it: detect is the lag until wakegate saw it.
  const detect: [TimelinePhase, number | undefined] = ['detect', t.startedAt === undefined ? undefined : m.seen]
  if (t.pullStartedAt !== undefined || t.pullStoppedAt !== undefined) {
    return [queue, ['placement', t.pullStartedAt], ['pull', t.pullStoppedAt], ['start', t.startedAt], detect, health]
  }
  // Local: listening as the backend's watch saw it, or as a probe found it, whichever came
  // first. Its status says running from the spawn on, so there is no lag to detect.
  if (t.createdAt !== undefined) {
    const listening = min(t.startedAt, m.connected)
    return [queue, ['start', listening], ['detect', listening], health]
  }
  // A backend that dates nothing: its start lasts until wakegate saw it running.
  return [queue, ['start', m.seen], health]
}

/**
 * The phases of a wake. Each boundary is kept between the previous one and the end (the
 * backend's clock may differ from ours); a phase without a boundary of its own is merged
 * into the next (an image ECS did not pull: placement and pull are part of start), or, when
 * nothing later is known, it is the one the wake ended in.
 */
export function phasesOf (m: WakeMarks): PhaseSpan[] {
  const list = boundaries(m)
  const out: PhaseSpan[] = []
  let at = m.asked
  for (let i = 0; i < list.length; i++) {
    const [phase, until] = list[i]
    if (until === undefined) {
      if (list.slice(i + 1).some(([, b]) => b !== undefined)) continue
      out.push({ phase, ms: Math.max(0, m.end - at) })
      break
    }
    const next = Math.min(m.end, Math.max(at, until))
    out.push({ phase, ms: next - at })
    at = next
  }
  return out
}

export function wakeTimeline (m: WakeMarks, about: { kind: 'wake' | 'redeploy', generation: number, sha: string, ok: boolean, code?: string }): WakeTimeline {
  const t: WakeTimeline = { kind: about.kind, generation: about.generation, sha: about.sha, at: m.asked, totalMs: Math.max(0, m.end - m.asked), ok: about.ok, phases: phasesOf(m) }
  if (about.code) t.code = about.code
  return t
}

/** The env view's form: the start as ISO time. */
export function timelineView (t: WakeTimeline) {
  return { ...t, at: new Date(t.at).toISOString() }
}

/** The phase a task still starting is in, from its status: what the waking page shows. */
export function liveStep (s: TaskStatus, backendKind: string): TimelinePhase {
  const t = s.timing ?? {}
  if (s.phase === 'pulling' || (t.pullStartedAt !== undefined && t.pullStoppedAt === undefined)) return 'pull'
  if (t.startedAt !== undefined) return 'detect'
  if (t.pullStoppedAt !== undefined) return 'start'
  return backendKind === 'ecs' ? 'placement' : 'start'
}

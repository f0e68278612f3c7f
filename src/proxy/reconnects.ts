// An env put to sleep (by an operator, a schedule or a policy) is not woken by what an open
// tab does by itself: a WebSocket reconnecting, an EventSource reconnecting, a dev server's
// ping. Those are answered 503 WAKEGATE_ENV_ASLEEP at the edge, without a wake; a page load
// or an API call wakes it as usual (and clears Env.sleptBy).
import type { Env, SleepBy } from '../lifecycle/env.js'
import type { ErrorInfo } from '../errors.js'

/** Retry-After of the refusal: nothing changes until someone opens the page. */
export const ASLEEP_RETRY_AFTER = 60

const BY: Record<Exclude<SleepBy, ''>, string> = {
  operator: 'put to sleep by an operator',
  schedule: 'put to sleep by its schedule',
  policy: 'put to sleep after it was left idle (or to make room, or abandoned)'
}

/** The refusal for a reconnect to `env`, or null when it may wake (or is not asleep). */
export function asleepRefusal (env: Env): ErrorInfo | null {
  const by = env.sleptBy
  if (by === '') return null
  const s = env.state
  // Stopping with a wake asked for: a page load came first, the reconnect is held as any request.
  if (s !== 'asleep' && !(s === 'stopping' && !env.m.wakeAfterStop)) return null
  return { code: 'WAKEGATE_ENV_ASLEEP', detail: `${BY[by]}; reload the page to start it again`, retryAfter: ASLEEP_RETRY_AFTER }
}

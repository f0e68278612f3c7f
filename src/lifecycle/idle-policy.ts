// The adaptive idle timeout (pure): from the gaps between an env's visits, the shortest
// timeout that keeps enough of them warm.
//
// Awake time grows with the timeout T and the share of visits that find the env asleep
// (gap > T) falls with it, so the cheapest T meeting the target is the smallest one. Gaps
// longer than `max` (nights, weekends) are cold under every allowed T: counting them against
// the target would make it unreachable and push T to `max` for nothing, and would make an env
// with many nights tolerate more cold daytime visits. So the target is a share of the visits
// a timeout within bounds could keep warm (gap ≤ max), and longer gaps count for neither side.

export interface AdaptiveIdle {
  /** Share (0 ≤ x < 1) of the visits with gap ≤ max that may land on a cold wake. */
  coldVisits: number
  /** Bounds of the timeout (ms). */
  min: number
  max: number
}

/**
 * Total weight of the app's pooled gaps beside an env's own (weight 1 each): a new PR follows
 * the app, and after this many visits of its own its history weighs as much as the app's.
 */
export const PRIOR_WEIGHT = 5

/**
 * The timeout (ms) for an env whose visits came after `own` gaps (ms), with `prior` the app's
 * pooled recent gaps. Without any gap: `fallback` (the fixed idleTimeout) within the bounds.
 */
export function adaptiveTimeout (own: ArrayLike<number>, prior: ArrayLike<number>, policy: AdaptiveIdle, fallback: number, priorWeight = PRIOR_WEIGHT): number {
  const clamp = (t: number) => Math.min(policy.max, Math.max(policy.min, t))
  if (own.length === 0 && prior.length === 0) return clamp(fallback)
  const each = prior.length ? priorWeight / prior.length : 0
  const short: Array<[gap: number, weight: number]> = []
  let total = 0
  const add = (gaps: ArrayLike<number>, w: number) => {
    for (let i = 0; i < gaps.length; i++) {
      if (gaps[i] > policy.max || w <= 0) continue
      short.push([gaps[i], w])
      total += w
    }
  }
  add(own, 1)
  add(prior, each)
  // Only gaps past max: no timeout within bounds keeps any visit warm.
  if (total === 0) return policy.min
  short.sort((a, b) => b[0] - a[0])
  // Longest first: leave as many cold as the target allows; the first that cannot be is covered.
  const allowed = policy.coldVisits * total * (1 + 1e-9)
  let cold = 0
  for (const [gap, w] of short) {
    if (cold + w > allowed) return clamp(gap + 1)
    cold += w
  }
  return policy.min
}

// Working time for generated traces: Monday–Friday 09:00–18:00 at one UTC offset. People's
// delays (a reviewer getting to a request, an author fixing a comment) pass in working time,
// so nights and weekends stay quiet and a request late on Friday is looked at on Monday.

export const HOUR = 3_600_000
export const MINUTE = 60_000
export const DAY = 24 * HOUR

export interface WorkWeek {
  /** ms of local midnight at the start of a Monday (local = UTC + offset). */
  monday: number
  /** Working hours, local: [from, to) in hours. */
  from: number
  to: number
}

export const WORK_HOURS = { from: 9, to: 18 }

/** Local day index since `monday` (0 = Monday) and ms into that day. */
function split (w: WorkWeek, t: number): { day: number, into: number } {
  const since = t - w.monday
  const day = Math.floor(since / DAY)
  return { day, into: since - day * DAY }
}

const weekday = (day: number) => ((day % 7) + 7) % 7 < 5

export function isWorkTime (w: WorkWeek, t: number): boolean {
  const { day, into } = split(w, t)
  return weekday(day) && into >= w.from * HOUR && into < w.to * HOUR
}

/** `t` if it is working time, else the start of the next working period. */
export function nextWorkTime (w: WorkWeek, t: number): number {
  const { into } = split(w, t)
  let { day } = split(w, t)
  if (weekday(day) && into >= w.from * HOUR && into < w.to * HOUR) return t
  if (weekday(day) && into < w.from * HOUR) return w.monday + day * DAY + w.from * HOUR
  do day++; while (!weekday(day))
  return w.monday + day * DAY + w.from * HOUR
}

/** `t` plus `ms` of working time (time outside working hours does not count). */
export function addWorkTime (w: WorkWeek, t: number, ms: number): number {
  let at = nextWorkTime(w, t)
  let left = ms
  for (;;) {
    const { day } = split(w, at)
    const end = w.monday + day * DAY + w.to * HOUR
    if (at + left < end) return at + left
    left -= end - at
    at = nextWorkTime(w, end)
  }
}

/** Working ms between `monday` and `t`, and its inverse: for drawing uniform working moments. */
export function workMsBefore (w: WorkWeek, t: number): number {
  let total = 0
  let at = nextWorkTime(w, w.monday)
  while (at < t) {
    const { day } = split(w, at)
    const end = Math.min(t, w.monday + day * DAY + w.to * HOUR)
    total += end - at
    at = nextWorkTime(w, w.monday + day * DAY + w.to * HOUR)
  }
  return total
}

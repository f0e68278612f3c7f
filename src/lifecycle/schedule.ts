// Office hours (pure): "Mon-Fri 08:00-19:00" ranges in a time zone, whether an instant lies
// inside them, and the next instant that changes the answer. Ranges are wall-clock times, read
// through Intl in the zone, so daylight-saving changes move the instants, not the hours.

export interface HoursRange {
  /** By weekday, 0 = Sunday: the range starts on this day. */
  days: boolean[]
  /** Minutes after local midnight; end ≤ start: the range runs past midnight into the next day. */
  start: number
  end: number
}

export interface OfficeHours {
  timeZone: string
  ranges: HoursRange[]
}

const DAYS = ['sun', 'mon', 'tue', 'wed', 'thu', 'fri', 'sat']
const RANGE = /^\s*(?:([A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?(?:\s*,\s*[A-Za-z]{3}(?:\s*-\s*[A-Za-z]{3})?)*)\s+)?(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$/

/** A valid IANA time zone name (Intl knows it), e.g. Europe/Berlin. */
export function validTimeZone (tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz })
    return true
  } catch {
    return false
  }
}

/**
 * "Mon-Fri 08:00-19:00", "Sat,Sun 10:00-14:00", "Fri-Mon 22:00-06:00" (past midnight), or
 * "09:00-17:00" (every day). A range's end belongs to the day it started on.
 */
export function parseRange (text: string): HoursRange | string {
  const m = RANGE.exec(text)
  if (!m) return `expected "Mon-Fri 08:00-19:00" (days optional, times HH:MM), got ${JSON.stringify(text)}`
  const days = new Array<boolean>(7).fill(!m[1])
  for (const part of (m[1] ?? '').split(',').filter(Boolean)) {
    const [a, b] = part.split('-').map(s => DAYS.indexOf(s.trim().toLowerCase()))
    if (a < 0 || b < 0) return `unknown day in ${JSON.stringify(part.trim())}: use Mon, Tue, Wed, Thu, Fri, Sat, Sun`
    for (let d = a; ; d = (d + 1) % 7) {
      days[d] = true
      if (b === undefined || d === b) break
    }
  }
  const start = Number(m[2]) * 60 + Number(m[3])
  const end = Number(m[4]) * 60 + Number(m[5])
  if (Number(m[3]) > 59 || Number(m[5]) > 59 || start >= 24 * 60 || end > 24 * 60) return `not a time of day in ${JSON.stringify(text)} (00:00 to 24:00)`
  if (start === end) return `empty range ${JSON.stringify(text)}: start and end are the same`
  return { days, start, end }
}

/** Compiled office hours, or the problems by index of the range. */
export function compileOfficeHours (timeZone: string, ranges: string[]): OfficeHours | Array<{ index: number, message: string }> {
  const out: HoursRange[] = []
  const problems: Array<{ index: number, message: string }> = []
  ranges.forEach((r, index) => {
    const p = parseRange(r)
    if (typeof p === 'string') problems.push({ index, message: p })
    else out.push(p)
  })
  return problems.length ? problems : { timeZone, ranges: out }
}

const formats = new Map<string, Intl.DateTimeFormat>()

/** Wall-clock date and time of `t` in the zone: weekday 0 = Sunday, minutes after midnight. */
export function wallClock (timeZone: string, t: number): { year: number, month: number, day: number, weekday: number, minutes: number } {
  let f = formats.get(timeZone)
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, hourCycle: 'h23', weekday: 'short', year: 'numeric', month: 'numeric', day: 'numeric', hour: 'numeric', minute: 'numeric' })
    formats.set(timeZone, f)
  }
  const p: Record<string, string> = {}
  for (const part of f.formatToParts(t)) p[part.type] = part.value
  return {
    year: Number(p.year), month: Number(p.month), day: Number(p.day),
    weekday: DAYS.indexOf(p.weekday.toLowerCase()),
    minutes: (Number(p.hour) % 24) * 60 + Number(p.minute)
  }
}

/** Whether `t` lies inside the office hours. */
export function isOpen (s: OfficeHours, t: number): boolean {
  const w = wallClock(s.timeZone, t)
  const yesterday = (w.weekday + 6) % 7
  for (const r of s.ranges) {
    if (r.end > r.start) {
      if (r.days[w.weekday] && w.minutes >= r.start && w.minutes < r.end) return true
    } else if ((r.days[w.weekday] && w.minutes >= r.start) || (r.days[yesterday] && w.minutes < r.end)) {
      return true
    }
  }
  return false
}

/** The instant of a wall-clock time in the zone (a time skipped by a DST change lands after the gap). */
function instantOf (timeZone: string, year: number, month: number, day: number, minutes: number): number {
  const asUtc = Date.UTC(year, month - 1, day, 0, minutes)
  const offset = (t: number) => {
    const w = wallClock(timeZone, t)
    return Date.UTC(w.year, w.month - 1, w.day, 0, w.minutes) - Math.floor(t / 60_000) * 60_000
  }
  const first = asUtc - offset(asUtc)
  return asUtc - offset(first)
}

const MINUTE = 60_000

/**
 * The first instant after `t` (whole minutes) at which isOpen changes; Infinity when it never
 * does (no ranges, or open around the clock).
 */
export function nextChange (s: OfficeHours, t: number): number {
  const now = isOpen(s, t)
  const w = wallClock(s.timeZone, t)
  const edges = new Set<number>()
  for (const r of s.ranges) { edges.add(r.start); edges.add(r.end) }
  const candidates: number[] = []
  for (let d = 0; d <= 8; d++) {
    for (const m of edges) {
      const c = instantOf(s.timeZone, w.year, w.month, w.day + d, m)
      if (c > t) candidates.push(c)
    }
  }
  candidates.sort((a, b) => a - b)
  let lo = Math.floor(t / MINUTE) * MINUTE
  for (const c of candidates) {
    if (isOpen(s, c) !== now) {
      // The answer is constant between edges; find the first changed minute before c (a
      // DST gap can move an edge's instant past the real change).
      let hi = c
      while (hi - lo > MINUTE) {
        const mid = lo + Math.floor((hi - lo) / MINUTE / 2) * MINUTE
        if (isOpen(s, mid) !== now) hi = mid
        else lo = mid
      }
      return hi
    }
    lo = c
  }
  return Infinity
}

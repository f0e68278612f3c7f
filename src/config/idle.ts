// apps[].idle and apps[].schedule: the checks the schema cannot express, and their resolved
// form (durations in ms, the share as a fraction, office hours compiled).
import type { AppInput } from './schema.js'
import { parseDuration } from './duration.js'
import { compileOfficeHours, validTimeZone, type OfficeHours } from '../lifecycle/schedule.js'

export interface IdleConfig {
  /** Share of visits (gap ≤ max) that may land on a cold wake, 0 ≤ x < 1. */
  coldVisits: number
  min: number
  max: number
  /** Activity after this long without any is a new visit. */
  visitGap: number
}

export interface ScheduleConfig {
  timeZone: string
  officeHours: string[]
  hours: OfficeHours
  outsideIdleTimeout: number
}

type Problem = { path: string, message: string }

/** "5%" or 0.05 → 0.05; undefined when it is neither. */
export function parseShare (v: number | string): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? v : undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*%\s*$/.exec(v)
  return m ? Number(m[1]) / 100 : undefined
}

export function idleProblems (app: AppInput, i: number): Problem[] {
  const problems: Problem[] = []
  if (app.idle) {
    const at = `apps[${i}].idle`
    const share = parseShare(app.idle.target.coldVisits)
    if (share === undefined || share < 0 || share >= 1) {
      problems.push({ path: `${at}.target.coldVisits`, message: `expected a share such as "5%" or 0.05, at least 0 and below 100%, got ${JSON.stringify(app.idle.target.coldVisits)}` })
    }
    const min = parseDuration(app.idle.min)
    const max = parseDuration(app.idle.max)
    if (min <= 0) problems.push({ path: `${at}.min`, message: 'must be more than 0' })
    if (min > max) problems.push({ path: `${at}.min`, message: `must not be more than max (${app.idle.max})` })
    if (parseDuration(app.idle.visitGap) > min) problems.push({ path: `${at}.visitGap`, message: `must not be more than min (${app.idle.min}): visits after a shorter gap would go unseen` })
  }
  if (app.schedule) {
    const at = `apps[${i}].schedule`
    if (!validTimeZone(app.schedule.timeZone)) problems.push({ path: `${at}.timeZone`, message: `unknown time zone ${JSON.stringify(app.schedule.timeZone)}: use an IANA name such as Europe/Berlin or UTC` })
    const hours = compileOfficeHours('UTC', app.schedule.officeHours)
    if (Array.isArray(hours)) for (const p of hours) problems.push({ path: `${at}.officeHours[${p.index}]`, message: p.message })
    if (parseDuration(app.schedule.outsideIdleTimeout) <= 0) problems.push({ path: `${at}.outsideIdleTimeout`, message: 'must be more than 0' })
  }
  return problems
}

/** Resolved `idle` (call after idleProblems found none). */
export function resolveIdle (app: AppInput): IdleConfig | undefined {
  if (!app.idle) return undefined
  return {
    coldVisits: parseShare(app.idle.target.coldVisits)!,
    min: parseDuration(app.idle.min),
    max: parseDuration(app.idle.max),
    visitGap: parseDuration(app.idle.visitGap)
  }
}

/** Resolved `schedule` (call after idleProblems found none). */
export function resolveSchedule (app: AppInput): ScheduleConfig | undefined {
  if (!app.schedule) return undefined
  const { timeZone, officeHours } = app.schedule
  return { timeZone, officeHours, hours: compileOfficeHours(timeZone, officeHours) as OfficeHours, outsideIdleTimeout: parseDuration(app.schedule.outsideIdleTimeout) }
}

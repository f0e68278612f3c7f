// The time one env's tasks ran and the time it would have run always on, kept in its meta
// (written to the store with its record), so a restart or a new leader carries on where the
// last one stopped. Pure: the clock and the process start are passed in.
//
// meta.runMs    task time of closed periods (ms; two tasks side by side count twice)
// meta.runSince start of the open period, while the env has tasks
// meta.runTasks tasks during the open period
// meta.openMs   always-on time of earlier open periods of the PR (closed, then reopened)
// meta.openedAt start of the current open period (default: the env's createdAt)
// meta.closedAt when the PR was closed (the env destroyed)
import type { Env } from '../lifecycle/env.js'

export type Meta = Env['meta']

const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN
  return Number.isFinite(n) ? n : undefined
}

/**
 * Tasks an env has now: its current task while waking, running or stopping, a redeploy's
 * pending task beside it, and old generations still draining.
 */
export function tasksOf (env: Pick<Env, 'state' | 'm' | 'draining'>): number {
  const current = env.state === 'waking' || env.state === 'running' || env.state === 'stopping' ? 1 : 0
  return current + (env.m.pending ? 1 : 0) + env.draining.size
}

/** End of the open period for a reading at `now`: one an earlier process left open ends when this one started. */
function periodEnd (from: number, now: number, processStart: number): number {
  return from < processStart ? processStart : now
}

/** Closes the open period at `now` and opens one for `tasks` tasks (none: no period). */
export function accountRun (meta: Meta, tasks: number, now: number, processStart: number): void {
  const from = num(meta.runSince)
  if (from !== undefined) {
    const ran = Math.max(0, periodEnd(from, now, processStart) - from) * (num(meta.runTasks) ?? 1)
    meta.runMs = (num(meta.runMs) ?? 0) + ran
  }
  if (tasks > 0) {
    meta.runSince = now
    meta.runTasks = tasks
  } else {
    delete meta.runSince
    delete meta.runTasks
  }
}

/** Task time so far, the open period included. */
export function runningMs (meta: Meta, now: number, processStart: number): number {
  const closed = num(meta.runMs) ?? 0
  const from = num(meta.runSince)
  if (from === undefined) return closed
  return closed + Math.max(0, periodEnd(from, now, processStart) - from) * (num(meta.runTasks) ?? 1)
}

/** Follows the PR being open: closed when the env is destroyed, open again when it is revived. */
export function accountOpen (meta: Meta, destroyed: boolean, createdAt: number, now: number): void {
  const closedAt = num(meta.closedAt)
  if (destroyed) {
    if (closedAt !== undefined) return
    meta.openMs = (num(meta.openMs) ?? 0) + Math.max(0, now - (num(meta.openedAt) ?? createdAt))
    meta.closedAt = now
    delete meta.openedAt
  } else if (closedAt !== undefined) {
    delete meta.closedAt
    meta.openedAt = now
  } else if (num(meta.openedAt) === undefined) {
    meta.openedAt = createdAt
  }
}

/** How long one task would have run had the env been always on while its PR was open. */
export function alwaysOnMs (meta: Meta, createdAt: number, now: number): number {
  const closed = num(meta.openMs) ?? 0
  if (num(meta.closedAt) !== undefined) return closed
  return closed + Math.max(0, now - (num(meta.openedAt) ?? createdAt))
}

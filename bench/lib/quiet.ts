// This machine may be shared: before each measured run, wait (bounded) until the CPUs are
// idle, so another job's burst does not land in one side of an A/B comparison.
import { readFileSync } from 'node:fs'
import { sleep } from './proc.js'

function cpuTimes (): { busy: number, total: number } {
  const f = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number)
  const idle = f[3] + (f[4] ?? 0)
  const total = f.reduce((a, b) => a + b, 0)
  return { busy: total - idle, total }
}

/** Busy share of all CPUs over `ms` (0..1). */
export async function busyShare (ms = 500): Promise<number> {
  try {
    const a = cpuTimes()
    await sleep(ms)
    const b = cpuTimes()
    return (b.busy - a.busy) / Math.max(1, b.total - a.total)
  } catch {
    return 0
  }
}

export const quietStats = { waits: 0, waitedMs: 0, noisyRuns: 0 }

/**
 * Waits until the machine is quiet (busy < `threshold` over half a second), at most
 * `maxWait` ms. Returns false if it never got quiet (the run goes ahead, counted as noisy).
 */
export async function waitQuiet (threshold = 0.12, maxWait = 60_000): Promise<boolean> {
  const started = Date.now()
  for (;;) {
    if (await busyShare() < threshold) {
      const waited = Date.now() - started
      if (waited > 600) { quietStats.waits++; quietStats.waitedMs += waited }
      return true
    }
    if (Date.now() - started > maxWait) { quietStats.noisyRuns++; return false }
    await sleep(1000)
  }
}

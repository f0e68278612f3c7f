// This machine may be shared: before each measured run, wait (bounded) until the CPUs are
// idle, so another job's burst does not land in one side of an A/B comparison.
import { readFileSync } from 'node:fs'
import { ourChildrenCpuMs, sleep } from './proc.js'

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

/** Busy CPU time of the whole machine so far (ms, all CPUs). */
function machineBusyMs (): number {
  try {
    return cpuTimes().busy * 10 // USER_HZ = 100
  } catch {
    return 0
  }
}

function selfCpuMs (): number {
  const u = process.cpuUsage()
  return (u.user + u.system) / 1000
}

export const noiseStats = { repeated: 0, kept: 0 }

/**
 * Runs one measurement and checks how much CPU processes other than ours (servers under
 * test, load generator, this runner) used meanwhile; a run disturbed by more than
 * `limit` of a CPU is repeated (at most twice). Returns the result and that share.
 */
export async function undisturbed<T extends object> (seconds: number, run: () => Promise<T>, log: (s: string) => void, limit = 0.15): Promise<T & { noise: number }> {
  let last: T & { noise: number } | undefined
  for (let attempt = 1; attempt <= 3; attempt++) {
    await waitQuiet()
    const busy0 = machineBusyMs()
    const ours0 = ourChildrenCpuMs() + selfCpuMs()
    const t0 = Date.now()
    const result = await run()
    const elapsed = Math.max(1, Date.now() - t0)
    const others = (machineBusyMs() - busy0) - (ourChildrenCpuMs() + selfCpuMs() - ours0) - ((result as { loaderCpuMs?: number }).loaderCpuMs ?? 0)
    const noise = Math.max(0, others / elapsed)
    last = { ...result, noise }
    if (noise <= limit || attempt === 3) {
      if (noise > limit) noiseStats.kept++
      return last
    }
    noiseStats.repeated++
    log(`  (other processes used ${(noise * 100).toFixed(0)}% of a CPU during that ${seconds} s run: repeating it)`)
  }
  return last!
}

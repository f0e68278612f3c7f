// One simulation: a trace (generated or given), every policy replayed against it from a
// fresh manager, and the report.
import { DEFAULT_CURRENCY, DEFAULT_PRICES, PRICE_KEY, type Capacity, type TaskSize } from '../cost/prices.js'
import { DEFAULT_INSTANCES } from './backend.js'
import { generateTrace } from './generate.js'
import { defaultPhaseModel, type PhaseModel } from './phases.js'
import { POLICIES, type Policy } from './policies.js'
import { replay, type RunResult } from './replay.js'
import { buildReport, type Report } from './report.js'
import type { Trace } from './trace.js'

/** A small review task: 0.5 vCPU and 1 GB, on EC2 on-demand capacity. */
export const DEFAULT_SIZE: TaskSize = { vcpu: 0.5, memoryGb: 1 }
export const DEFAULT_CAPACITY: Capacity = 'ec2'

export interface SimulateOptions {
  seed: number
  /** Generated trace's size (ignored with `trace`). */
  prs?: number
  days?: number
  trace?: Trace
  phases?: PhaseModel
  instances?: number
  capacity?: Capacity
  size?: TaskSize
  policies?: Policy[]
  /** Told before each policy runs (progress on stderr). */
  onPolicy?: (p: Policy) => void
}

export async function simulate (opts: SimulateOptions): Promise<{ trace: Trace, report: Report, runs: RunResult[] }> {
  const trace = opts.trace ?? generateTrace({ seed: opts.seed, prs: opts.prs, days: opts.days })
  const phases = opts.phases ?? defaultPhaseModel()
  const instances = opts.instances ?? DEFAULT_INSTANCES
  const capacity = opts.capacity ?? DEFAULT_CAPACITY
  const cost = { capacity, size: opts.size ?? DEFAULT_SIZE, price: DEFAULT_PRICES[PRICE_KEY[capacity]], currency: DEFAULT_CURRENCY }
  const runs: RunResult[] = []
  for (const p of opts.policies ?? POLICIES) {
    opts.onPolicy?.(p)
    runs.push(await replay(trace, p, { seed: opts.seed, phases, instances }))
  }
  return { trace, report: buildReport(opts.seed, trace, phases.source, instances, cost, runs), runs }
}

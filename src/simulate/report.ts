// From runs to the report: per policy task-hours, cost, cold visits and reviewer waits, the
// comparison with always-on, and the issue's targets judged one by one, met or not.
import { costOf, type Price, type TaskSize } from '../cost/prices.js'
import type { RunResult } from './replay.js'
import { traceSummary, type Trace } from './trace.js'

export interface PolicyReport {
  id: string
  label: string
  taskHours: number
  /** Task-hours as a share of always-on's (1 = as many). */
  ofAlwaysOn: number | null
  cost: number
  visits: number
  coldVisits: number
  /** Cold visits by what came before them (see VisitOutcome.after). */
  coldAfter: { first: number, signal: number, gap: number }
  coldShare: number
  failedVisits: number
  /** Reviewer wait per visit (0 when warm), ms. */
  waitP50Ms: number
  waitP95Ms: number
  /** The same over cold visits only: how long a cold wake makes a reviewer wait. */
  coldWaitP50Ms: number | null
  coldWaitP95Ms: number | null
  pageViews: number
  coldPageViews: number
  closedViews: number
  starts: number
  pulls: number
  warmups: { signals: number, warmUps: number, starts: number, used: number, wasted: number } | null
}

export interface Target { id: string, text: string, /** For the chart. */ short: string, met: boolean, detail: string }

export interface CostBasis { capacity: string, size: TaskSize, price: Price, currency: string }

export interface Report {
  seed: number
  trace: { source: string, start: string, end: string } & ReturnType<typeof traceSummary>
  phases: string
  instances: number
  cost: CostBasis
  policies: PolicyReport[]
  targets: Target[]
}

const round = (x: number, digits: number) => Math.round(x * 10 ** digits) / 10 ** digits

/** Nearest-rank percentile of `xs` (0 for none). */
export function percentile (xs: number[], p: number): number {
  if (xs.length === 0) return 0
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil(p * s.length) - 1))]
}

export function policyReport (r: RunResult, cost: CostBasis, alwaysOnMs: number | undefined): PolicyReport {
  const visits = r.visits.filter(v => !v.failed)
  const cold = visits.filter(v => v.cold)
  const waits = visits.map(v => v.waitMs)
  return {
    id: r.policy.id,
    label: r.policy.label,
    taskHours: round(r.taskMs / 3_600_000, 2),
    ofAlwaysOn: alwaysOnMs ? round(r.taskMs / alwaysOnMs, 4) : null,
    cost: round(costOf(r.taskMs, cost.size, cost.price), 2),
    visits: visits.length,
    coldVisits: cold.length,
    coldAfter: { first: cold.filter(v => v.after === 'first').length, signal: cold.filter(v => v.after === 'signal').length, gap: cold.filter(v => v.after === 'gap').length },
    coldShare: visits.length ? round(cold.length / visits.length, 4) : 0,
    failedVisits: r.visits.length - visits.length,
    waitP50Ms: percentile(waits, 0.5),
    waitP95Ms: percentile(waits, 0.95),
    coldWaitP50Ms: cold.length ? percentile(cold.map(v => v.waitMs), 0.5) : null,
    coldWaitP95Ms: cold.length ? percentile(cold.map(v => v.waitMs), 0.95) : null,
    pageViews: r.pageViews,
    coldPageViews: r.coldPageViews,
    closedViews: r.closedViews,
    starts: r.starts,
    pulls: r.pulls,
    warmups: r.warmups ?? null
  }
}

const pct = (x: number) => `${round(x * 100, 1)}%`

/**
 * The issue's targets for the default week, judged for adaptive + warm-up. "The best fixed
 * timeout" is the one that meets the cold-visit target with the fewest task-hours, or, when
 * none meets it, the one with the fewest cold visits; beating it means fewer task-hours and a
 * lower cold share at once. The detail compares with every fixed timeout as well.
 */
export function judgeTargets (policies: PolicyReport[]): Target[] {
  const aw = policies.find(p => p.id === 'adaptive-warmup')
  const always = policies.find(p => p.id === 'always-on')
  const fixed = policies.filter(p => p.id.startsWith('fixed-'))
  if (!aw) return []
  const out: Target[] = []
  if (always && aw.ofAlwaysOn !== null) {
    const saving = 1 - aw.ofAlwaysOn
    out.push({ id: 'task-hours', text: '≥ 90% fewer task-hours than always-on', short: '≥ 90% fewer task-hours than always-on', met: saving >= 0.9, detail: `${aw.label}: ${pct(saving)} fewer (${aw.taskHours} h vs ${always.taskHours} h)` })
  }
  out.push({ id: 'cold-visits', text: '≤ 5% of visits land on a cold wake', short: '≤ 5% of visits on a cold wake', met: aw.coldShare <= 0.05, detail: `${aw.label}: ${pct(aw.coldShare)} (${aw.coldVisits} of ${aw.visits} visits)` })
  if (fixed.length) {
    const meeting = fixed.filter(p => p.coldShare <= 0.05).sort((a, b) => a.taskHours - b.taskHours)
    const best = meeting[0] ?? [...fixed].sort((a, b) => a.coldShare - b.coldShare || a.taskHours - b.taskHours)[0]
    const why = meeting.length ? 'the fewest task-hours among those within 5% cold' : 'the fewest cold visits; none is within 5% cold'
    const vs = fixed.map(p => `${p.label}: ${signed(aw.taskHours - p.taskHours, ' h')}, ${signed((aw.coldShare - p.coldShare) * 100, ' pts cold')}`).join('; ')
    out.push({
      id: 'beats-best-fixed',
      text: 'adaptive + warm-up beats the best fixed timeout on task-hours and cold visits at once',
      short: `beats the best fixed timeout (${best.label}) on both`,
      met: aw.taskHours < best.taskHours && aw.coldShare < best.coldShare,
      detail: `best fixed: ${best.label} (${why}): ${best.taskHours} h, ${pct(best.coldShare)} cold. ${aw.label} vs each — ${vs}`
    })
  }
  return out
}

function signed (x: number, unit: string): string {
  const r = round(x, 1)
  return `${r > 0 ? '+' : r < 0 ? '−' : '±'}${Math.abs(r)}${unit}`
}

export function buildReport (seed: number, trace: Trace, phases: string, instances: number, cost: CostBasis, runs: RunResult[]): Report {
  const alwaysOn = runs.find(r => r.policy.kind === 'always-on')?.taskMs
  const policies = runs.map(r => policyReport(r, cost, alwaysOn))
  return {
    seed,
    trace: { source: trace.source, start: new Date(trace.start).toISOString(), end: new Date(trace.end).toISOString(), ...traceSummary(trace) },
    phases,
    instances,
    cost,
    policies,
    targets: judgeTargets(policies)
  }
}

const secs = (ms: number | null) => ms === null ? '–' : ms < 10_000 ? `${round(ms / 1000, 1)} s` : `${Math.round(ms / 1000)} s`

/** The report as a Markdown table and lines of text (stdout and report.md). */
export function reportMarkdown (r: Report): string {
  const money = (x: number) => `${r.cost.currency === 'USD' ? '$' : ''}${x.toFixed(2)}${r.cost.currency === 'USD' ? '' : ` ${r.cost.currency}`}`
  const visitsLine = r.policies[0] ? `${r.policies[0].visits} visits` : ''
  const lines = [
    `# wakegate simulate — seed ${r.seed}`,
    '',
    `Trace: ${r.trace.source} (${r.trace.start} → ${r.trace.end}): ${r.trace.prs} PRs, ${r.trace.pageViews} page views in ${visitsLine}, ${r.trace.pushes} pushes, ${r.trace.reviewRequests} review requests, ${r.trace.comments} comments mentioning the env.`,
    `Start phases: ${r.phases}; ${r.instances} container instances. Cost: ${r.cost.size.vcpu} vCPU / ${r.cost.size.memoryGb} GB on ${r.cost.capacity} (${r.cost.price.vcpuHour} per vCPU-hour, ${r.cost.price.gbHour} per GB-hour, ${r.cost.currency}).`,
    '',
    '| policy | task-hours | of always-on | cost | visits | cold visits | cold share | p50 wait | p95 wait | p95 cold wait | starts | warm-ups used/wasted |',
    '|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|',
    ...r.policies.map(p => `| ${p.label} | ${p.taskHours.toFixed(1)} | ${p.ofAlwaysOn === null ? '–' : pct(p.ofAlwaysOn)} | ${money(p.cost)} | ${p.visits} | ${p.coldVisits} | ${pct(p.coldShare)} | ${secs(p.waitP50Ms)} | ${secs(p.waitP95Ms)} | ${secs(p.coldWaitP95Ms)} | ${p.starts} | ${p.warmups ? `${p.warmups.used}/${p.warmups.wasted}` : '–'} |`),
    '',
    'Cold visits by what came before them — the PR\'s first visit / a push, review request or comment since its previous visit / only a quiet gap:',
    ...r.policies.filter(p => p.coldVisits > 0).map(p => `- ${p.label}: ${p.coldAfter.first} / ${p.coldAfter.signal} / ${p.coldAfter.gap}`),
    '',
    'Targets (adaptive + warm-up):',
    ...r.targets.map(t => `- ${t.met ? 'MET' : 'NOT MET'}: ${t.text} — ${t.detail}`)
  ]
  const failed = r.policies.filter(p => p.failedVisits > 0)
  if (failed.length) lines.push('', `Visits whose wake failed (not counted above): ${failed.map(p => `${p.label} ${p.failedVisits}`).join(', ')}`)
  return lines.join('\n') + '\n'
}

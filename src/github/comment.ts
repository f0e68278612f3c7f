// The body of the one PR comment per env (pure). A hidden marker names the env, so the
// comment is found again after a restart and edited instead of posted twice.
import { formatDuration } from '../config/duration.js'
import { formatMoney, formatSpan } from '../cost/format.js'

export function marker (key: string): string {
  return `<!-- wakegate:env=${key} -->`
}

export interface CommentView {
  key: string
  app: string
  url: string
  /** Env state, or undefined when the env does not exist (yet). */
  state?: string
  /** SHA the env should run (the PR head it knows). */
  sha?: string
  /** SHA the current task runs (or last ran). */
  runningSha?: string
  /** What new requests are routed to: the generation and SHA serving now, if any. */
  serving?: { sha: string, generation: number }
  reason?: string
  lastWakeMs?: number
  lastWakeAt?: number
  typicalWake?: number
  idleTimeout: number
  /** How the environment goes to sleep when not simply after idleTimeout (adaptive, office hours, kept awake). */
  idle?: IdleNote
  stale?: { days: number }
  waitingCi?: { sha: string, failed: boolean }
  redeployFailed?: { sha: string, reason: string }
  /** The env was removed because a policy no longer admits the PR. */
  removed?: string
  /** Task time and its cost beside always-on since the PR opened; only when the task size and price are known. */
  cost?: { runningMs: number, amount: number, alwaysOnMs: number, alwaysOnAmount: number, currency: string }
}

/** The idle policy in a PR comment's words. */
export interface IdleNote {
  /** The timeout inside office hours now (ms). */
  timeoutMs: number
  /** Adaptive: the bounds the timeout is chosen within. */
  adaptive?: { min: number, max: number }
  /** Office hours as written, e.g. "Mon-Fri 08:00-19:00 (Europe/Berlin)", and the timeout outside them. */
  officeHours?: { text: string, outsideMs: number }
  keepAwakeUntil?: number
}

const short = (sha: string | undefined) => sha ? sha.slice(0, 7) : '—'
const at = (ms: number) => new Date(ms).toISOString().replace(/\.\d+Z$/, 'Z').replace('T', ' ')

/** Text from tasks and backends goes into a code span: no markdown, no HTML, one line. */
function code (text: string, max = 300): string {
  const one = text.replace(/\s+/g, ' ').replace(/`/g, "'").trim()
  return '`' + (one.length > max ? one.slice(0, max - 1) + '…' : one) + '`'
}

/** "sleeps after 15 min without traffic", or what the adaptive policy, office hours and a keep-awake make of it. */
function sleeps (v: CommentView): string {
  const n = v.idle
  let text = n?.adaptive
    ? `sleeps after a quiet time learned from its visits (now ${formatDuration(n.timeoutMs)}, within ${formatDuration(n.adaptive.min)} to ${formatDuration(n.adaptive.max)})`
    : `sleeps after ${formatDuration(n?.timeoutMs ?? v.idleTimeout)} without traffic`
  if (n?.officeHours) text += `; outside office hours (${n.officeHours.text}) it goes to sleep when they end and after ${formatDuration(n.officeHours.outsideMs)} without traffic`
  if (n?.keepAwakeUntil) text += `; it is kept awake until ${at(n.keepAwakeUntil)}`
  return text
}

/** "Ran 3 h 12 min so far, $0.15 (always on since the PR opened: 2 d 4 h, $2.41)"; nothing before the first run. */
function costLine (v: CommentView): string | undefined {
  const c = v.cost
  if (!c || c.runningMs <= 0) return undefined
  const ran = `${formatSpan(c.runningMs)}${v.state === 'destroyed' ? '' : ' so far'}, ${formatMoney(c.amount, c.currency)}`
  const always = `${v.state === 'destroyed' ? 'while the PR was open' : 'since the PR opened'}: ${formatSpan(c.alwaysOnMs)}, ${formatMoney(c.alwaysOnAmount, c.currency)}`
  return `Ran ${ran} (always on ${always}).`
}

function headline (v: CommentView): string {
  if (v.removed) return `No environment: ${v.removed}.`
  if (v.state === 'destroyed') return 'The PR is closed; its environment was removed.'
  if (v.waitingCi && v.state === undefined) {
    return v.waitingCi.failed
      ? `CI failed on \`${short(v.waitingCi.sha)}\`; nothing is deployed. A push or a re-run that passes deploys it.`
      : `Waiting for CI on \`${short(v.waitingCi.sha)}\`; the environment starts when the checks pass.`
  }
  if (v.stale) return `Stale: no request and no push for ${v.stale.days} days, so it was put to sleep. Opening the link starts it again.`
  switch (v.state) {
    case 'running': return `Running \`${short(v.serving?.sha ?? v.runningSha)}\`.`
    case 'waking': return `Starting \`${short(v.sha)}\`…`
    case 'stopping': return 'Going to sleep.'
    case 'failed': return `Failed to start \`${short(v.sha)}\`: ${code(v.reason ?? 'unknown reason')}. The next request retries.`
    default: {
      const typical = v.typicalWake ? ` (about ${formatDuration(v.typicalWake)})` : ''
      return `Asleep. Opening the link starts it${typical}.`
    }
  }
}

export function renderComment (v: CommentView): string {
  const lines = [marker(v.key), `### Review environment · ${v.app}`, '', `**${v.url}**`, '', headline(v), '']
  const cost = v.removed ? undefined : costLine(v)
  // A closed PR's comment keeps its final tally.
  if (cost && v.state === 'destroyed') lines.push(cost, '')
  if (!v.removed && v.state !== 'destroyed' && v.state !== undefined) {
    lines.push('| | |', '|---|---|', `| State | ${v.stale ? 'stale, asleep' : v.state} |`)
    if (v.serving) lines.push(`| Serving | \`${short(v.serving.sha)}\` (generation ${v.serving.generation}) |`)
    // A SHA whose redeploy just failed is reported below, not announced as the next deploy.
    if (v.sha && v.sha !== v.runningSha && v.sha !== '0000000' && v.sha !== v.redeployFailed?.sha) lines.push(`| Next deploy | \`${short(v.sha)}\` |`)
    if (v.lastWakeAt) lines.push(`| Last wake | ${at(v.lastWakeAt)}${v.lastWakeMs ? `, took ${formatDuration(v.lastWakeMs)}` : ''} |`)
    lines.push('')
    if (cost) lines.push(cost, '')
    if (v.waitingCi) {
      lines.push(v.waitingCi.failed
        ? `CI failed on \`${short(v.waitingCi.sha)}\`; it is not deployed.`
        : `Waiting for CI on \`${short(v.waitingCi.sha)}\` before deploying it.`, '')
    }
    if (v.redeployFailed) {
      const still = v.serving ? `Generation ${v.serving.generation} (\`${short(v.serving.sha)}\`) keeps serving.` : 'The previous version keeps serving.'
      lines.push(`Redeploy of \`${short(v.redeployFailed.sha)}\` failed: ${code(v.redeployFailed.reason)}. ${still}`, '')
    }
    lines.push(`<sub>The environment starts on the first request and ${sleeps(v)}. This comment is kept up to date by wakegate.</sub>`)
  }
  return lines.join('\n') + '\n'
}

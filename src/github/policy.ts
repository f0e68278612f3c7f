// Pure decisions of the GitHub integration: may this PR have an environment, what the CI
// says, whether an env is abandoned. No I/O.
import type { AppPolicy } from './config.js'

/** What the policies look at, taken from a webhook payload or `pulls.get`. */
export interface PrFacts {
  state: 'open' | 'closed'
  draft: boolean
  labels: string[]
  /** The head branch lives in another repository (or a deleted one). */
  fork: boolean
  author: string
  /** Teams (org/slug, lower case) of allowAuthors the author belongs to; filled when asked. */
  teams?: string[]
}

export type Admission = { ok: true } | { ok: false, reason: string }

export function admit (policy: AppPolicy, pr: PrFacts): Admission {
  if (pr.state !== 'open') return { ok: false, reason: 'the PR is closed' }
  if (policy.skipDrafts && pr.draft) return { ok: false, reason: 'draft PR (skipDrafts)' }
  if (policy.requireLabel && !pr.labels.some(l => l.toLowerCase() === policy.requireLabel!.toLowerCase())) {
    return { ok: false, reason: `the PR lacks the label "${policy.requireLabel}"` }
  }
  if (pr.fork && !policy.allowForks) return { ok: false, reason: 'PR from a fork (allowForks is off)' }
  if (policy.allowAuthors && !authorAllowed(policy.allowAuthors, pr.author, pr.teams ?? [])) {
    return { ok: false, reason: `author ${pr.author} is not in allowAuthors` }
  }
  return { ok: true }
}

/** Entries with a slash are teams (org/team-slug); the others are logins. */
export function teamsOf (allowAuthors: string[] | undefined): string[] {
  return (allowAuthors ?? []).filter(a => a.includes('/')).map(a => a.toLowerCase())
}

function authorAllowed (allow: string[], author: string, teams: string[]): boolean {
  const login = author.toLowerCase()
  return allow.some(a => a.includes('/') ? teams.includes(a.toLowerCase()) : a.toLowerCase() === login)
}

/** Whether checking team membership could change the answer (saves API calls). */
export function needsTeams (policy: AppPolicy, author: string): boolean {
  const allow = policy.allowAuthors
  if (!allow) return false
  if (allow.some(a => !a.includes('/') && a.toLowerCase() === author.toLowerCase())) return false
  return teamsOf(allow).length > 0
}

// maxRunning is enforced by the lifecycle for every app (lifecycle/capacity.ts), GitHub or not.
export { evictions, type RunningEnv } from '../lifecycle/capacity.js'

export interface CheckSuite { status: string | null, conclusion: string | null, latest_check_runs_count?: number }
export type CiVerdict = 'success' | 'failure' | 'pending'

const GOOD = new Set(['success', 'neutral', 'skipped'])

/**
 * Head SHA verdict from its check suites and its combined commit status. Suites with no
 * check runs (apps installed on the repo that never run anything) do not count; with no
 * signal at all the verdict stays pending.
 */
export function ciVerdict (suites: CheckSuite[], combined: { state: string, total_count: number }): CiVerdict {
  const real = suites.filter(s => (s.latest_check_runs_count ?? 1) > 0)
  if (real.some(s => s.status === 'completed' && s.conclusion !== null && !GOOD.has(s.conclusion))) return 'failure'
  if (combined.total_count > 0 && (combined.state === 'failure' || combined.state === 'error')) return 'failure'
  if (real.length === 0 && combined.total_count === 0) return 'pending'
  if (real.some(s => s.status !== 'completed')) return 'pending'
  if (combined.total_count > 0 && combined.state !== 'success') return 'pending'
  return 'success'
}

/** No request and no push for ttlDays. */
export function abandoned (lastActivity: number, now: number, ttlDays: number | undefined): boolean {
  return ttlDays !== undefined && now - lastActivity >= ttlDays * 86_400_000
}

/** The fields of a pull request the integration reads (webhook and REST shapes agree). */
export interface PullLike {
  number: number
  state: string
  draft?: boolean
  title: string
  user: { login: string } | null
  labels: Array<{ name?: string }>
  head: { ref: string, sha: string, repo: { full_name: string } | null }
  base: { repo: { full_name: string } }
}

export function prFacts (pr: PullLike): PrFacts {
  return {
    state: pr.state === 'open' ? 'open' : 'closed',
    draft: pr.draft === true,
    labels: pr.labels.map(l => l.name ?? '').filter(Boolean),
    fork: pr.head.repo === null || pr.head.repo.full_name.toLowerCase() !== pr.base.repo.full_name.toLowerCase(),
    author: pr.user?.login ?? ''
  }
}

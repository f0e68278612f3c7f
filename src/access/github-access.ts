// May this GitHub login open this app's environments? Asked with wakegate's own GitHub
// credentials (the user's token is not kept): the user's role on the app's repo, their
// organisation and team memberships. Answers are cached for checkTtl, so a revoked reader
// loses access within it, and a signed-in reviewer costs no API call per request.
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import type { GithubClient, Octokit } from '../github/client.js'
import { statusOf, unavailable } from '../github/client.js'

export interface GithubRule {
  /** Cache key of the rule (its app). */
  id: string
  /** The repo whose permission counts, and whose installation answers the org/team questions. */
  repo: string | undefined
  /** For an organisation other than the repo's: a repo of it whose installation answers about it (lower-case org → repo). */
  orgRepos?: Map<string, string>
  permission: Role | undefined
  orgs: string[]
  teams: string[]
  users: string[]
}

export const ROLES = ['read', 'triage', 'write', 'maintain', 'admin'] as const
export type Role = typeof ROLES[number]

/** role_name, or for a custom role the legacy permission it is based on. */
function roleRank (roleName: string | undefined, permission: string | undefined): number {
  const i = ROLES.indexOf(roleName as Role)
  if (i >= 0) return i
  return permission === 'admin' ? 4 : permission === 'write' ? 2 : permission === 'read' ? 0 : -1
}

export class AccessCheckError extends Error {}

export class GithubAccess {
  private readonly verdicts: LRUCache<string, boolean>
  private readonly inflight = new Map<string, Promise<boolean>>()
  calls = 0

  constructor (private readonly client: GithubClient, private readonly log: Logger, ttl: number) {
    this.verdicts = new LRUCache({ max: 20_000, ttl: Math.max(1_000, ttl) })
  }

  /** The cached verdict, or undefined when GitHub must be asked. */
  known (login: string, rule: GithubRule): boolean | undefined {
    return this.verdicts.get(`${rule.id}:${login.toLowerCase()}`)
  }

  /** Ask GitHub (once for concurrent callers); rejects with AccessCheckError when it cannot answer. */
  check (login: string, rule: GithubRule): Promise<boolean> {
    const key = `${rule.id}:${login.toLowerCase()}`
    let p = this.inflight.get(key)
    if (p === undefined) {
      p = this.ask(login, rule).then(ok => {
        this.verdicts.set(key, ok)
        return ok
      }).finally(() => this.inflight.delete(key))
      this.inflight.set(key, p)
    }
    return p
  }

  private async ask (login: string, rule: GithubRule): Promise<boolean> {
    const lower = login.toLowerCase()
    if (rule.users.some(u => u.toLowerCase() === lower)) return true
    // One client per installation repo: an organisation is asked about through a repo of its own.
    const clients = new Map<string, Promise<Octokit | undefined>>()
    const clientFor = (org?: string): Promise<Octokit | undefined> => {
      const repo = (org !== undefined ? rule.orgRepos?.get(org.toLowerCase()) : undefined) ?? rule.repo
      if (repo === undefined) return Promise.resolve(undefined)
      let c = clients.get(repo)
      if (c === undefined) clients.set(repo, c = this.guard(`the installation on ${repo}`, () => this.client.forRepo(repo)))
      return c
    }
    if (rule.permission !== undefined && rule.repo !== undefined) {
      const gh = await clientFor()
      const [owner, repo] = rule.repo.split('/')
      const res = gh && await this.guard(`${login}'s permission on ${rule.repo}`, () => this.calledFor(gh.rest.repos.getCollaboratorPermissionLevel({ owner, repo, username: login })), 404)
      if (res && roleRank(res.data.role_name, res.data.permission) >= ROLES.indexOf(rule.permission)) return true
    }
    for (const org of rule.orgs) {
      const gh = await clientFor(org)
      const res = gh && await this.guard(`${login}'s membership of ${org}`, () => this.calledFor(gh.rest.orgs.checkMembershipForUser({ org, username: login })), 404)
      if (res) return true
    }
    for (const team of rule.teams) {
      const [org, slug] = team.split('/')
      const gh = await clientFor(org)
      const res = gh && await this.guard(`${login}'s membership of ${team}`, () => this.calledFor(gh.rest.teams.getMembershipForUserInOrg({ org, team_slug: slug, username: login })), 404)
      if (res && res.data.state === 'active') return true
    }
    return false
  }

  private calledFor<T> (p: Promise<T>): Promise<T> { this.calls++; return p }

  /** A call's answer; `none` statuses mean "no" (undefined); other failures → AccessCheckError or a refusal. */
  private async guard<T> (what: string, call: () => Promise<T>, none?: number): Promise<T | undefined> {
    try {
      return await call()
    } catch (err) {
      const status = statusOf(err)
      if (status === none || status === 302) return undefined
      if (unavailable(err) || status === undefined) throw new AccessCheckError(`GitHub could not be asked about ${what}: ${(err as Error).message}`)
      // 401/403: wakegate's credentials may not ask; fail closed and say why in the log.
      this.log.warn({ err: (err as Error).message, status }, `GitHub refused the question about ${what}; counted as no access`)
      return undefined
    }
  }
}

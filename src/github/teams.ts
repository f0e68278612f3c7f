// Team entries of allowAuthors (org/team-slug): is the author an active member? Answers are
// cached. A refused lookup (no permission) counts as "not a member" (the policy fails
// closed); an unavailable API decides nothing: GithubUnavailableError, so the webhook is
// answered 503 and its redelivery is handled.
import { LRUCache } from 'lru-cache'
import type { Logger } from 'pino'
import { GithubUnavailableError, statusOf, unavailable, type GithubClient } from './client.js'

export class Teams {
  private readonly cache: LRUCache<string, { member: boolean }>

  constructor (private readonly client: GithubClient, private readonly log: Logger, ttl: number) {
    this.cache = new LRUCache({ max: 5_000, ttl: Math.max(1, ttl) })
  }

  /** The teams among `teams` (org/slug) that `login` belongs to. */
  async memberOf (repo: string, teams: string[], login: string): Promise<string[]> {
    const out: string[] = []
    for (const team of teams) if (await this.isMember(repo, team, login)) out.push(team)
    return out
  }

  private async isMember (repo: string, team: string, login: string): Promise<boolean> {
    const key = `${team}:${login.toLowerCase()}`
    const hit = this.cache.get(key)
    if (hit) return hit.member
    const [org, slug] = team.split('/')
    let member = false
    try {
      const gh = await this.client.forRepo(repo)
      const res = await gh.rest.teams.getMembershipForUserInOrg({ org, team_slug: slug, username: login, request: { maxRetryWait: 5_000 } })
      member = res.data.state === 'active'
    } catch (err) {
      if (unavailable(err)) throw new GithubUnavailableError(`the membership of ${login} in ${team}`, err)
      if (statusOf(err) !== 404) {
        this.log.warn({ err, team, login }, 'team membership lookup refused; counted as not a member')
        return false
      }
    }
    this.cache.set(key, { member })
    return member
  }
}

// GitHub Deployments of one env: one deployment per SHA (looked up by environment + SHA
// before one is created, so a restart reuses it) and its statuses. When a SHA goes live or
// the PR closes, every other deployment of the environment whose latest status is not
// `inactive` is set inactive, including ones an earlier gateway process created: GitHub's
// own `auto_inactive` skips transient environments, and process memory does not survive a
// restart, so the environment's listing is the only complete account.
import type { GithubClient, Octokit } from './client.js'

export type DeployState = 'in_progress' | 'success' | 'failure' | 'inactive'

/** `sha: '*'` applies to every deployment of the env that is not inactive yet. */
export interface DeployOp {
  sha: string
  state: DeployState
  description: string
  /** With `sha: '*'` and `inactive`: also the environment's deployments this process never saw. */
  everywhere?: boolean
}

export interface Deployment { id: number, last?: DeployState }

/** What feedback keeps of one env's deployments. */
export interface EnvDeployments {
  key: string
  owner: string
  name: string
  environment: string
  url: string
  bySha: Map<string, Deployment>
  /** Ids known to be inactive: a later sweep skips them without asking. */
  retired: Set<number>
  /** The deployment whose success last retired the others (a wake of the same SHA need not list again). */
  retiredFor?: number
}

/** Newest deployments looked at per sweep; older ones were retired by earlier sweeps. */
const SWEEP_PAGES = 5

export class Deployments {
  readonly counters = { deployments: 0, statuses: 0 }

  /** `created` runs when a deployment id was learnt (feedback persists it). */
  constructor (private readonly client: GithubClient, private readonly created: (d: EnvDeployments) => void) {}

  async apply (d: EnvDeployments, op: DeployOp): Promise<void> {
    const targets: Array<[string, Deployment | undefined]> = op.sha === '*'
      ? [...d.bySha].filter(([, dep]) => dep.last !== 'inactive')
      : [[op.sha, d.bySha.get(op.sha)]]
    for (const [sha, known] of targets) {
      if (!known && op.state === 'inactive') continue
      const dep = known ?? await this.ensure(d, sha)
      if (dep.last === op.state) continue
      await this.status(d, dep, op.state, op.description)
      if (op.state === 'inactive') d.retired.add(dep.id)
      if (op.state === 'success' && d.retiredFor !== dep.id) {
        // One live deployment per env: the ones it replaces become inactive.
        await this.retireOthers(d, dep.id, `Replaced by ${sha.slice(0, 7)}`)
        d.retiredFor = dep.id
        for (const [other, od] of d.bySha) if (other !== sha && od.last === 'inactive') d.bySha.delete(other)
      }
    }
    if (op.sha === '*' && op.state === 'inactive' && op.everywhere) await this.retireOthers(d, undefined, op.description)
  }

  /**
   * Sets inactive every deployment of the environment except `keep` whose latest status is
   * not inactive. One listing (newest first, bounded); a status lookup only for deployments
   * this process has not seen.
   */
  private async retireOthers (d: EnvDeployments, keep: number | undefined, description: string): Promise<void> {
    const gh = await this.client.forRepo(`${d.owner}/${d.name}`)
    const mine = new Map([...d.bySha.values()].map(dep => [dep.id, dep]))
    let pages = 0
    for await (const page of gh.paginate.iterator(gh.rest.repos.listDeployments, { owner: d.owner, repo: d.name, environment: d.environment, per_page: 100 })) {
      for (const { id } of page.data) {
        if (id === keep || d.retired.has(id)) continue
        const dep = mine.get(id) ?? { id }
        const last = dep.last ?? await this.latestState(gh, d, id)
        if (last !== 'inactive') await this.status(d, dep, 'inactive', description)
        d.retired.add(id)
      }
      if (++pages >= SWEEP_PAGES) break
    }
  }

  /** State of the newest status (the highest id, whatever order the list comes in). */
  private async latestState (gh: Octokit, d: EnvDeployments, id: number): Promise<string | undefined> {
    const res = await gh.rest.repos.listDeploymentStatuses({ owner: d.owner, repo: d.name, deployment_id: id, per_page: 100 })
    let newest: { id: number, state: string } | undefined
    for (const s of res.data) if (!newest || s.id > newest.id) newest = s
    return newest?.state
  }

  private async status (d: EnvDeployments, dep: Deployment, state: DeployState, description: string): Promise<void> {
    const gh = await this.client.forRepo(`${d.owner}/${d.name}`)
    await gh.rest.repos.createDeploymentStatus({
      owner: d.owner,
      repo: d.name,
      deployment_id: dep.id,
      state,
      environment_url: d.url,
      description: description.replace(/\s+/g, ' ').slice(0, 140),
      auto_inactive: false
    })
    this.counters.statuses++
    dep.last = state
  }

  private async ensure (d: EnvDeployments, sha: string): Promise<Deployment> {
    const gh = await this.client.forRepo(`${d.owner}/${d.name}`)
    const where = { owner: d.owner, repo: d.name }
    const existing = await gh.rest.repos.listDeployments({ ...where, environment: d.environment, sha, per_page: 1 })
    let id = existing.data[0]?.id
    if (!id) {
      const res = await gh.rest.repos.createDeployment({
        ...where,
        ref: sha,
        environment: d.environment,
        transient_environment: true,
        production_environment: false,
        auto_merge: false,
        required_contexts: [],
        description: `Review environment ${d.key}`,
        payload: { wakegate: d.key }
      })
      if (!('id' in res.data)) throw new Error(`deployment not created: ${res.data.message ?? res.status}`)
      id = res.data.id
      this.counters.deployments++
    }
    const dep: Deployment = { id }
    d.bySha.set(sha, dep)
    d.retired.delete(id)
    this.created(d)
    return dep
  }
}

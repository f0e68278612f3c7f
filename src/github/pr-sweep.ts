// Envs of PRs that closed without wakegate hearing of it (a lost delivery, the gateway down,
// the hook removed) would run forever. At boot and every prSweepInterval, each repo with
// known PRs has its open PRs listed: one paginated listing per repo, not one call per PR. A
// known PR missing from the listing is confirmed with pulls.get before anything happens, so
// a listing glitch cannot destroy; a confirmed closed PR goes the way of the `closed`
// webhook (destroy, tombstone, deployments inactive, comment). An API failure destroys
// nothing for that repo; the next interval tries again.
import type { Logger } from 'pino'
import type { EnvManager } from '../lifecycle/manager.js'
import type { AppConfig } from '../config/load.js'
import type { GithubClient } from './client.js'
import type { GithubEvents } from './events.js'
import type { WaitCi } from './wait-ci.js'

export interface PrSweepOptions {
  manager: EnvManager
  client: GithubClient
  events: GithubEvents
  waitCi: WaitCi
  log: Logger
  /** ms between sweeps; 0: no sweeps at all. */
  interval: number
}

/** Pages of 100 open PRs read per repo; PRs beyond are confirmed one by one. */
const LIST_PAGES = 50
/** pulls.get calls in flight at once while confirming. */
const CONFIRMS_AT_ONCE = 4

interface Known { app: AppConfig, pr: number }

export class PrSweep {
  /** runs: sweeps done; swept: envs of closed PRs destroyed; failures: API calls that failed. */
  readonly counters = { runs: 0, swept: 0, failures: 0 }
  private timer: NodeJS.Timeout | undefined
  private inFlight: Promise<void> | null = null
  private closed = false

  constructor (private readonly o: PrSweepOptions) {}

  /** The boot sweep now (once the gateway listens and reconcile has run), then periodic. */
  start (): void {
    if (this.o.interval <= 0 || this.closed || this.timer) return
    void this.run()
    this.timer = setInterval(() => { void this.run() }, this.o.interval)
    this.timer.unref()
  }

  /** One sweep; a call while one runs shares it. Never rejects. */
  run (): Promise<void> {
    this.inFlight ??= this.sweep().catch(err => {
      this.counters.failures++
      this.o.log.error({ err }, 'PR sweep failed')
    }).finally(() => { this.inFlight = null })
    return this.inFlight
  }

  close (): void {
    this.closed = true
    if (this.timer) clearInterval(this.timer)
  }

  private async sweep (): Promise<void> {
    for (const [repo, known] of this.knownByRepo()) {
      if (this.closed) return
      const open = await this.listOpen(repo)
      if (!open) continue
      const missing = known.filter(k => !open.has(k.pr))
      await eachAtMost(CONFIRMS_AT_ONCE, missing, k => this.confirm(repo, k))
    }
    this.counters.runs++
  }

  /** PRs with a live env or a SHA held for CI, by repo (lower case). */
  private knownByRepo (): Map<string, Known[]> {
    const out = new Map<string, Map<string, Known>>()
    const add = (app: AppConfig | undefined, pr: number) => {
      if (!app?.repo) return
      const repo = app.repo.toLowerCase()
      if (!out.has(repo)) out.set(repo, new Map())
      out.get(repo)!.set(`${app.name}/${pr}`, { app, pr })
    }
    for (const env of this.o.manager.envs.values()) if (env.state !== 'destroyed') add(env.app.config, env.pr)
    for (const h of this.o.waitCi.held.values()) add(this.o.manager.apps.get(h.app)?.config, h.pull.number)
    return new Map([...out].map(([repo, m]) => [repo, [...m.values()]]))
  }

  /** Numbers of the repo's open PRs, or undefined when the listing failed. */
  private async listOpen (repo: string): Promise<Set<number> | undefined> {
    const [owner, name] = repo.split('/')
    const open = new Set<number>()
    try {
      const gh = await this.o.client.forRepo(repo)
      let pages = 0
      for await (const page of gh.paginate.iterator(gh.rest.pulls.list, { owner, repo: name, state: 'open', per_page: 100 })) {
        for (const pull of page.data) open.add(pull.number)
        if (++pages >= LIST_PAGES) break
      }
    } catch (err) {
      this.counters.failures++
      this.o.log.warn({ err, repo }, 'PR sweep: open PRs could not be listed; nothing destroyed, retried next interval')
      return undefined
    }
    return open
  }

  private async confirm (repo: string, { app, pr }: Known): Promise<void> {
    if (this.closed) return
    const [owner, name] = repo.split('/')
    let state: string
    try {
      const gh = await this.o.client.forRepo(repo)
      state = (await gh.rest.pulls.get({ owner, repo: name, pull_number: pr })).data.state
    } catch (err) {
      // 404 included: a PR that cannot be seen is not confirmed closed.
      this.counters.failures++
      this.o.log.warn({ err, env: `${app.name}/${pr}` }, 'PR sweep: PR state unknown; env kept')
      return
    }
    if (state !== 'closed' || this.closed) return
    const outcome = this.o.events.closed(app, pr)
    if (outcome.action === 'destroyed') {
      this.counters.swept++
      this.o.log.info({ env: `${app.name}/${pr}` }, 'PR sweep: the PR is closed (no webhook came); env destroyed')
    }
  }
}

/** Runs `fn` over `items`, at most `limit` at a time. */
async function eachAtMost<T> (limit: number, items: T[], fn: (item: T) => Promise<void>): Promise<void> {
  let next = 0
  const worker = async (): Promise<void> => { while (next < items.length) await fn(items[next++]) }
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker))
}

// The GitHub integration, wired: client, feedback, policies, CI gate, abandoned-env sweep,
// closed-PR sweep, the known-PR gate on the manager, warm-ups from PR signals, and the webhook
// route on the public listener.
import type { FastifyInstance } from 'fastify'
import type { Logger } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Store } from '../stores/store.js'
import { appPolicy, appsByRepo, resolveGithubSettings, type GithubSettings, type AppPolicy } from './config.js'
import { GithubClient } from './client.js'
import { Feedback } from './feedback.js'
import { GithubEvents } from './events.js'
import { KnownPrs } from './known-prs.js'
import { WaitCi } from './wait-ci.js'
import { Teams } from './teams.js'
import type { Capacity } from '../lifecycle/capacity.js'
import { Abandoned } from './abandoned.js'
import { PrSweep } from './pr-sweep.js'
import { WebhookReceiver } from './webhooks.js'
import { WarmUps } from '../lifecycle/warmup.js'

export interface GithubIntegration {
  settings: GithubSettings
  policies: Map<string, AppPolicy>
  client: GithubClient
  feedback: Feedback
  events: GithubEvents
  knownPrs: KnownPrs
  waitCi: WaitCi
  /** The manager's running caps (github.maxRunning is one of them); kept here for callers that look for it. */
  capacity: Capacity
  abandoned: Abandoned
  prSweep: PrSweep
  webhooks: WebhookReceiver
  /** Warm-ups from review requests, pushes and comments, and how many were used. */
  warmups: WarmUps
  close (): Promise<void>
}

export interface GithubDeps {
  config: ResolvedConfig
  manager: EnvManager
  store: Store
  log: Logger
  /** The public fastify instance (non-env hosts); the webhook route goes there. */
  publicApp: FastifyInstance
}

export function startGithub ({ config, manager, store, log: parentLog, publicApp }: GithubDeps): GithubIntegration {
  const settings = resolveGithubSettings(config)
  if (!settings) throw new Error('the github section is not configured')
  const log = parentLog.child({ part: 'github' })
  const policies = new Map(config.apps.map(app => [app.name, appPolicy(app)]))
  const client = new GithubClient(settings, log)
  const feedback = new Feedback({ client, manager, log, policies, debounce: settings.feedbackDebounce })
  const waitCi = new WaitCi(client, log)
  const teams = new Teams(client, log, settings.knownPrTtl)
  // The known-PR gate admits through events.accept; events tell the gate what webhooks learnt.
  const knownPrs: KnownPrs = new KnownPrs(manager, client, () => events, log, settings.knownPrTtl)
  const warmups = new WarmUps(manager, config, log)
  const events = new GithubEvents({ manager, log, client, policies, byRepo: appsByRepo(config.apps), feedback, waitCi, teams, remember: (k, info) => knownPrs.remember(k, info), warmups })
  manager.prResolver = knownPrs.resolve
  const capacity = manager.capacity
  const abandoned = new Abandoned(manager, policies, feedback, key => { const env = manager.envs.get(key); if (env) events.persist(env) }, log)
  const prSweep = new PrSweep({ manager, client, events, waitCi, log, interval: settings.prSweepInterval })
  // The boot sweep waits for the listener: by then reconcile has adopted the running tasks.
  publicApp.addHook('onListen', async () => { prSweep.start() })
  const webhooks = new WebhookReceiver({ settings, store, client, events, log })
  webhooks.register(publicApp)
  log.info({ path: settings.webhookPath, host: settings.webhookHost, auth: settings.auth.kind, repos: [...appsByRepo(config.apps).keys()] }, 'GitHub integration on')

  return {
    settings, policies, client, feedback, events, knownPrs, waitCi, capacity, abandoned, prSweep, webhooks, warmups,
    async close () {
      if (manager.prResolver === knownPrs.resolve) manager.prResolver = undefined
      abandoned.close()
      prSweep.close()
      events.close()
      warmups.close()
      await feedback.close()
    }
  }
}

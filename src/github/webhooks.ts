// POST <webhookPath> on the public listener: HMAC check with @octokit/webhooks against the
// raw body, delivery-id dedupe through the store, then dispatch. Bad or missing signature →
// 401 and nothing changes; events wakegate does not use → 204; a redelivery → 200, no-op; a
// decision the API could not answer → 503, nothing changes and the id is forgotten.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { Webhooks } from '@octokit/webhooks'
import type { Logger } from 'pino'
import type { Store } from '../stores/store.js'
import { replyError } from '../proxy/error-response.js'
import { normalizeHost } from '../routing/template.js'
import type { GithubSettings } from './config.js'
import { GithubUnavailableError, type GithubClient } from './client.js'
import type { GithubEvents, Outcome } from './events.js'

export const HANDLED_EVENTS = ['pull_request', 'check_suite', 'status', 'issue_comment'] as const
const HANDLED = new Set<string>(HANDLED_EVENTS)
/** GitHub caps payloads at 25 MB. */
const BODY_LIMIT = 26 * 1024 * 1024

export interface WebhookCounters { received: number, rejected: number, duplicates: number, ignored: number, handled: number, deferred: number, errors: number }

export interface WebhookOptions {
  settings: GithubSettings
  store: Store
  client: GithubClient
  events: GithubEvents
  log: Logger
}

export class WebhookReceiver {
  readonly counters: WebhookCounters = { received: 0, rejected: 0, duplicates: 0, ignored: 0, handled: 0, deferred: 0, errors: 0 }
  private readonly webhooks: Webhooks

  constructor (private readonly o: WebhookOptions) {
    this.webhooks = new Webhooks({ secret: o.settings.webhookSecret })
  }

  /** Adds the route (with a raw-body parser of its own) to the public fastify instance. */
  register (app: FastifyInstance): void {
    const path = this.o.settings.webhookPath
    app.register(async scope => {
      scope.removeAllContentTypeParsers()
      scope.addContentTypeParser('*', { parseAs: 'string', bodyLimit: BODY_LIMIT }, (_req, body, done) => done(null, body))
      scope.post(path, (req, reply) => this.handle(req, reply))
    })
  }

  private async handle (req: FastifyRequest, reply: FastifyReply): Promise<unknown> {
    const host = this.o.settings.webhookHost
    if (host && normalizeHost(req.headers.host) !== host) return reply.callNotFound()
    this.counters.received++
    const raw = typeof req.body === 'string' ? req.body : ''
    const signature = header(req, 'x-hub-signature-256')
    if (!signature || !raw || !(await this.verify(raw, signature))) {
      this.counters.rejected++
      this.o.log.warn({ delivery: header(req, 'x-github-delivery'), event: header(req, 'x-github-event'), signed: !!signature }, 'webhook rejected: bad signature')
      return replyError(reply, { code: 'WAKEGATE_BAD_SIGNATURE' })
    }
    const name = header(req, 'x-github-event')
    const id = header(req, 'x-github-delivery')
    if (name === 'ping') return reply.send({ ok: true })
    if (!name || !HANDLED.has(name)) {
      this.counters.ignored++
      return reply.code(204).send()
    }
    let payload: any
    try {
      payload = parseBody(raw, String(req.headers['content-type'] ?? ''))
    } catch {
      return replyError(reply, { code: 'WAKEGATE_BAD_PAYLOAD' })
    }
    if (id && !(await this.o.store.firstDelivery(`github:${id}`, this.o.settings.deliveryTtl))) {
      this.counters.duplicates++
      this.o.log.info({ delivery: id, event: name }, 'webhook redelivery ignored')
      return reply.send({ delivery: id, duplicate: true })
    }
    if (payload?.repository?.full_name) this.o.client.noteInstallation(payload.repository.full_name, payload.installation?.id)
    try {
      const results = await this.dispatch(name, payload)
      this.counters.handled++
      return reply.send({ delivery: id, event: name, action: payload?.action, results })
    } catch (err) {
      if (err instanceof GithubUnavailableError) {
        // Not decided: the id must not count as handled, or GitHub's redelivery would be dropped.
        this.counters.deferred++
        if (id) await this.o.store.forgetDelivery(`github:${id}`)
        this.o.log.warn({ err, delivery: id, event: name }, 'webhook not decided (GitHub unavailable); nothing changed, a redelivery is handled')
        return replyError(reply, { code: 'WAKEGATE_GITHUB_UNAVAILABLE', detail: err.message })
      }
      this.counters.errors++
      this.o.log.error({ err, delivery: id, event: name }, 'webhook handling failed')
      return replyError(reply, { code: 'WAKEGATE_INTERNAL', detail: 'webhook handling failed' })
    }
  }

  private async verify (raw: string, signature: string): Promise<boolean> {
    try { return await this.webhooks.verify(raw, signature) } catch { return false }
  }

  private async dispatch (name: string, payload: any): Promise<Outcome[]> {
    const repo: string | undefined = payload?.repository?.full_name
    if (!repo) return []
    const events = this.o.events
    switch (name) {
      case 'pull_request':
        if (!payload.pull_request) return []
        return events.pullRequest(payload)
      case 'check_suite':
        if (payload.action !== 'completed' || !payload.check_suite?.head_sha) return []
        return events.ciSignal(repo, payload.check_suite.head_sha)
      case 'status':
        if (!payload.sha || payload.state === 'pending') return []
        return events.ciSignal(repo, payload.sha)
      case 'issue_comment':
        return events.comment(payload)
      default:
        return []
    }
  }
}

function header (req: FastifyRequest, name: string): string | undefined {
  const v = req.headers[name]
  return typeof v === 'string' && v !== '' ? v : undefined
}

/** GitHub sends JSON, or `payload=<json>` when the hook uses the form content type. */
function parseBody (raw: string, contentType: string): unknown {
  if (contentType.startsWith('application/x-www-form-urlencoded')) return JSON.parse(new URLSearchParams(raw).get('payload') ?? '')
  return JSON.parse(raw)
}

// Is GitHub delivering to wakegate? The webhook (the App's own, or a repo hook with token
// auth) must point at the gateway's webhook URL with content type json and the events wakegate
// handles, and its latest delivery must have been answered 2xx, not too long ago.
import type { GithubSettings } from '../github/config.js'
import { check, type Check } from './check.js'

/** A delivery as GitHub lists them (repo hooks and the App's hook alike). */
export interface Delivery { id: number, delivered_at: string, status: string, status_code: number, event: string, action?: string | null }

export interface HookView { id?: number, url: string, contentType?: string, active?: boolean, events?: string[] }

/** Older than this, the latest delivery says little about today. */
const STALE_MS = 7 * 24 * 3600_000

/** The hook URL reaches wakegate's webhook: its path ends with webhookPath, and its host is webhookHost when set. */
export function deliversHere (url: string, s: GithubSettings): boolean {
  let u: URL
  try { u = new URL(url) } catch { return false }
  const path = u.pathname.replace(/\/+$/, '')
  if (!path.endsWith(s.webhookPath.replace(/\/+$/, ''))) return false
  return !s.webhookHost || u.hostname.toLowerCase() === s.webhookHost
}

/** Where the webhook should deliver, for the fix texts. */
export function expectedUrl (s: GithubSettings): string {
  return `https://${s.webhookHost ?? '<gateway public host>'}${s.webhookPath}`
}

export function registerCommand (repo: string, s: GithubSettings): string {
  return `wakegate github register --repo ${repo} --url https://${s.webhookHost ?? '<gateway public host>'}`
}

/**
 * The hook's settings. `needsCi`: an app waits for CI, so check_suite and status events are
 * needed too; `needsComments`: an app warms envs named in PR comments, so issue_comment is.
 * `fix`: how to change the hook (register for repo hooks, the App's settings page).
 */
export function hookCheck (id: string, title: string, hook: HookView, s: GithubSettings, needsCi: boolean, fix: string, needsComments = false): Check {
  const name = hook.id ? `hook #${hook.id}` : 'the App\'s webhook'
  if (!deliversHere(hook.url, s)) {
    return check(id, title, 'fail', `${name} delivers to ${hook.url || '(no URL)'}, not to ${expectedUrl(s)}`, fix)
  }
  if (hook.active === false) return check(id, title, 'fail', `${name} (${hook.url}) is inactive`, fix)
  if (hook.contentType && hook.contentType !== 'json') {
    return check(id, title, 'fail', `${name} sends content type ${hook.contentType}; wakegate reads JSON payloads`, fix)
  }
  if (hook.events) {
    const all = hook.events.includes('*')
    if (!all && !hook.events.includes('pull_request')) {
      return check(id, title, 'fail', `${name} does not send pull_request events (it sends: ${hook.events.join(', ') || 'none'})`, fix)
    }
    const ci = ['check_suite', 'status'].filter(e => !all && !hook.events!.includes(e))
    if (needsCi && ci.length) return check(id, title, 'warn', `${name} does not send ${ci.join(', ')}, which waitForCi needs`, fix)
    if (needsComments && !all && !hook.events.includes('issue_comment')) return check(id, title, 'warn', `${name} does not send issue_comment, which warmup.commentMention needs`, fix)
  }
  return check(id, title, 'ok', `${name} → ${hook.url}${hook.events ? ` (${hook.events.join(', ')})` : ''}`)
}

const STATUS_FIXES: Array<[(code: number) => boolean, string]> = [
  [c => c === 401, 'the webhook secret differs from github.webhookSecret: set the same secret on both sides (a repo hook: `wakegate github register … --update-secret`)'],
  [c => c === 404, 'the URL does not reach wakegate\'s webhook: check github.webhookPath and github.webhookHost, and that the load balancer passes that host and path to the gateway'],
  [c => c === 400, 'wakegate could not read the payload: set the content type to application/json'],
  [c => c === 0, 'GitHub could not connect: the URL must be reachable from the internet (DNS, TLS certificate, load balancer, firewall)'],
  [c => c >= 500, 'wakegate (or what is in front of it) failed: see the gateway\'s log at that time; redeliver from the hook\'s "Recent deliveries" once it is fixed']
]

/** The latest delivery, newest first in `deliveries`. */
export function deliveriesCheck (id: string, title: string, deliveries: Delivery[], now = Date.now()): Check {
  const last = deliveries[0]
  if (!last) {
    return check(id, title, 'warn', 'no deliveries yet',
      'open or push to a pull request (or ping the webhook) and run doctor again')
  }
  const at = Date.parse(last.delivered_at)
  const age = Number.isFinite(at) ? ago(now - at) : 'at an unknown time'
  const what = `${last.event}${last.action ? `.${last.action}` : ''}`
  const code = last.status_code
  if (code >= 200 && code < 300) {
    if (Number.isFinite(at) && now - at > STALE_MS) {
      return check(id, title, 'warn', `last delivery ${age} (${what}, ${code}); nothing since`,
        'a quiet repo, or GitHub stopped delivering: check that the webhook is still active')
    }
    return check(id, title, 'ok', `last delivery ${age}: ${what} → ${code}`)
  }
  const failed = deliveries.filter(d => d.status_code < 200 || d.status_code >= 300).length
  const hint = STATUS_FIXES.find(([match]) => match(code))?.[1] ?? 'see the gateway\'s log at that time'
  // A 5xx can be a restart or a moment without GitHub's API: a warning, unless it keeps happening.
  const status = code >= 500 && failed < deliveries.length ? 'warn' : 'fail'
  return check(id, title, status, `GitHub could not deliver: last delivery ${age} (${what}) got ${code || last.status}${failed > 1 ? `; ${failed} of the last ${deliveries.length} failed` : ''}`, hint)
}

function ago (ms: number): string {
  const s = Math.max(0, Math.round(ms / 1000))
  if (s < 120) return `${s}s ago`
  if (s < 7200) return `${Math.round(s / 60)} min ago`
  if (s < 172800) return `${Math.round(s / 3600)} h ago`
  return `${Math.round(s / 86400)} days ago`
}

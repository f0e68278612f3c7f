// `wakegate github register --repo owner/name --url <public url>`: creates the repo webhook
// wakegate needs, or brings an existing one (same URL) up to date; idempotent, prints what
// it did, and `--dry-run` prints what it would do.
import type { AppConfig } from '../config/load.js'
import type { GithubSettings } from './config.js'
import type { GithubClient } from './client.js'
import { HANDLED_EVENTS } from './webhooks.js'

export interface RegisterOptions {
  repo: string
  /** Public base URL of the gateway (the webhook path is appended) or the full webhook URL. */
  url: string
  dryRun?: boolean
  /** Send the secret even when nothing else changed (GitHub never shows it, so it cannot be compared). */
  updateSecret?: boolean
  /** Subscribe to issue_comment too: an app of the repo warms envs named in PR comments (see `wantsComments`). */
  comments?: boolean
  out?: (line: string) => void
}

export interface RegisterResult {
  action: 'created' | 'updated' | 'unchanged'
  hookId?: number
  url: string
  changes: string[]
  dryRun: boolean
}

export function webhookUrl (settings: GithubSettings, url: string): string {
  const u = new URL(url)
  if (u.pathname === '/' || u.pathname === '') u.pathname = settings.webhookPath
  return u.toString()
}

/** Some app of `repo` warms envs on PR comments naming them, so its webhook must send issue_comment. */
export function wantsComments (apps: AppConfig[], repo: string): boolean {
  return apps.some(a => a.repo?.toLowerCase() === repo.toLowerCase() && a.warmup?.commentMention === true)
}

/** The events the hook subscribes to: every comment on the repo is delivered only when some app uses them. */
export function webhookEvents (comments: boolean): string[] {
  return HANDLED_EVENTS.filter(e => comments || e !== 'issue_comment').sort()
}

export async function registerWebhook (settings: GithubSettings, client: GithubClient, o: RegisterOptions): Promise<RegisterResult> {
  const out = o.out ?? (() => {})
  if (!/^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/.test(o.repo)) throw new Error(`--repo must be owner/name, got "${o.repo}"`)
  const url = webhookUrl(settings, o.url)
  const [owner, repo] = o.repo.split('/')
  const events = webhookEvents(o.comments === true)
  const config = { url, content_type: 'json', insecure_ssl: '0', secret: settings.webhookSecret }
  const gh = await client.forRepo(o.repo)
  const hooks = await gh.paginate(gh.rest.repos.listWebhooks, { owner, repo, per_page: 100 })
  const same = hooks.filter(h => h.config.url === url)
  const dry = o.dryRun ? ' (dry run: nothing changed)' : ''
  if (same.length > 1) out(`warning: ${same.length} hooks of ${o.repo} deliver to ${url}; updating #${same[0].id} only`)

  const hook = same[0]
  if (!hook) {
    out(`${o.dryRun ? 'would create' : 'creating'} webhook on ${o.repo}: ${url}, content type json, events ${events.join(', ')}, secret set${dry}`)
    if (o.dryRun) return { action: 'created', url, changes: ['new hook'], dryRun: true }
    const res = await gh.rest.repos.createWebhook({ owner, repo, name: 'web', active: true, events, config })
    out(`created webhook #${res.data.id}`)
    return { action: 'created', hookId: res.data.id, url, changes: ['new hook'], dryRun: false }
  }

  const changes: string[] = []
  const have = [...(hook.events ?? [])].sort()
  if (have.join() !== events.join()) changes.push(`events ${have.join(', ') || '(none)'} → ${events.join(', ')}`)
  if (hook.config.content_type !== 'json') changes.push(`content type ${hook.config.content_type ?? '(unset)'} → json`)
  if (String(hook.config.insecure_ssl ?? '0') !== '0') changes.push('TLS verification off → on')
  if (!hook.active) changes.push('inactive → active')
  if (o.updateSecret) changes.push('secret')
  if (changes.length === 0) {
    out(`webhook #${hook.id} on ${o.repo} is up to date: ${url}, events ${events.join(', ')} (the secret cannot be compared; --update-secret sets it)`)
    return { action: 'unchanged', hookId: hook.id, url, changes, dryRun: !!o.dryRun }
  }
  out(`${o.dryRun ? 'would update' : 'updating'} webhook #${hook.id} on ${o.repo}: ${changes.join('; ')}${dry}`)
  if (!o.dryRun) {
    // The config is replaced as a whole: the secret goes with it.
    await gh.rest.repos.updateWebhook({ owner, repo, hook_id: hook.id, active: true, events, config })
    out(`updated webhook #${hook.id}`)
  }
  return { action: 'updated', hookId: hook.id, url, changes, dryRun: !!o.dryRun }
}

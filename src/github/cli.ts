// `wakegate github …` subcommands.
import { pino } from 'pino'
import type { ResolvedConfig } from '../config/load.js'
import { resolveGithubSettings } from './config.js'
import { GithubClient } from './client.js'
import { registerWebhook, wantsComments } from './register.js'

type Values = Record<string, string | boolean | undefined>

export async function githubCommand (config: ResolvedConfig, args: string[], values: Values, out: (s: string) => unknown = s => process.stdout.write(s), err: (s: string) => unknown = s => process.stderr.write(s)): Promise<number> {
  const settings = resolveGithubSettings(config)
  if (!settings) { err('wakegate: the configuration has no github section\n'); return 2 }
  if (args[0] !== 'register') { err(`wakegate: unknown github command "${args[0] ?? ''}" (try: github register)\n`); return 2 }
  const repos = [...new Set(config.apps.map(a => a.repo).filter((r): r is string => !!r))]
  const repo = typeof values.repo === 'string' ? values.repo : repos.length === 1 ? repos[0] : undefined
  if (!repo) { err(`wakegate: give --repo owner/name (configured: ${repos.join(', ') || 'none'})\n`); return 2 }
  if (typeof values.url !== 'string') { err('wakegate: give --url, the public URL GitHub delivers to (e.g. https://hooks.review.example.com)\n'); return 2 }
  if (!repos.some(r => r.toLowerCase() === repo.toLowerCase())) out(`note: no app is configured for ${repo}; its events will be ignored\n`)
  const client = new GithubClient(settings, pino({ level: config.log.level === 'info' ? 'warn' : config.log.level }))
  try {
    await registerWebhook(settings, client, { repo, url: values.url, dryRun: values['dry-run'] === true, updateSecret: values['update-secret'] === true, comments: wantsComments(config.apps, repo), out: line => out(line + '\n') })
    return 0
  } catch (e) {
    const status = (e as { status?: number }).status
    const hint = status === 404 ? ' (no such repo, or the credentials may not manage its webhooks: a token needs admin:repo_hook, an app the "Webhooks" repository permission)' : ''
    err(`wakegate: github register failed: ${(e as Error).message}${hint}\n`)
    return 1
  }
}

/** check-config's lines about the github section. */
export function githubSummary (config: ResolvedConfig): string {
  const s = resolveGithubSettings(config)
  if (!s) return ''
  const auth = s.auth.kind === 'token' ? 'token' : `GitHub App ${s.auth.appId}${s.auth.installationId ? `, installation ${s.auth.installationId}` : ''}`
  const lines = [`  github: ${auth}; webhook ${s.webhookHost ?? '(any non-env host)'}${s.webhookPath}; API ${s.apiUrl}`]
  for (const app of config.apps) {
    if (!app.repo) continue
    const p = app.github
    const on = [p.warm && 'warm', p.skipDrafts && 'skip drafts', p.requireLabel && `label ${p.requireLabel}`, p.allowForks && 'forks allowed',
      p.allowAuthors && `${p.allowAuthors.length} allowed authors/teams`, p.maxRunning && `max ${p.maxRunning} running`, p.waitForCi && 'wait for CI',
      p.ttlDays && `stale after ${p.ttlDays} days`].filter(Boolean)
    lines.push(`    ${app.repo} → app ${app.name}${on.length ? `: ${on.join(', ')}` : ''}`)
  }
  return lines.join('\n') + '\n'
}

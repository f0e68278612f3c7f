import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pino } from 'pino'
import { FakeGitHub } from './support/fake-github.js'
import { ROOT, testConfig, exampleApp } from './support/harness.js'
import { resolveGithubSettings } from '../src/github/config.js'
import { GithubClient } from '../src/github/client.js'
import { registerWebhook } from '../src/github/register.js'
import { githubCommand } from '../src/github/cli.js'

const REPO = 'acme/web'

function setup (gh: FakeGitHub) {
  const config = testConfig({ github: { auth: { token: gh.token }, webhookSecret: 'webhook-secret', apiUrl: gh.url } }, [exampleApp({ repo: REPO })])
  const settings = resolveGithubSettings(config)!
  return { config, settings, client: new GithubClient(settings, pino({ level: 'silent' })) }
}

t.test('register twice: one hook; the second run changes nothing', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const { settings, client } = setup(gh)
  const lines: string[] = []
  const first = await registerWebhook(settings, client, { repo: REPO, url: 'https://hooks.review.example.com', out: l => lines.push(l) })
  t.equal(first.action, 'created')
  t.equal(first.url, 'https://hooks.review.example.com/_wakegate/github', 'the webhook path is appended to a bare URL')
  t.equal(gh.hooks.length, 1)
  t.same(gh.hooks[0].events, ['check_suite', 'pull_request', 'status'])
  t.equal(gh.hooks[0].config.content_type, 'json')
  t.equal(gh.hooks[0].config.secret, 'webhook-secret')
  t.equal(gh.hooks[0].active, true)

  const second = await registerWebhook(settings, client, { repo: REPO, url: 'https://hooks.review.example.com/', out: l => lines.push(l) })
  t.equal(second.action, 'unchanged')
  t.equal(gh.hooks.length, 1, 'still one hook')
  t.equal(gh.count('POST', /\/hooks$/), 1)
  t.equal(gh.count('PATCH', /\/hooks\//), 0)
  t.match(lines.join('\n'), /creating webhook.*\n.*created webhook #\d+\n.*is up to date/)
})

t.test('an existing hook with other settings is updated in place; --dry-run only tells', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const { settings, client } = setup(gh)
  const url = 'https://hooks.review.example.com/_wakegate/github'
  gh.hooks.push({ id: 5, repo: REPO, name: 'web', active: false, events: ['push'], config: { url, content_type: 'form', secret: 'old' } })
  gh.hooks.push({ id: 6, repo: REPO, name: 'web', active: true, events: ['push'], config: { url: 'https://ci.example.com/hook', content_type: 'json' } })

  const lines: string[] = []
  const dry = await registerWebhook(settings, client, { repo: REPO, url, dryRun: true, out: l => lines.push(l) })
  t.equal(dry.action, 'updated')
  t.equal(dry.dryRun, true)
  t.same(dry.changes, ['events push → check_suite, pull_request, status', 'content type form → json', 'inactive → active'])
  t.match(lines.join('\n'), 'would update webhook #5')
  t.equal(gh.count('PATCH', /\/hooks\//) + gh.count('POST', /\/hooks$/), 0, 'dry run: no write')

  const real = await registerWebhook(settings, client, { repo: REPO, url })
  t.equal(real.action, 'updated')
  t.equal(gh.hooks.length, 2, 'no new hook')
  t.same(gh.hooks[0].events, ['check_suite', 'pull_request', 'status'])
  t.equal(gh.hooks[0].config.content_type, 'json')
  t.equal(gh.hooks[0].config.secret, 'webhook-secret', 'the secret is sent with the config')
  t.equal(gh.hooks[0].active, true)
  t.same(gh.hooks[1].events, ['push'], "the other service's hook is untouched")
  t.equal((await registerWebhook(settings, client, { repo: REPO, url })).action, 'unchanged')
  t.equal((await registerWebhook(settings, client, { repo: REPO, url, updateSecret: true })).action, 'updated', '--update-secret forces a write')
})

t.test('dry run on a repo without the hook creates nothing', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const { settings, client } = setup(gh)
  const res = await registerWebhook(settings, client, { repo: REPO, url: 'https://hooks.example.com', dryRun: true })
  t.equal(res.action, 'created')
  t.equal(gh.hooks.length, 0)
})

t.test('command errors: no repo, no url, API refusal', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const { config } = setup(gh)
  const out: string[] = []
  const err: string[] = []
  const run = (args: string[], values: Record<string, string | boolean>) => githubCommand(config, args, values, s => { out.push(s) }, s => { err.push(s) })
  t.equal(await run(['register'], {}), 2)
  t.match(err.pop(), '--url')
  t.equal(await run(['nope'], {}), 2)
  gh.fail('GET', /\/hooks$/, { status: 404 })
  t.equal(await run(['register'], { url: 'https://h.example.com' }), 1, 'the only configured repo is the default')
  t.match(err.pop(), /admin:repo_hook/)
  t.equal(await run(['register'], { url: 'https://h.example.com', 'dry-run': true }), 0)
  t.match(out.join(''), 'would create webhook on acme/web')
})

t.test('the CLI: `wakegate github register` run twice leaves one hook', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-register-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'wakegate.yaml')
  writeFileSync(file, [
    'github:',
    '  auth: { token: "${GH_TOKEN}" }',
    '  webhookSecret: "${HOOK_SECRET}"',
    `  apiUrl: ${gh.url}`,
    'apps:',
    '  - name: web',
    '    host: pr-{pr}.review.example.com',
    `    repo: ${REPO}`,
    '    backend: { kind: local, command: "true" }',
    ''
  ].join('\n'))
  const cli = (...args: string[]) => new Promise<{ code: number | null, stdout: string, stderr: string }>(resolve => {
    const p = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli.ts'), 'github', 'register', '--config', file, ...args], {
      cwd: ROOT, env: { ...process.env, GH_TOKEN: gh.token, HOOK_SECRET: 's3cret-value' }
    })
    let stdout = ''
    let stderr = ''
    p.stdout.on('data', d => { stdout += d })
    p.stderr.on('data', d => { stderr += d })
    p.on('close', code => resolve({ code, stdout, stderr }))
  })
  const dry = await cli('--repo', REPO, '--url', 'https://hooks.review.example.com', '--dry-run')
  t.equal(dry.code, 0, dry.stderr)
  t.match(dry.stdout, 'would create webhook on acme/web: https://hooks.review.example.com/_wakegate/github')
  t.equal(gh.hooks.length, 0)
  const first = await cli('--repo', REPO, '--url', 'https://hooks.review.example.com')
  t.equal(first.code, 0, first.stderr)
  t.match(first.stdout, /created webhook #\d+/)
  const second = await cli('--repo', REPO, '--url', 'https://hooks.review.example.com')
  t.equal(second.code, 0, second.stderr)
  t.match(second.stdout, 'is up to date')
  t.equal(gh.hooks.length, 1)
  t.equal(gh.hooks[0].config.secret, 's3cret-value', 'secret from the environment')
})

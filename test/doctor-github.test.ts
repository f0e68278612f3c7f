// `wakegate doctor`'s GitHub and Redis checks, through the real CLI against FakeGitHub (real
// octokit, real App JWTs) and a real redis-server: credentials, the App's installation, the
// webhook (the App's or the repo's) and its latest delivery, Redis reachable.
import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, exampleApp } from './support/harness.js'
import { FakeGitHub, type FakeHook } from './support/fake-github.js'
import { startRedis } from './support/redis.js'
import type { Check } from '../src/doctor/index.js'

const dir = mkdtempSync(join(tmpdir(), 'wakegate-doctor-gh-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))
const HOOK_URL = 'https://hooks.review.test/_wakegate/github'
const DAY = 24 * 3600_000

interface Run { code: number | null, out: string, err: string, checks: Check[], get: (id: string) => Check }

async function doctor (config: unknown, json = true): Promise<Run> {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, JSON.stringify(config))
  const child = spawn(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'doctor', '-c', file, ...(json ? ['--json'] : [])], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  let err = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { err += d })
  const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
  const checks: Check[] = json ? JSON.parse(out || '{"checks":[]}').checks : []
  const get = (id: string) => {
    const c = checks.find(x => x.id === id)
    if (!c) throw new Error(`no check ${id} in: ${checks.map(x => x.id).join(', ')}\n${err}`)
    return c
  }
  return { code, out, err, checks, get }
}

/** Apps on the local backend (no AWS involved), one per repo. */
function config (gh: FakeGitHub, repos: string[], over: Record<string, unknown> = {}) {
  return {
    log: { level: 'silent' },
    github: { auth: { token: gh.token }, webhookSecret: 'webhook-secret', webhookHost: 'hooks.review.test', apiUrl: gh.url },
    apps: repos.map((repo, i) => exampleApp({ name: `app${i}`, host: `pr-{pr}.app${i}.review.test`, repo, prs: [] })),
    ...over
  }
}

function hook (gh: FakeGitHub, repo: string, over: Partial<FakeHook> = {}): FakeHook {
  const h: FakeHook = { id: 100 + gh.hooks.length, repo, name: 'web', active: true, events: ['check_suite', 'pull_request', 'status'], config: { url: HOOK_URL, content_type: 'json', insecure_ssl: '0' }, ...over }
  gh.hooks.push(h)
  return h
}

async function fakeGitHub (t: Test): Promise<FakeGitHub> {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  // The configured token is a personal access token: GET /user names its owner.
  gh.tokenOwner = 'wakegate-bot'
  return gh
}

t.test('token auth, a working repo hook and Redis: every check passes', async t => {
  const gh = await fakeGitHub(t)
  const redis = await startRedis()
  t.teardown(() => redis.close())
  const h = hook(gh, 'acme/web')
  gh.deliver(h, 200, { ago: 3 * DAY })
  gh.deliver(h, 200, { ago: 60_000 })
  const r = await doctor(config(gh, ['acme/web'], { store: { kind: 'redis', url: redis.url } }))
  t.equal(r.code, 0, r.err)
  t.same(r.checks.map(c => `${c.id} ${c.status}`), [
    'config ok', 'local.app0.cwd ok', 'github.auth ok', 'github.acme/web.webhook ok', 'github.acme/web.deliveries ok', 'store.redis ok'
  ])
  t.match(r.get('github.auth').detail, /token of wakegate-bot/)
  t.match(r.get('github.acme/web.webhook').detail, /hook #100 → https:\/\/hooks\.review\.test\/_wakegate\/github/)
  t.match(r.get('github.acme/web.deliveries').detail, /last delivery 6\ds ago: pull_request\.opened → 200/)
  t.match(r.get('store.redis').detail, new RegExp(`127\\.0\\.0\\.1:${redis.port} answers PING \\(Redis \\d`))
  t.equal(gh.count('GET', /^\/repos\/acme\/web\/hooks\/100\/deliveries$/), 1)
})

t.test('no webhook: fails with the register command to run, in the table', async t => {
  const gh = await fakeGitHub(t)
  hook(gh, 'acme/web', { config: { url: 'https://ci.example.com/hook', content_type: 'json' } })
  const r = await doctor(config(gh, ['acme/web']), false)
  t.equal(r.code, 1)
  t.match(r.out, /webhook of acme\/web\s+fail\s+no webhook of acme\/web delivers to \/_wakegate\/github on hooks\.review\.test \(its 1 hook\(s\) deliver elsewhere: https:\/\/ci\.example\.com\/hook\)\n/)
  t.match(r.out, /\n\s+fix: no webhook: run `wakegate github register --repo acme\/web --url https:\/\/hooks\.review\.test`\n/)
  t.match(r.out, /webhook deliveries of acme\/web\s+skip\s+no webhook/)
})

t.test('failed, stale and missing deliveries, and a hook without pull_request', async t => {
  const gh = await fakeGitHub(t)
  const web = hook(gh, 'acme/web')
  gh.deliver(web, 200, { ago: DAY })
  gh.deliver(web, 401, { ago: 120_000 })
  gh.deliver(web, 401, { ago: 60_000 })
  const api = hook(gh, 'acme/api')
  gh.deliver(api, 200, { ago: 10 * DAY })
  const blip = hook(gh, 'acme/blip')
  gh.deliver(blip, 200, { ago: DAY })
  gh.deliver(blip, 503, { ago: 60_000 })
  hook(gh, 'acme/new')
  hook(gh, 'acme/ops', { events: ['push'] })
  const r = await doctor(config(gh, ['acme/web', 'acme/api', 'acme/blip', 'acme/new', 'acme/ops']))
  t.equal(r.code, 1)

  const failed = r.get('github.acme/web.deliveries')
  t.equal(failed.status, 'fail')
  t.match(failed.detail, /^GitHub could not deliver: last delivery 6\ds ago \(pull_request\.opened\) got 401; 2 of the last 3 failed$/)
  t.match(failed.fix, /^the webhook secret differs from github\.webhookSecret/)
  const stale = r.get('github.acme/api.deliveries')
  t.equal(stale.status, 'warn')
  t.match(stale.detail, /last delivery 10 days ago \(pull_request\.opened, 200\); nothing since/)
  t.equal(r.get('github.acme/blip.deliveries').status, 'warn', 'one 5xx after successes is a warning')
  t.match(r.get('github.acme/blip.deliveries').detail, /got 503/)
  t.equal(r.get('github.acme/new.deliveries').status, 'warn')
  t.equal(r.get('github.acme/new.deliveries').detail, 'no deliveries yet')
  const ops = r.get('github.acme/ops.webhook')
  t.equal(ops.status, 'fail')
  t.equal(ops.detail, 'hook #104 does not send pull_request events (it sends: push)')
  t.match(ops.fix, /wakegate github register --repo acme\/ops/)
})

t.test('a rejected token fails GitHub credentials and skips the rest; an installation token is accepted', async t => {
  const gh = await fakeGitHub(t)
  hook(gh, 'acme/web')
  const bad = await doctor(config(gh, ['acme/web'], { github: { auth: { token: 'wrong-token' }, webhookSecret: 'webhook-secret', apiUrl: gh.url } }))
  t.equal(bad.code, 1)
  t.equal(bad.get('github.auth').status, 'fail')
  t.match(bad.get('github.auth').detail, /GitHub refused the token: 401 Bad credentials/)
  t.match(bad.get('github.auth').fix, /WAKEGATE_GITHUB_TOKEN/)
  t.equal(bad.get('github.acme/web.webhook').status, 'skip')

  // An installation token cannot read GET /user (403); it lists its repositories instead.
  gh.tokenOwner = undefined
  gh.fail('GET', /^\/user$/, { status: 403, body: { message: 'Resource not accessible by integration' } })
  gh.deliver(gh.hooks[0], 204)
  const inst = await doctor(config(gh, ['acme/web']))
  t.equal(inst.code, 0, inst.out)
  t.match(inst.get('github.auth').detail, /installation token \(\d+ repositories\)/)
})

function appKeys () {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return { privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(), publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString() }
}

t.test('GitHub App: JWT, installation per repo, the App\'s webhook and its deliveries', async t => {
  const gh = await fakeGitHub(t)
  const keys = appKeys()
  gh.app = { id: 4242, slug: 'acme-review', publicKey: keys.publicKey, installations: new Map([['acme/web', 77]]) }
  gh.appHook = { url: HOOK_URL, content_type: 'json', insecure_ssl: '0', secret: 'webhook-secret' }
  gh.deliver('app', 200, { ago: 30_000 })
  const app = (repos: string[]) => config(gh, repos, { github: { auth: { appId: 4242, privateKey: keys.privateKey }, webhookSecret: 'webhook-secret', webhookHost: 'hooks.review.test', apiUrl: gh.url } })

  const ok = await doctor(app(['acme/web']))
  t.equal(ok.code, 0, ok.out)
  t.same(ok.checks.filter(c => c.id.startsWith('github')).map(c => `${c.id} ${c.status}`), [
    'github.auth ok', 'github.acme/web.installation ok', 'github.app.webhook ok', 'github.app.deliveries ok'
  ])
  t.match(ok.get('github.auth').detail, /GitHub App acme-review \(id 4242\)/)
  t.match(ok.get('github.acme/web.installation').detail, /installation 77 on acme/)
  t.ok(gh.calls.filter(c => c.path.startsWith('/app')).every(c => c.auth.startsWith('bearer ') && c.status < 300), 'the App\'s endpoints with its JWT')
  t.equal(gh.count('POST', /^\/app\/installations\/77\/access_tokens$/, 201), 1, 'an installation token, as the gateway gets it')
  t.equal(gh.count('GET', /^\/installation\/repositories$/, 200), 1, 'and used')

  // Not installed on a second repo, a webhook URL on another path, GitHub unable to connect.
  gh.appHook = { url: 'https://hooks.review.test/github', content_type: 'json', insecure_ssl: '0' }
  gh.deliver('app', 0)
  gh.app.permissions = { pull_requests: 'write', issues: 'write', metadata: 'read' }
  const bad = await doctor(app(['acme/web', 'acme/other']))
  t.equal(bad.code, 1)
  const web = bad.get('github.acme/web.installation')
  t.equal(web.status, 'fail')
  t.equal(web.detail, 'installation 77 lacks permissions deployments: write')
  const other = bad.get('github.acme/other.installation')
  t.equal(other.status, 'fail')
  t.equal(other.detail, 'the GitHub App is not installed on acme/other')
  t.match(other.fix, /install the App on acme and give it access to acme\/other/)
  const hookCheck = bad.get('github.app.webhook')
  t.equal(hookCheck.status, 'fail')
  t.equal(hookCheck.detail, 'the App\'s webhook delivers to https://hooks.review.test/github, not to https://hooks.review.test/_wakegate/github')
  const deliveries = bad.get('github.app.deliveries')
  t.equal(deliveries.status, 'fail')
  t.match(deliveries.detail, /got failed to connect to host/)
  t.match(deliveries.fix, /GitHub could not connect/)

  const wrongKey = await doctor(config(gh, ['acme/web'], { github: { auth: { appId: 4242, privateKey: appKeys().privateKey }, webhookSecret: 'webhook-secret', apiUrl: gh.url } }))
  t.equal(wrongKey.get('github.auth').status, 'fail')
  t.match(wrongKey.get('github.auth').fix, /appId and the private key/)
  t.equal(wrongKey.get('github.acme/web.installation').status, 'skip')
})

t.test('Redis down: the store check fails naming host:port, never the password', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  await redis.stop()
  const url = `redis://:sekret-password@127.0.0.1:${redis.port}/0`
  const r = await doctor({ log: { level: 'silent' }, apps: [exampleApp()], store: { kind: 'redis', url } })
  t.equal(r.code, 1)
  const c = r.get('store.redis')
  t.equal(c.status, 'fail')
  t.match(c.detail, new RegExp(`cannot use Redis at 127\\.0\\.0\\.1:${redis.port}: .*ECONNREFUSED`))
  t.match(c.fix, new RegExp(`let the gateway reach 127\\.0\\.0\\.1:${redis.port}`))
  t.notMatch(r.out, /sekret/)
})

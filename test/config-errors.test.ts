import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './support/harness.js'
import { parseConfigText } from '../src/config/load.js'
import { ConfigError } from '../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'wakegate-config-'))
const base = `
apps:
  - name: web
    host: pr-{pr}.review.example.com
    backend:
      kind: local
      command: node server.js
`

function check (yaml: string, env: Record<string, string> = {}) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
  writeFileSync(file, yaml)
  const r = spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'check-config', '--config', file], {
    encoding: 'utf8', env: { ...process.env, ...env }, cwd: ROOT
  })
  return { code: r.status, out: r.stdout, err: r.stderr }
}

t.test('a valid config passes', async t => {
  const r = check(base)
  t.equal(r.code, 0, r.err)
  t.match(r.out, /app web: pr-\{pr\}\.review\.example\.com → local backend/)
})

const cases: Array<[string, string, RegExp]> = [
  ['missing apps', 'listen: { port: 8080 }\n', /apps: expected required property/],
  ['bad port', `listen: { port: 99999 }\n${base}`, /listen\.port: .*65535/],
  ['host without {pr}', base.replace('pr-{pr}.review', 'review'), /apps\[0\]\.host: host template must contain \{pr\}/],
  ['unknown backend kind', base.replace('kind: local', 'kind: k8s'), /apps\[0\]\.backend\.kind: expected one of "local", "ecs", got "k8s"/],
  ['local without command', base.replace('      command: node server.js\n', ''), /apps\[0\]\.backend\.command: expected required property/],
  ['bad duration', base + '    idleTimeout: soon\n', /apps\[0\]\.idleTimeout: expected a duration/],
  ['unknown field', base + '    colour: blue\n', /apps\[0\]\.colour: unexpected property/],
  ['bad app name', base.replace('name: web', 'name: Web_App'), /apps\[0\]\.name: /],
  ['ecs without cluster', base.replace('kind: local\n      command: node server.js', 'kind: ecs\n      taskDefinition: web\n      container: web'), /apps\[0\]\.backend\.cluster: expected required property/],
  ['ecs launchType and capacity providers', base.replace('kind: local\n      command: node server.js', 'kind: ecs\n      cluster: c\n      taskDefinition: web\n      container: web\n      launchType: EC2\n      capacityProviderStrategy: [{ capacityProvider: spot }]'), /apps\[0\]\.backend\.capacityProviderStrategy: use either launchType or capacityProviderStrategy/],
  ['duplicate app', base + base.replace('apps:\n', ''), /apps\[1\]\.name: duplicate app name "web"/],
  ['missing env var', `admin: { token: "\${NOPE_TOKEN}" }\n${base}`, /admin\.token: environment variable NOPE_TOKEN is not set/],
  ['admin off loopback without token', `admin: { host: 0.0.0.0 }\n${base}`, /admin\.token: required when the admin listener binds to 0\.0\.0\.0/],
  ['yaml syntax', 'apps: [\n  - name: x\n', /line \d+, column \d+/],
  ['top level not a mapping', '- a\n- b\n', /expected a mapping at the top level/],
  ['pr number zero', base + '    prs: [{ number: 0 }]\n', /apps\[0\]\.prs\[0\]\.number: /],
  ['unknown store kind', `store: { kind: etcd }\n${base}`, /store\.kind: expected one of "memory", "redis", got "etcd"/],
  ['redis store without url', `store: { kind: redis }\n${base}`, /store\.url: expected required property/],
  ['redis url of another scheme', `store: { kind: redis, url: "http://x" }\n${base}`, /store\.url: /],
  ['redis store bad lease', `store: { kind: redis, url: "redis://x", leaseTtl: later }\n${base}`, /store\.leaseTtl: expected a duration/],
  ['sentinels without a name', `store: { kind: redis, url: "redis://x", sentinels: [{ host: s1, port: 26379 }] }\n${base}`, /store\.sentinelName: required with sentinels/],
  ['memory store with a url', `store: { kind: memory, url: "redis://x" }\n${base}`, /store\.url: unexpected property/]
]

for (const [name, yaml, expected] of cases) {
  t.test(`bad config: ${name} → an error naming the field`, async t => {
    const err = (() => { try { parseConfigText(yaml, {}, dir, 'test.yaml'); return null } catch (e) { return e } })()
    t.type(err, ConfigError)
    t.match((err as Error).message, expected)
  })
}

// The CLI turns every one of those into exit code 2 with the message on stderr.
for (const [name, yaml, expected] of [cases[3], cases[6], cases[12], cases.find(c => c[0] === 'redis store without url')!]) {
  t.test(`wakegate check-config: ${name} → exit 2`, async t => {
    const r = check(yaml)
    t.equal(r.code, 2)
    t.match(r.err, expected)
  })
}

t.test('a missing file exits 2', async t => {
  const r = spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'check-config', '--config', join(dir, 'nope.yaml')], { encoding: 'utf8', cwd: ROOT })
  t.equal(r.status, 2)
  t.match(r.stderr, /cannot read .*nope\.yaml: ENOENT/)
})

t.test('the redis store: url from WAKEGATE_REDIS_URL, durations resolved', async t => {
  const c = parseConfigText(`store: { kind: redis, url: "redis://placeholder:6379" }\n${base}`, { WAKEGATE_REDIS_URL: 'redis://:s3cret@cache:6380/2' }, dir)
  t.same(c.store, { kind: 'redis', url: 'redis://:s3cret@cache:6380/2', keyPrefix: 'wakegate:', leaseTtl: 5000, resyncInterval: 30_000, internalPort: 0 })
  const m = parseConfigText(base, { WAKEGATE_REDIS_URL: 'redis://cache:6379' }, dir)
  t.same(m.store, { kind: 'memory' }, 'the variable does not turn a memory store into redis')
})

t.test('env var substitution and WAKEGATE_* overrides', async t => {
  const r = check(`admin: { token: "\${MY_TOKEN}" }\n${base}`, { MY_TOKEN: 'secret-token-123', WAKEGATE_LISTEN_PORT: '9999' })
  t.equal(r.code, 0, r.err)
})

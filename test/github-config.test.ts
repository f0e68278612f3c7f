import t from 'tap'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { validateConfig } from '../src/config/load.js'
import { ConfigError } from '../src/errors.js'
import { resolveGithubSettings, appPolicy } from '../src/github/config.js'
import { exampleApp, ROOT } from './support/harness.js'

const base = (github: Record<string, unknown> | undefined, app: Record<string, unknown> = {}) => ({
  listen: { host: '127.0.0.1', port: 0 },
  ...(github ? { github } : {}),
  apps: [exampleApp({ repo: 'acme/web', ...app })]
})

function problems (input: unknown, env: NodeJS.ProcessEnv = {}): string[] {
  try {
    validateConfig(input, env, ROOT)
    return []
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err
    return err.problems.map(p => `${p.path}: ${p.message}`)
  }
}

t.test('defaults: webhook path, API URL, per-app policies', async t => {
  const cfg = validateConfig(base({ auth: { token: 't0ken' }, webhookSecret: 'secret-123' }), {}, ROOT)
  const s = resolveGithubSettings(cfg)!
  t.equal(s.webhookPath, '/_wakegate/github')
  t.equal(s.apiUrl, 'https://api.github.com')
  t.same(s.auth, { kind: 'token', token: 't0ken' })
  t.equal(s.deliveryTtl, 72 * 3_600_000)
  const p = appPolicy(cfg.apps[0])
  t.equal(p.skipDrafts, true)
  t.equal(p.allowForks, false)
  t.equal(p.warm, false)
  t.equal(p.waitForCi, false)
  t.equal(p.deploymentEnvironment, 'pr-{pr}')
  t.equal(p.tombstone, 7 * 86_400_000)
  t.equal(resolveGithubSettings(validateConfig(base(undefined), {}, ROOT)), undefined, 'no section: off')
})

t.test('secrets from ${VAR} and WAKEGATE_GITHUB_* overrides', async t => {
  const cfg = validateConfig(base({ auth: { token: '${GH_TOKEN}' }, webhookSecret: '${HOOK_SECRET}' }), { GH_TOKEN: 'from-var', HOOK_SECRET: 'hook-secret-1' }, ROOT)
  t.same(resolveGithubSettings(cfg)!.auth, { kind: 'token', token: 'from-var' })
  const env = { WAKEGATE_GITHUB_APP_ID: '123', WAKEGATE_GITHUB_PRIVATE_KEY: '-----BEGIN RSA PRIVATE KEY-----\\nabc\\n-----END RSA PRIVATE KEY-----', WAKEGATE_GITHUB_WEBHOOK_SECRET: 'env-secret-1', WAKEGATE_GITHUB_INSTALLATION_ID: '9', WAKEGATE_GITHUB_API_URL: 'https://ghe.example.com/api/v3/' }
  const s = resolveGithubSettings(validateConfig(base({ auth: {} }), env, ROOT))!
  t.same(s.auth, { kind: 'app', appId: 123, privateKey: '-----BEGIN RSA PRIVATE KEY-----\nabc\n-----END RSA PRIVATE KEY-----', installationId: 9 })
  t.equal(s.webhookSecret, 'env-secret-1')
  t.equal(s.apiUrl, 'https://ghe.example.com/api/v3')
})

t.test('privateKeyFile is read relative to the config file', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-key-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'app.pem'), '-----BEGIN RSA PRIVATE KEY-----\nxyz\n-----END RSA PRIVATE KEY-----\n')
  const cfg = validateConfig(base({ auth: { appId: 5, privateKeyFile: 'app.pem' }, webhookSecret: 'secret-123' }), {}, dir)
  const s = resolveGithubSettings(cfg)!
  t.equal(s.auth.kind === 'app' && s.auth.privateKey.includes('xyz'), true)
  t.match(problems(base({ auth: { appId: 5, privateKeyFile: 'missing.pem' }, webhookSecret: 'secret-123' })), ['github.auth.privateKeyFile: cannot read missing.pem: ENOENT'])
})

t.test('mistakes are reported with their field path', async t => {
  t.same(problems(base({ auth: {}, webhookSecret: 'secret-123' })), ['github.auth: give token (WAKEGATE_GITHUB_TOKEN) or appId + privateKey (GitHub App)'])
  t.same(problems(base({ auth: { token: 'x', appId: 1 }, webhookSecret: 'secret-123' })), ['github.auth: use either token or appId + privateKey, not both'])
  t.same(problems(base({ auth: { appId: 1 }, webhookSecret: 'secret-123' })), ['github.auth.privateKey: a GitHub App needs privateKey or privateKeyFile'])
  t.same(problems(base({ auth: { appId: 1, privateKey: 'not a key' }, webhookSecret: 'secret-123' })), ['github.auth.privateKey: expected a PEM private key (-----BEGIN RSA PRIVATE KEY----- …)'])
  t.match(problems(base({ auth: { token: 'x' } })), [/^github.webhookSecret: /])
  t.match(problems(base({ auth: { token: 'x' }, webhookSecret: 'short' })), [/^github.webhookSecret: /])
  t.match(problems(base({ auth: { token: 'x' }, webhookSecret: 'secret-123', webhookPath: 'hooks' })), [/^github.webhookPath: /])
  t.match(problems(base({ auth: { token: 'x' }, webhookSecret: 'secret-123' }, { github: { deploymentEnvironment: 'review' } })), ['apps[0].github.deploymentEnvironment: must contain {pr} (one environment per PR)'])
  t.match(problems(base({ auth: { token: 'x' }, webhookSecret: 'secret-123' }, { github: { maxRunning: 0 } })), [/^apps\[0\]\.github\.maxRunning: /])
  t.match(problems(base({ auth: { token: 'x' }, webhookSecret: 'secret-123' }, { github: { warm: 'yes' } })), [/^apps\[0\]\.github\.warm: /])
  t.match(problems(base({ auth: { token: 'x' }, webhookSecret: 'secret-123' }, { repo: undefined })), ['apps: the github section is set but no app has a repo (owner/name)'])
})

t.test('check-config prints the github section', async t => {
  const { githubSummary } = await import('../src/github/cli.js')
  const cfg = validateConfig(base({ auth: { token: 'x' }, webhookSecret: 'secret-123', webhookHost: 'hooks.example.com' }, { github: { warm: true, requireLabel: 'review-app' } }), {}, ROOT)
  t.equal(githubSummary(cfg), '  github: token; webhook hooks.example.com/_wakegate/github; API https://api.github.com\n    acme/web → app example: warm, skip drafts, label review-app\n')
})

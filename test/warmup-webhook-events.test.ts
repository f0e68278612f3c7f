// Comment mentions need issue_comment deliveries: `github register` subscribes to them when an
// app of the repo warms on comments (and drops them when none does), and doctor warns about a
// hook that lacks them.
import t from 'tap'
import { FakeGitHub } from './support/fake-github.js'
import { testConfig, exampleApp } from './support/harness.js'
import { resolveGithubSettings } from '../src/github/config.js'
import { githubCommand } from '../src/github/cli.js'
import { wantsComments } from '../src/github/register.js'
import { hookCheck } from '../src/doctor/github-hooks.js'

const REPO = 'acme/web'
const URL = 'https://hooks.review.example.com'

function config (gh: FakeGitHub, warmup?: Record<string, unknown>) {
  return testConfig({ github: { auth: { token: gh.token }, webhookSecret: 'webhook-secret', apiUrl: gh.url } }, [exampleApp({ repo: REPO, ...(warmup ? { warmup } : {}) })])
}

async function register (gh: FakeGitHub, warmup?: Record<string, unknown>): Promise<string> {
  let out = ''
  const code = await githubCommand(config(gh, warmup), ['register'], { repo: REPO, url: URL }, s => { out += s }, s => { out += s })
  if (code !== 0) throw new Error(out)
  return out
}

t.test('register subscribes to issue_comment only for an app that warms on comments', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  t.equal(wantsComments(config(gh).apps, REPO), false)
  t.equal(wantsComments(config(gh, { commentMention: false }).apps, REPO), false)
  t.equal(wantsComments(config(gh, {}).apps, 'ACME/Web'), true)
  t.equal(wantsComments(config(gh, {}).apps, 'acme/other'), false)

  await register(gh, {})
  t.same(gh.hooks[0].events, ['check_suite', 'issue_comment', 'pull_request', 'status'])
  t.match(await register(gh, {}), /is up to date/)
  t.match(await register(gh), /events check_suite, issue_comment, pull_request, status → check_suite, pull_request, status/, 'warm-ups on comments turned off: the hook stops sending them')
  t.same(gh.hooks[0].events, ['check_suite', 'pull_request', 'status'])
  t.equal(gh.hooks.length, 1)
})

t.test('doctor: a hook without issue_comment is a warning when comments warm', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  const s = resolveGithubSettings(config(gh))!
  const hook = { id: 7, url: 'https://x.example/_wakegate/github', contentType: 'json', active: true, events: ['check_suite', 'pull_request', 'status'] }
  t.equal(hookCheck('h', 'hook', hook, s, false, 'fix').status, 'ok')
  const warn = hookCheck('h', 'hook', hook, s, false, 'fix', true)
  t.equal(warn.status, 'warn')
  t.equal(warn.detail, 'hook #7 does not send issue_comment, which warmup.commentMention needs')
  t.equal(hookCheck('h', 'hook', { ...hook, events: [...hook.events, 'issue_comment'] }, s, false, 'fix', true).status, 'ok')
  t.equal(hookCheck('h', 'hook', { ...hook, events: ['*'] }, s, false, 'fix', true).status, 'ok')
})

import t from 'tap'
import { githubGateway, HOOK_HOST, SECRET } from './support/fake-github-gateway.js'
import { prEvent, sendWebhook, sign } from './support/fake-github.js'

t.test('missing, malformed or wrong signatures get 401 and change nothing', async t => {
  const g = await githubGateway(t, { policy: { warm: true } })
  const pull = g.pull(5)
  const payload = prEvent('opened', pull)
  const body = JSON.stringify(payload)
  const cases: Array<[string, string | null]> = [
    ['no signature', null],
    ['empty signature', ''],
    ['not hex', 'sha256=zzzz'],
    ['sha1 form', 'sha1=' + 'a'.repeat(40)],
    ['wrong secret', sign('another-secret', body)],
    ['signature of another body', sign(SECRET, body + ' ')]
  ]
  for (const [what, signature] of cases) {
    const res = await g.send('pull_request', payload, { signature })
    t.equal(res.status, 401, what)
    t.equal(res.body.error, 'WAKEGATE_BAD_SIGNATURE', what)
  }
  t.equal(g.h.wg.manager.envs.size, 0, 'no env registered')
  t.equal(g.starts(), 0, 'nothing started')
  await g.settle()
  t.equal(g.gh.calls.length, 0, 'no GitHub API call')
  t.equal(g.github.webhooks.counters.rejected, cases.length)

  // A rejected delivery id is not remembered: the genuine delivery goes through.
  const id = 'delivery-after-bad-signature'
  t.equal((await g.send('pull_request', payload, { id, signature: sign('nope-nope', body) })).status, 401)
  const ok = await g.send('pull_request', payload, { id })
  t.equal(ok.status, 200)
  t.equal(ok.body.results[0].action, 'registered')
})

t.test('a signed body that is changed in transit is rejected', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(6)
  const payload = prEvent('opened', pull)
  const signature = sign(SECRET, JSON.stringify(payload))
  payload.pull_request.head.sha = 'f'.repeat(40)
  const res = await g.send('pull_request', payload, { signature })
  t.equal(res.status, 401)
  t.equal(g.h.wg.manager.envs.size, 0)
})

t.test('events wakegate does not use get 204; ping gets 200', async t => {
  const g = await githubGateway(t)
  const issues = await g.send('issues', { action: 'opened', repository: { full_name: 'acme/web' } })
  t.equal(issues.status, 204)
  const push = await g.send('push', { ref: 'refs/heads/main', repository: { full_name: 'acme/web' } })
  t.equal(push.status, 204)
  const ping = await g.send('ping', { zen: 'Keep it logically awesome.', hook_id: 1 })
  t.equal(ping.status, 200)
  t.same(ping.body, { ok: true })
  t.equal(g.h.wg.manager.envs.size, 0)
  // Unsigned unknown events are still unauthorized.
  t.equal((await g.send('issues', { action: 'opened' }, { signature: null })).status, 401)
})

t.test('the webhook is served on its host and path only', async t => {
  const g = await githubGateway(t)
  const pull = g.pull(7)
  const payload = prEvent('opened', pull)
  const wrongHost = await sendWebhook(g.h.url, { event: 'pull_request', payload, secret: SECRET, host: 'elsewhere.test' })
  t.equal(wrongHost.status, 404, 'other hosts do not serve the webhook')
  const envHost = await sendWebhook(g.h.url, { event: 'pull_request', payload, secret: SECRET, host: 'pr-999.review.test' })
  t.equal(envHost.status, 404, 'env hosts never do (PR 999 does not exist)')
  const wrongPath = await sendWebhook(g.h.url, { event: 'pull_request', payload, secret: SECRET, host: HOOK_HOST, path: '/github' })
  t.equal(wrongPath.status, 404)
  t.equal(g.h.wg.manager.envs.size, 0)
  t.equal(g.starts(), 0)
  const ok = await sendWebhook(g.h.url, { event: 'pull_request', payload, secret: SECRET, host: `${HOOK_HOST.toUpperCase()}:443` })
  t.equal(ok.status, 200, 'host match ignores case and port')
})

t.test('invalid JSON with a valid signature is a 400', async t => {
  const g = await githubGateway(t)
  const { request } = await import('undici')
  const body = '{"action": "opened", '
  const res = await request(`${g.h.url}/_wakegate/github`, {
    method: 'POST',
    headers: { host: HOOK_HOST, 'content-type': 'application/json', 'x-github-event': 'pull_request', 'x-github-delivery': 'd1', 'x-hub-signature-256': sign(SECRET, body) },
    body
  })
  t.equal(res.statusCode, 400)
  await res.body.text()
  t.equal(g.h.wg.manager.envs.size, 0)
})

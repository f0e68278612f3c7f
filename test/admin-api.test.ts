import t from 'tap'
import { request } from 'undici'
import { startGateway, testConfig } from './support/harness.js'

const TOKEN = 'test-admin-token-123'

t.test('the admin API registers PRs, wakes and sleeps envs, and needs the token', async t => {
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }))
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!
  const auth = { authorization: `Bearer ${TOKEN}` }

  const denied = await request(`${admin}/api/envs`)
  t.equal(denied.statusCode, 401)
  await denied.body.dump()
  const wrong = await request(`${admin}/api/envs`, { headers: { authorization: 'Bearer nope' } })
  t.equal(wrong.statusCode, 401)
  await wrong.body.dump()

  t.equal((await h.get('pr-7.review.test', '/info')).status, 404, 'PR 7 is unknown at first')
  const reg = await request(`${admin}/api/envs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ app: 'example', pr: 7, branch: 'fix/x', sha: 'c0ffee77' }) })
  t.equal(reg.statusCode, 201)
  const view = await reg.body.json() as Record<string, unknown>
  t.equal(view.state, 'asleep')
  t.equal(view.url, 'https://pr-7.review.test/')

  const bad = await request(`${admin}/api/envs`, { method: 'POST', headers: { ...auth, 'content-type': 'application/json' }, body: JSON.stringify({ app: 'example', pr: -1 }) })
  t.equal(bad.statusCode, 400, 'invalid body rejected')
  await bad.body.dump()

  const served = await h.get('pr-7.review.test', '/info')
  t.equal(JSON.parse(served.body).branch, 'fix/x')

  const sleepRes = await request(`${admin}/api/envs/example/7/sleep`, { method: 'POST', headers: auth })
  t.equal(sleepRes.statusCode, 202)
  await sleepRes.body.dump()
  const list = await (await request(`${admin}/api/envs`, { headers: auth })).body.json() as { envs: Array<{ key: string, state: string }> }
  t.ok(['stopping', 'asleep'].includes(list.envs.find(e => e.key === 'example/7')!.state))

  const metrics = await (await request(`${admin}/metrics`, { headers: auth })).body.text()
  t.match(metrics, /wakegate_task_starts_total 1/)
  t.match(metrics, /wakegate_transitions_total\{from="waking",to="running"\} 1/)
  t.match(metrics, /wakegate_envs\{app="example",state="/)

  const health = await request(`${admin}/healthz`)
  t.equal(health.statusCode, 200, 'health needs no token')
  await health.body.dump()
  const ready = await request(`${admin}/readyz`)
  t.same(await ready.body.json(), { ready: true, store: { kind: 'memory', healthy: true } })
})

import t from 'tap'
import { Agent, request } from 'undici'
import { startGateway, testConfig, exampleApp, waitFor, sleep } from './support/harness.js'

t.test('3 redeploys under keep-alive load: 0 failed requests, only g or g+1 answers, new generation after each switch', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ drainTimeout: '2s' })]))
  t.teardown(() => h.close())
  const m = h.wg.manager
  const env = m.envs.get('example/1')!
  await h.get('pr-1.review.test', '/info')
  const shas = ['aaaaaaa1', 'sha-two', 'sha-three', 'sha-four']
  const switchedAt: number[] = [0]
  m.on('switched', (e) => { if (e === env) switchedAt.push(performance.now()) })

  const agent = new Agent({ connections: 50, pipelining: 1, keepAliveTimeout: 30_000 })
  t.teardown(() => agent.close())
  const TOTAL = 20_000
  let sent = 0
  let failed = 0
  const answers: Array<{ started: number, sha: string }> = []
  const client = async () => {
    while (sent < TOTAL) {
      sent++
      const started = performance.now()
      try {
        const res = await request(`${h.url}/info`, { headers: { host: 'pr-1.review.test' }, dispatcher: agent })
        const body = await res.body.text()
        if (res.statusCode !== 200) { failed++; continue }
        answers.push({ started, sha: JSON.parse(body).sha })
      } catch {
        failed++
      }
    }
  }
  const load = Promise.all(Array.from({ length: 50 }, client))
  for (const sha of shas.slice(1)) {
    await waitFor(() => sent > answers.length / 2 + 2000 || sent >= TOTAL, 30_000, 'some load first')
    const before = switchedAt.length
    m.redeploy(env, sha, 'test')
    await waitFor(() => switchedAt.length > before, 30_000, `switch to ${sha}`)
    await sleep(50)
  }
  await load

  t.equal(failed, 0, '0 failed requests')
  t.equal(answers.length, TOTAL, `${TOTAL} answered`)
  t.equal(switchedAt.length, 4, 'three switches')
  let wrong = 0
  for (const a of answers) {
    const idx = shas.indexOf(a.sha)
    // Generation live when the request started: the last switch before it (or the next one, mid-switch).
    let g = 0
    while (g + 1 < switchedAt.length && switchedAt[g + 1] <= a.started) g++
    if (idx !== g && idx !== g + 1) wrong++
  }
  t.equal(wrong, 0, 'every response came from generation g or g+1')
  const afterLast = answers.filter(a => a.started > switchedAt[3] + 1)
  t.ok(afterLast.length > 0, 'requests after the last switch')
  t.ok(afterLast.every(a => a.sha === 'sha-four'), 'responses after the switch come from the new generation')
  await waitFor(() => env.draining.size === 0, 20_000, 'drains finished')
  const tasks = await h.backends.get('example')!.inner.list()
  t.equal(tasks.length, 1, 'only the current task is left')
  t.equal(tasks[0].sha, 'sha-four')
})

import t from 'tap'
import { request } from 'undici'
import { startGateway, testConfig, exampleApp, waitFor, alive } from './support/harness.js'

// drainTimeout 200 ms + drainRequestTimeout 1.2 s: a request on the old generation may run
// about 1.4 s after the switch before it is cut and the old task stopped.
const config = () => testConfig({}, [exampleApp({ drainTimeout: '200ms', drainRequestTimeout: '1200ms' })])

async function switchWith (slowMs: number) {
  const h = await startGateway(config())
  const env = h.wg.manager.envs.get('example/1')!
  const old = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  const slow = request(`${h.url}/slow?ms=${slowMs}`, { headers: { host: 'pr-1.review.test' } })
    .then(async r => ({ status: r.statusCode, body: await r.body.text(), error: r.headers['x-wakegate-error'] }), (err: Error) => ({ status: 0, body: '', error: err.message }))
  await waitFor(() => env.inflight === 1, 5_000, 'slow request in flight')
  h.wg.manager.redeploy(env, 'bbbbbbb3', 'test')
  await waitFor(() => env.runningSha === 'bbbbbbb3', 20_000, 'switch')
  return { h, env, oldPid: old.pid as number, slow }
}

t.test('a slow request on the old generation is waited for past drainTimeout; the old task stops after it', async t => {
  const { h, env, oldPid, slow } = await switchWith(700)
  t.teardown(() => h.close())
  t.equal(env.draining.size, 1, 'the old generation drains')
  const res = await slow
  t.same(res, { status: 200, body: 'slept 700\n', error: undefined }, 'answered in full by the old task')
  await waitFor(() => !alive(oldPid), 10_000, 'old task stopped')
  t.equal(env.draining.size, 0)
  t.equal(h.backends.get('example')!.calls.stop, 1, 'one stop: the old generation')
})

t.test('a request still running after drainTimeout + drainRequestTimeout is cut and the old task stopped', async t => {
  const { h, env, oldPid, slow } = await switchWith(8_000)
  t.teardown(() => h.close())
  const res = await slow
  t.not(res.status, 200, `cut, not answered (${res.status} ${res.error})`)
  await waitFor(() => !alive(oldPid), 10_000, 'old task stopped')
  t.equal(env.draining.size, 0)
  t.equal(h.backends.get('example')!.calls.stop, 1)
  t.match(env.recent.map(e => e.message).join('\n'), /generation 1 drained and stopped/)
})

import t from 'tap'
import WebSocket from 'ws'
import { startGateway, testConfig, exampleApp, sleep } from './support/harness.js'

function open (url: string, host: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { host } })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

function echo (ws: WebSocket, msg: string): Promise<string> {
  return new Promise(resolve => {
    ws.once('message', data => resolve(data.toString()))
    ws.send(msg)
  })
}

t.test('a WebSocket through the gateway echoes messages, waking the env if needed', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const ws = await open(`${h.url.replace('http', 'ws')}/ws`, 'pr-1.review.test')
  t.equal(await echo(ws, 'hello'), 'hello')
  const big = 'x'.repeat(200_000)
  t.equal(await echo(ws, big), big, 'large frames pass intact')
  t.equal(h.wg.manager.envs.get('example/1')!.streams, 1, 'the tunnel counts as a stream')
  ws.close()
  await sleep(100)
  t.equal(h.wg.manager.envs.get('example/1')!.streams, 0)
})

t.test('an open WebSocket keeps its env awake past the idle timeout', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ idleTimeout: '300ms' })]), { reapInterval: 50 })
  t.teardown(() => h.close())
  const ws = await open(`${h.url.replace('http', 'ws')}/ws`, 'pr-1.review.test')
  const env = h.wg.manager.envs.get('example/1')!
  await sleep(1200)
  t.equal(env.state, 'running', 'still running after 4× the idle timeout')
  t.equal(await echo(ws, 'still here'), 'still here')
  ws.close()
  await sleep(1000)
  t.equal(env.state, 'asleep', 'stopped once the socket closed and the timeout passed')
})

t.test('a WebSocket to an unknown PR is refused without a backend call', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  await t.rejects(open(`${h.url.replace('http', 'ws')}/ws`, 'pr-999.review.test'), /404/)
  t.equal(h.backends.get('example')!.total, 0)
})

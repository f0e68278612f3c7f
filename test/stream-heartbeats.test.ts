// A forgotten tab is not a reviewer: a WebSocket whose only traffic is engine.io-style "2"/"3"
// heartbeats, or an event stream of comments only, stops counting as activity
// streamQuietTimeout after its last real traffic, and the env then goes to sleep after its
// idle timeout — while the same streams carrying real messages keep it awake.
import t from 'tap'
import http from 'node:http'
import WebSocket from 'ws'
import { startGateway, testConfig, exampleApp, waitFor, sleep, ROOT } from './support/harness.js'

const CHATTY = `exec node ${JSON.stringify(`${ROOT}/test/fixtures/chatty-app.mjs`)}`
const HOST = 'pr-1.review.test'
/** Idle timeout and quiet timeout of these tests: a stream stops counting after QUIET, the env sleeps IDLE later. */
const IDLE = 600
const QUIET = 1500

function chatty () {
  return testConfig({}, [exampleApp({ idleTimeout: `${IDLE}ms`, streamQuietTimeout: `${QUIET}ms`, health: { path: '/healthz' }, backend: { kind: 'local', command: CHATTY, stopGrace: '1s' } })])
}

function openWs (url: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { host: HOST } })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

/** An event stream read through the gateway; counts comments and data events. */
function openSse (port: number, path: string): Promise<{ comments: () => number, data: () => number, closed: Promise<void>, close: () => void }> {
  return new Promise((resolve, reject) => {
    let comments = 0
    let data = 0
    const req = http.get({ host: '127.0.0.1', port, path, headers: { host: HOST, accept: 'text/event-stream' } }, res => {
      if (res.statusCode !== 200) { reject(new Error(`status ${res.statusCode}`)); return }
      const closed = new Promise<void>(done => res.once('close', done))
      res.setEncoding('utf8')
      res.on('data', (s: string) => {
        for (const line of s.split('\n')) { if (line.startsWith(':')) comments++; else if (line.startsWith('data:')) data++ }
      })
      resolve({ comments: () => comments, data: () => data, closed, close: () => req.destroy() })
    })
    req.on('error', reject)
  })
}

t.test('a WebSocket of "2"/"3" heartbeats stops counting; one with real messages keeps the env awake', async t => {
  const h = await startGateway(chatty(), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!

  // Real messages (a new one every 100 ms) for 3× (QUIET + IDLE): the env stays up throughout.
  const busy = await openWs(`${h.url.replace('http', 'ws')}/echo`)
  let n = 0
  let echoed = 0
  busy.on('message', () => { echoed++ })
  const sending = setInterval(() => busy.send(`{"type":"edit","n":${++n}}`), 100)
  const until = Date.now() + 3 * (QUIET + IDLE)
  let stayed = true
  while (Date.now() < until) {
    if (env.state !== 'running') stayed = false
    await sleep(50)
  }
  clearInterval(sending)
  t.ok(stayed, 'running all along while real messages went through')
  t.ok(echoed > 30, `the messages went both ways (${echoed} echoes)`)
  busy.close()
  await waitFor(() => env.state === 'asleep', 10_000, 'sleep after the busy socket closed')
  t.equal(h.backends.get('example')!.calls.start, 1)

  await t.rejects(openWs(`${h.url.replace('http', 'ws')}/eio`), /503/, 'a socket does not wake an env the idle policy put to sleep')
  t.equal(h.backends.get('example')!.calls.start, 1)
  t.equal((await h.get(HOST, '/')).status, 200, 'a request does')

  // Heartbeats only: the server pings "2" every 50 ms, the client answers "3".
  const tab = await openWs(`${h.url.replace('http', 'ws')}/eio?ping=50`)
  let pings = 0
  tab.on('message', d => { if (String(d) === '2') { pings++; tab.send('3') } })
  const closed = new Promise(resolve => tab.once('close', resolve))
  t.equal(h.backends.get('example')!.calls.start, 2)
  await waitFor(() => env.state === 'stopping' || env.state === 'asleep', 10_000, 'sleep despite the open socket')
  t.ok(pings > 20, `heartbeats went on while the env was let go (${pings} pings answered)`)
  t.equal(env.sleptBy, 'policy', 'put to sleep by the idle policy')
  await closed
  t.pass('the socket was closed by the stop, not by the client')
})

t.test('an event stream of comments stops counting; one with data events keeps the env awake', async t => {
  const h = await startGateway(chatty(), { reapInterval: 50 })
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!
  t.equal((await h.get(HOST, '/')).status, 200)

  const live = await openSse(h.port, '/sse?data=100&comment=50')
  const until = Date.now() + 3 * (QUIET + IDLE)
  let stayed = true
  while (Date.now() < until) {
    if (env.state !== 'running') stayed = false
    await sleep(50)
  }
  t.ok(stayed, 'running all along while data events flowed')
  t.ok(live.data() > 30, `data events arrived (${live.data()})`)
  live.close()
  await waitFor(() => env.state === 'asleep', 10_000, 'sleep after the stream closed')

  t.equal((await h.get(HOST, '/')).status, 200, 'woken by a request')
  const forgotten = await openSse(h.port, '/sse?comment=50')
  await waitFor(() => env.state === 'stopping' || env.state === 'asleep', 10_000, 'sleep despite the open stream')
  t.ok(forgotten.comments() > 20, `comments kept coming (${forgotten.comments()})`)
  t.equal(forgotten.data(), 0, 'and nothing else')
  await forgotten.closed
  t.pass('the stream was ended by the stop')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  await t.rejects(openSse(h.port, '/sse?comment=50'), /status 503/, 'its reconnect does not wake the env')
  t.equal(h.backends.get('example')!.calls.start, 2)
  t.equal(env.state, 'asleep')
})

import t from 'tap'
import WebSocket from 'ws'
import { twoReplicas, get } from './support/replicas.js'
import { sleep, waitFor } from './support/harness.js'

t.test('idle stops see every replica: traffic only through one, or a WebSocket open on one, keeps the env awake', async t => {
  const { set, leader, follower } = await twoReplicas(t, { app: { idleTimeout: '2s' } })

  const first = await get(follower, '/info', 5)
  t.equal(first.status, 200)
  const pid = JSON.parse(first.body).pid

  // 5 s (2.5 idle timeouts) of requests through the replica that does not run the reaper.
  for (let i = 0; i < 10; i++) {
    await sleep(500)
    t.equal((await get(follower, '/info', 5)).status, 200)
  }
  t.same(set.tasks().map(x => x.pid), [pid], 'traffic through the follower kept the task running')

  // A WebSocket on the follower, silent for 5 s.
  const ws = new WebSocket(`${follower.url.replace('http', 'ws')}/ws`, { headers: { host: 'pr-5.review.test' } })
  await new Promise((resolve, reject) => { ws.once('open', resolve); ws.once('error', reject) })
  await sleep(5000)
  t.same(set.tasks().map(x => x.pid), [pid], 'an open WebSocket on the follower kept it running')
  const echo = new Promise(resolve => ws.once('message', d => resolve(String(d))))
  ws.send('still here')
  t.match(await echo, /still here/, 'the tunnel still works')
  ws.close()

  await waitFor(() => set.tasks().length === 0, 10_000, 'idle stop once the socket closed')
  t.pass('the env stopped once nothing was open and nobody came')
  t.equal(set.starts().length, 1, 'one start so far')
  const again = await get(leader, '/info', 5)
  t.equal(again.status, 200, 'a request through the other replica wakes it again')
  t.equal(set.starts().length, 2)
})

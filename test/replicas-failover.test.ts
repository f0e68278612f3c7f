import t from 'tap'
import { twoReplicas, get } from './support/replicas.js'
import { waitFor } from './support/harness.js'

t.test('SIGKILL of the leader mid-wake: a replica takes over, adopts the starting task, the held request is served; one task', async t => {
  // The app answers its health check only after a second, so the wake is surely in flight.
  const { set, leader, follower } = await twoReplicas(t, { app: { env: { READY_AFTER_MS: '1500' } } })

  const held = get(follower, '/info', 7)
  await waitFor(() => set.starts().length === 1, 15_000, 'the leader started the task')
  leader.child.kill('SIGKILL')
  await leader.exited

  const res = await held
  t.equal(res.status, 200, `the request held on the surviving replica is served (${res.body.slice(0, 200)})`)
  t.equal((await set.health(follower))?.leader, true, 'the surviving replica leads')
  t.equal(set.starts().length, 1, 'no second task was started')
  t.equal(set.tasks().length, 1, 'one live task')
  const started = Number(set.starts()[0].split(' ')[1])
  t.equal(JSON.parse(res.body).pid, started, 'served by the task the dead leader started')
  t.equal(set.tasks()[0].pid, started)
})

t.test('a replica stopped gracefully hands over at once; a new replica joins as a follower', async t => {
  const { set, leader, follower } = await twoReplicas(t)
  const first = await get(follower, '/info', 3)
  t.equal(first.status, 200)
  const pid = JSON.parse(first.body).pid

  leader.child.kill('SIGTERM')
  t.equal(await leader.exited, 0, 'the leader exits cleanly')
  t.equal((await set.leader()).name, follower.name, 'the follower leads')
  const again = await get(follower, '/info', 3)
  t.equal(again.status, 200)
  t.equal(JSON.parse(again.body).pid, pid, 'the env kept its task across the handover')

  const c = await set.spawn('c')
  const viaC = await get(c, '/info', 3)
  t.equal(JSON.parse(viaC.body).pid, pid, 'a new replica serves the same task')
  t.equal((await set.health(c))?.leader, false, 'and follows')
  t.equal(set.starts().length, 1, 'one task start in all')
})

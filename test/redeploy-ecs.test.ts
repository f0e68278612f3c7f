import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Agent, request } from 'undici'
import { stringify } from 'yaml'
import { startGateway, testConfig, waitFor, spawnServe } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp, ecsBackend } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

t.test('ECS: 5 pushes in quick succession leave exactly the last SHA running and no other task', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake, { drainTimeout: '300ms' })]))
  t.teardown(() => h.close())
  const m = h.wg.manager
  const env = m.envs.get('example/1')!
  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  for (let i = 1; i <= 5; i++) {
    m.redeploy(env, `push-${i}`, 'test')
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  await waitFor(() => env.runningSha === 'push-5' && env.m.pending === 0 && env.draining.size === 0, 30_000, 'last push running')
  t.equal(JSON.parse((await h.get('pr-1.review.test', '/info')).body).sha, 'push-5')
  await waitFor(() => fake.tasks.filter(x => x.desiredStatus === 'RUNNING').length === 1, 10_000, 'one task wanted')
  const running = fake.tasks.filter(x => x.desiredStatus === 'RUNNING')
  t.equal(running.length, 1, 'no leftover tasks')
  t.equal(running[0].tags.find(tag => tag.key === 'wakegate:sha')?.value, 'push-5')
  t.ok(fake.count('RunTask') <= 6, `at most one RunTask per push (${fake.count('RunTask')})`)
})

t.test('ECS: SIGTERM under load loses no request, exits 0 and leaves the task for the next gateway to adopt', async t => {
  const fake = await FakeAws.start()
  t.teardown(() => fake.close())
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-ecs-restart-'))
  const file = join(dir, 'wakegate.yaml')
  writeFileSync(file, stringify({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { enabled: false },
    proxy: { shutdownGrace: '5s' },
    apps: [{ name: 'example', host: 'pr-{pr}.review.test', health: { path: '/healthz' }, prs: [{ number: 1, branch: 'main', sha: 'c0ffee01' }], backend: ecsBackend(fake) }]
  }))
  const spawnGateway = () => spawnServe(file)

  const first = await spawnGateway()
  const agent = new Agent({ connections: 20, keepAliveTimeout: 30_000 })
  t.teardown(() => agent.close())
  const pid = JSON.parse(await (await request(`${first.url}/info`, { headers: { host: 'pr-1.review.test' }, dispatcher: agent })).body.text()).pid
  let ok = 0
  const errors: string[] = []
  const client = async () => {
    for (;;) {
      try {
        const res = await request(`${first.url}/slow?ms=10`, { headers: { host: 'pr-1.review.test' }, dispatcher: agent })
        await res.body.text()
        if (res.statusCode === 200) ok++
        else errors.push(`status ${res.statusCode}`)
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'ECONNREFUSED') errors.push(String(err))
        return
      }
    }
  }
  const load = Promise.all(Array.from({ length: 20 }, client))
  await waitFor(() => ok > 200, 20_000, 'load running')
  first.child.kill('SIGTERM')
  t.equal(await first.exited, 0, 'exit code 0')
  await load
  t.same(errors, [], '0 failed requests')
  t.equal(fake.tasks.filter(x => x.lastStatus === 'RUNNING').length, 1, 'the task outlives the gateway')
  t.equal(fake.count('StopTask'), 0, 'the gateway did not stop it')

  const runTasks = fake.count('RunTask')
  const second = await spawnGateway()
  t.teardown(() => { second.child.kill('SIGTERM') })
  const res = await request(`${second.url}/info`, { headers: { host: 'pr-1.review.test' } })
  const info = JSON.parse(await res.body.text())
  t.equal(info.pid, pid, 'the restarted gateway serves the same task')
  t.equal(res.headers['x-wakegate-cold-start'], undefined, 'no cold start')
  t.equal(fake.count('RunTask'), runTasks, 'no new RunTask')
  second.child.kill('SIGTERM')
  t.equal(await second.exited, 0)
})

import t from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request, Agent } from 'undici'
import { EXAMPLE_COMMAND, alive, waitFor, spawnServe } from './support/harness.js'

function configFile (): string {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-shutdown-'))
  const file = join(dir, 'wakegate.yaml')
  writeFileSync(file, `
listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
proxy: { shutdownGrace: 5s }
apps:
  - name: example
    host: pr-{pr}.review.test
    health: { path: /healthz }
    anyPr: true
    backend: { kind: local, command: ${JSON.stringify(EXAMPLE_COMMAND)}, stopGrace: 2s }
`)
  return file
}

const spawnGateway = () => spawnServe(configFile())

t.test('SIGTERM: in-flight requests finish, task processes are stopped, exit code 0', async t => {
  const { child, exited, url } = await spawnGateway()

  const pids: number[] = []
  for (const pr of [1, 2]) {
    const res = await request(`${url}/info`, { headers: { host: `pr-${pr}.review.test` } })
    pids.push(JSON.parse(await res.body.text()).pid)
  }
  t.ok(pids.every(alive), 'two task processes running')

  const slow = request(`${url}/slow?ms=800`, { headers: { host: 'pr-1.review.test' } }).then(async r => ({ status: r.statusCode, body: await r.body.text() }))
  await new Promise(resolve => setTimeout(resolve, 150))
  child.kill('SIGTERM')
  const done = await slow
  t.equal(done.status, 200, 'the in-flight request completed')
  t.equal(done.body, 'slept 800\n')
  t.equal(await exited, 0, 'exit code 0')
  await waitFor(() => pids.every(p => !alive(p)), 5000, 'tasks gone')
  t.ok(pids.every(p => !alive(p)), 'no orphan task processes')
  await t.rejects(request(`${url}/info`, { headers: { host: 'pr-1.review.test' } }), 'no longer accepting')
})

t.test('SIGTERM under keep-alive load: 0 failed in-flight requests, exit code 0', async t => {
  const { child, exited, url } = await spawnGateway()
  const agent = new Agent({ connections: 30, keepAliveTimeout: 30_000 })
  t.teardown(() => agent.close())
  await (await request(`${url}/info`, { headers: { host: 'pr-1.review.test' }, dispatcher: agent })).body.text()
  let ok = 0
  let bad = 0
  let refused = 0
  const errors: string[] = []
  let stop = false
  const client = async () => {
    while (!stop) {
      try {
        const res = await request(`${url}/slow?ms=20`, { headers: { host: 'pr-1.review.test' }, dispatcher: agent })
        await res.body.text()
        if (res.statusCode === 200) ok++
        else { bad++; errors.push(`status ${res.statusCode}`) }
      } catch (err) {
        const code = (err as NodeJS.ErrnoException).code ?? ''
        // A new connection after the listener closed: not an in-flight request.
        if (code === 'ECONNREFUSED') { refused++; return }
        bad++
        errors.push(`${code} ${(err as Error).message}`)
        return
      }
    }
  }
  const load = Promise.all(Array.from({ length: 30 }, client))
  await waitFor(() => ok > 300, 20_000, 'load running')
  child.kill('SIGTERM')
  const code = await exited
  stop = true
  await load
  t.equal(code, 0, 'exit code 0')
  t.same(errors, [], 'no request failed')
  t.equal(bad, 0)
  t.ok(refused > 0, 'afterwards new connections are refused')
  t.ok(ok > 300, `${ok} requests served`)
})

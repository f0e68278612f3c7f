import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { ROOT, EXAMPLE_COMMAND, alive, waitFor } from './support/harness.js'

t.test('SIGTERM: in-flight requests finish, task processes are stopped, exit code 0', async t => {
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
  const child = spawn(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] })
  let out = ''
  child.stdout.on('data', d => { out += d })
  child.stderr.on('data', d => { out += d })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const url = await waitFor(() => /"url":"(http:\/\/[^"]+)"/.exec(out)?.[1], 20_000, 'gateway listening')

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

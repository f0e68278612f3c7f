// The local backend with a task dir: another process (here another backend instance, as a
// new leader would have) lists, reaches and stops tasks it did not start; detach leaves them.
import t from 'tap'
import { mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { LocalBackend } from '../src/backends/local.js'
import { EXAMPLE_COMMAND, alive, waitFor } from './support/harness.js'

const spec = (pr: number) => ({ app: 'example', pr, branch: 'main', sha: 'abc', generation: 1, port: 3000, env: { READY_AFTER_MS: '0' } })

t.test('a task recorded by one backend is listed, described once listening, and stopped by another', async t => {
  const taskDir = mkdtempSync(join(tmpdir(), 'wakegate-taskdir-'))
  t.teardown(() => rmSync(taskDir, { recursive: true, force: true }))
  const a = new LocalBackend({ app: 'example', command: EXAMPLE_COMMAND, cwd: process.cwd(), stopGrace: 2000, taskDir })
  const b = new LocalBackend({ app: 'example', command: EXAMPLE_COMMAND, cwd: process.cwd(), stopGrace: 2000, taskDir })
  const other = new LocalBackend({ app: 'other', command: EXAMPLE_COMMAND, cwd: process.cwd(), stopGrace: 2000, taskDir })
  t.teardown(() => a.close())

  const ref = await a.start(spec(3))
  t.equal(readdirSync(taskDir).filter(f => f.endsWith('.json')).length, 1, 'one record')
  t.same((await b.list()).map(r => r.id), [ref.id], 'the other backend lists it')
  t.same(await other.list(), [], 'tasks of another app are not listed')
  const running = await waitFor(async () => { const [s] = await b.describe([ref]); return s.phase === 'running' ? s : undefined }, 10_000, 'running once it listens')
  const [own] = await a.describe([ref])
  t.same(running?.endpoint, own.endpoint, 'same endpoint as its own backend sees')

  await a.detach()
  t.same((await b.list()).map(r => r.id), [ref.id], 'detach leaves it running and recorded')
  const pid = JSON.parse((await import('node:fs')).readFileSync(join(taskDir, `${ref.id}.json`), 'utf8')).pid as number
  t.ok(alive(pid))

  await b.stop(ref, 'test')
  t.notOk(alive(pid), 'stopped by the backend that adopted it')
  t.same(await b.list(), [], 'its record is gone')
  const [gone] = await b.describe([ref])
  t.equal(gone.phase, 'stopped')
})

t.test('records of processes that died are dropped when listed', async t => {
  const taskDir = mkdtempSync(join(tmpdir(), 'wakegate-taskdir-'))
  t.teardown(() => rmSync(taskDir, { recursive: true, force: true }))
  const a = new LocalBackend({ app: 'example', command: EXAMPLE_COMMAND, cwd: process.cwd(), stopGrace: 2000, taskDir })
  const b = new LocalBackend({ app: 'example', command: EXAMPLE_COMMAND, cwd: process.cwd(), stopGrace: 2000, taskDir })
  const ref = await a.start(spec(4))
  await a.detach()
  const pid = JSON.parse((await import('node:fs')).readFileSync(join(taskDir, `${ref.id}.json`), 'utf8')).pid as number
  process.kill(-pid, 'SIGKILL')
  await waitFor(() => !alive(pid), 5000, 'killed')
  await waitFor(async () => (await b.list()).length === 0, 5000, 'not listed')
  t.same(readdirSync(taskDir), [], 'record removed')
})

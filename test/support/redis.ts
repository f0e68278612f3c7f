// A real redis-server for a test: free port, no persistence, its own temp dir; stop() and
// start() again on the same port to play an outage. .ci/run installs redis-server.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface RedisServer {
  port: number
  url: string
  /** Stops the server and waits for it to exit. */
  stop (): Promise<void>
  /** Starts it again on the same port (empty: nothing is persisted). */
  start (): Promise<void>
  /** stop() and remove the temp dir; for t.teardown. */
  close (): Promise<void>
}

export async function startRedis (): Promise<RedisServer> {
  if (spawnSync('redis-server', ['--version']).error) {
    throw new Error('redis-server not found: apt-get install -y redis-server (.ci/run does this)')
  }
  const port = await freePort()
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-redis-'))
  let child: ChildProcess | undefined
  // A test that dies without teardown must not leave the server behind.
  const reap = () => { child?.kill('SIGKILL') }
  process.once('exit', reap)

  const server: RedisServer = {
    port,
    url: `redis://127.0.0.1:${port}`,
    async start () {
      if (child) throw new Error('redis-server already running')
      const c = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', dir], { stdio: 'ignore' })
      child = c
      c.once('exit', () => { if (child === c) child = undefined })
      await waitForPing(port, c)
    },
    async stop () {
      const c = child
      if (!c) return
      child = undefined
      if (c.exitCode === null && c.signalCode === null) {
        const exited = new Promise(resolve => c.once('exit', resolve))
        c.kill('SIGKILL')
        await exited
      }
    },
    async close () {
      await server.stop()
      process.off('exit', reap)
      rmSync(dir, { recursive: true, force: true })
    }
  }
  await server.start()
  return server
}

/** A loopback port free right now. */
export async function freePort (): Promise<number> {
  const srv = createServer()
  await new Promise<void>(resolve => srv.listen(0, '127.0.0.1', resolve))
  const { port } = srv.address() as { port: number }
  await new Promise(resolve => srv.close(resolve))
  return port
}

/** Until the server answers PING (5 s at most, or its early exit). */
async function waitForPing (port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + 5000
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`redis-server on ${port} exited (${child.exitCode ?? child.signalCode})`)
    if (await ping(port)) return
    await new Promise(resolve => setTimeout(resolve, 20))
  }
  throw new Error(`redis-server on ${port} did not answer PING`)
}

function ping (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = createConnection({ port, host: '127.0.0.1' })
    const done = (ok: boolean) => { s.destroy(); resolve(ok) }
    s.setTimeout(500, () => done(false))
    s.once('error', () => done(false))
    s.once('connect', () => s.write('PING\r\n'))
    s.once('data', d => done(d.toString().startsWith('+PONG')))
  })
}

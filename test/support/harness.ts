// Starts a real gateway on a free port with a config built for the test, and offers
// small clients that talk to it through real sockets.
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import { request as undiciRequest, Agent } from 'undici'
import { pino } from 'pino'
import { validateConfig, type ResolvedConfig } from '../../src/config/load.js'
import { createWakegate, type Wakegate, type WakegateOptions } from '../../src/server.js'
import type { Backend, PrewarmSpec, TaskRef, TaskSpec, TaskStatus } from '../../src/backends/backend.js'
import { isSizedBackend, type SizedBackend } from '../../src/cost/size.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const EXAMPLE_APP = join(ROOT, 'examples', 'app', 'server.js')
export const EXAMPLE_COMMAND = `exec node ${JSON.stringify(EXAMPLE_APP)}`

export interface AppOverrides { [k: string]: unknown }

/** One app on the local backend running the example app; override any field. */
export function exampleApp (over: AppOverrides = {}): Record<string, unknown> {
  return {
    name: 'example',
    host: 'pr-{pr}.review.test',
    port: 3000,
    health: { path: '/healthz' },
    idleTimeout: '10m',
    holdTimeout: '30s',
    startTimeout: '20s',
    failureBackoff: '200ms',
    prs: [{ number: 1, branch: 'feature/one', sha: 'aaaaaaa1' }, { number: 2, branch: 'feature/two', sha: 'bbbbbbb2' }],
    backend: { kind: 'local', command: EXAMPLE_COMMAND, stopGrace: '2s' },
    ...over
  }
}

/**
 * A validated config for a test gateway. Every request of a test comes from 127.0.0.1, so the
 * wake rate limit per address is off unless the test sets `limits` itself.
 */
export function testConfig (over: Record<string, unknown> = {}, apps: Array<Record<string, unknown>> = [exampleApp()]): ResolvedConfig {
  return validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { host: '127.0.0.1', port: 0 },
    log: { level: process.env.WAKEGATE_TEST_LOG ?? 'silent' },
    limits: { wakesPerMinute: 0 },
    apps,
    ...over
  }, {}, ROOT)
}

/** Wraps a backend and counts every call, so tests can assert "zero backend calls". */
export class CountingBackend implements Backend {
  readonly calls = { start: 0, describe: 0, stop: 0, list: 0 }
  constructor (readonly inner: Backend) {
    // Optional abilities pass through only when the wrapped backend has them.
    if (inner.prewarm) this.prewarm = spec => inner.prewarm!(spec)
    if (isSizedBackend(inner)) (this as unknown as SizedBackend).taskSize = app => inner.taskSize(app)
  }

  prewarm?: (spec: PrewarmSpec) => void
  get prewarmCounts () { return this.inner.prewarmCounts }
  get kind () { return this.inner.kind }
  get outlivesGateway () { return this.inner.outlivesGateway }
  start (spec: TaskSpec) { this.calls.start++; return this.inner.start(spec) }
  describe (refs: TaskRef[]): Promise<TaskStatus[]> { this.calls.describe++; return this.inner.describe(refs) }
  stop (ref: TaskRef, reason: string) { this.calls.stop++; return this.inner.stop(ref, reason) }
  list () { this.calls.list++; return this.inner.list() }
  close () { return this.inner.close() }
  diagnose (ref: TaskRef) { return this.inner.diagnose?.(ref) ?? Promise.resolve(undefined) }
  get total () { return this.calls.start + this.calls.describe + this.calls.stop + this.calls.list }
}

export interface Harness {
  wg: Wakegate
  url: string
  port: number
  /** The counting wrapper around each app's backend. */
  backends: Map<string, CountingBackend>
  get (host: string, path?: string, headers?: Record<string, string>): Promise<{ status: number, headers: Record<string, string | string[] | undefined>, body: string }>
  close (): Promise<void>
}

export async function startGateway (config: ResolvedConfig, opts: WakegateOptions = {}): Promise<Harness> {
  const { createBackends } = await import('../../src/backends/index.js')
  const log = pino({ level: config.log.level })
  const backends = new Map<string, CountingBackend>()
  const built = await createBackends(config.apps.filter(a => !opts.backends?.has(a.name)), log)
  // One counter per backend instance: apps on one ECS cluster share theirs.
  const counting = new Map<Backend, CountingBackend>()
  for (const app of config.apps) {
    const inner = opts.backends?.get(app.name) ?? built.get(app.name)!
    if (!counting.has(inner)) counting.set(inner, new CountingBackend(inner))
    backends.set(app.name, counting.get(inner)!)
  }
  const wg = await createWakegate(config, { log, ...opts, backends: new Map(backends) })
  await wg.listen()
  const port = Number(new URL(wg.url).port)
  const agent = new Agent({ connections: 256 })
  return {
    wg,
    url: wg.url,
    port,
    backends,
    async get (host, path = '/', headers = {}) {
      const res = await undiciRequest(`${wg.url}${path}`, { headers: { host, ...headers }, dispatcher: agent })
      const body = await res.body.text()
      return { status: res.statusCode, headers: res.headers, body }
    },
    async close () {
      await wg.close()
      await agent.close()
    }
  }
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/** Polls `fn` until it returns truthy or `timeout` ms pass. */
export async function waitFor<T> (fn: () => T | Promise<T>, timeout = 10_000, what = 'condition'): Promise<T> {
  const until = Date.now() + timeout
  for (;;) {
    const v = await fn()
    if (v) return v
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await sleep(20)
  }
}

/** True if a process with this pid exists. */
export function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch { return false }
}

/** Sends a raw HTTP/1.1 request (for headers clients refuse to send) and reads to close. */
export function rawHttp (port: number, head: string): Promise<{ status: number, headers: Record<string, string>, body: string }> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ connect }) => {
      const sock = connect(port, '127.0.0.1')
      let data = ''
      sock.setEncoding('latin1')
      sock.on('data', d => { data += d })
      sock.on('error', reject)
      sock.on('close', () => {
        const [h, ...rest] = data.split('\r\n\r\n')
        const lines = h.split('\r\n')
        const headers: Record<string, string> = {}
        for (const l of lines.slice(1)) { const i = l.indexOf(':'); headers[l.slice(0, i).toLowerCase()] = l.slice(i + 1).trim() }
        let body = rest.join('\r\n\r\n')
        if (headers['transfer-encoding'] === 'chunked') {
          let out = ''
          let i = 0
          for (;;) {
            const nl = body.indexOf('\r\n', i)
            const size = parseInt(body.slice(i, nl), 16)
            if (!size) break
            out += body.slice(nl + 2, nl + 2 + size)
            i = nl + 2 + size + 2
          }
          body = out
        }
        resolve({ status: Number(lines[0].split(' ')[1]), headers, body })
      })
      sock.write(head)
    }, reject)
  })
}

/**
 * Runs `wakegate serve --config file` as its own process; resolves once it listens, with the
 * URL of the first log line `listening` matches (with `workers:`, /"url":"([^"]+)","workers"/).
 */
export async function spawnServe (file: string, listening = /"url":"(http:\/\/[^"]+)"/): Promise<{ child: import('node:child_process').ChildProcess, exited: Promise<number | null>, url: string }> {
  const { spawn } = await import('node:child_process')
  const child = spawn(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env })
  let out = ''
  child.stdout!.on('data', d => { out += d })
  child.stderr!.on('data', d => { out += d })
  const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
  const url = await waitFor(() => listening.exec(out)?.[1], 20_000, 'gateway listening')
  return { child, exited, url: url! }
}

// A backend whose tasks start at once and are all one in-process HTTP server: for tests of
// how many wakes happen rather than of what a task does. The server answers every path with
// JSON naming the PR the Host asked for, `/slow?ms=N` after N ms, and echoes WebSockets.
import { upstreamServer, type TestUpstream } from './echo-upstream.js'
import type { Backend, TaskRef, TaskSpec, TaskStatus } from '../../src/backends/backend.js'

export type FastUpstream = TestUpstream

export function fastUpstream (): Promise<FastUpstream> {
  return upstreamServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    const answer = () => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify({ host: req.headers.host, path: url.pathname }))
    }
    if (url.pathname === '/slow') setTimeout(answer, Number(url.searchParams.get('ms') ?? 1000))
    else answer()
  }, ws => ws.on('message', (m, binary) => ws.send(m, { binary })))
}

/** Every task is `port`, running as soon as it is started; remembers what it was asked to start. */
export class FastBackend implements Backend {
  readonly kind = 'fast'
  /** app/pr of every start, in order. */
  readonly started: string[] = []
  readonly stopped: string[] = []
  private seq = 0
  constructor (private readonly port: number) {}
  async start (spec: TaskSpec): Promise<TaskRef> {
    this.started.push(`${spec.app}/${spec.pr}`)
    return { id: `fast-${++this.seq}`, app: spec.app, pr: spec.pr, sha: spec.sha, generation: spec.generation }
  }

  async describe (refs: TaskRef[]): Promise<TaskStatus[]> { return refs.map(ref => ({ ref, phase: 'running', endpoint: { host: '127.0.0.1', port: this.port } })) }
  /** While set, stops wait for it (an env stays `stopping`). */
  stopGate: Promise<void> | null = null
  async stop (ref: TaskRef): Promise<void> {
    this.stopped.push(`${ref.app}/${ref.pr}`)
    if (this.stopGate) await this.stopGate
  }
  async list (): Promise<TaskRef[]> { return [] }
  async close (): Promise<void> {}
}

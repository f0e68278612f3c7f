// One running task as the proxy sees it: its address and a keep-alive pool to it.
import { Pool } from 'undici'

export interface UpstreamOptions {
  connections: number
  headersTimeout: number
}

export class Upstream {
  readonly pool: Pool
  readonly origin: string
  /** Requests and streams currently using this upstream (drain waits for 0). */
  inflight = 0
  streams = 0
  /** Server-sent event responses in flight, ended cleanly when this upstream drains. */
  readonly sse = new Set<{ endCleanly (): void }>()
  closed = false

  constructor (readonly host: string, readonly port: number, readonly generation: number, opts: UpstreamOptions) {
    this.origin = `http://${host.includes(':') ? `[${host}]` : host}:${port}`
    this.pool = new Pool(this.origin, {
      connections: opts.connections,
      pipelining: 1,
      keepAliveTimeout: 4_000,
      keepAliveMaxTimeout: 60_000,
      headersTimeout: opts.headersTimeout,
      bodyTimeout: 0, // long downloads and streams are legitimate; activity tracks them
      connectTimeout: 5_000
    })
  }

  /** Lets in-flight requests finish, then closes the pool's connections. */
  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    await this.pool.close().catch(() => {})
  }

  async destroy (): Promise<void> {
    this.closed = true
    await this.pool.destroy().catch(() => {})
  }
}

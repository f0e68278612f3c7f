// Upgrade requests (WebSocket): the handshake is re-sent to the upstream on a fresh TCP
// connection and both sockets are piped end to end. An open tunnel counts as activity.
import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Env } from '../lifecycle/env.js'
import { errorInfo, type ErrorCode, type ErrorInfo } from '../errors.js'
import { forwardRequestHeaders } from './headers.js'
import type { Gateway } from './gateway.js'
import type { Upstream } from './upstream.js'
import { FrameTracker, closeFrame } from './ws-frames.js'
import { rawErrorResponse } from './error-response.js'

export interface Tunnel {
  env: Env
  upstream: Upstream
  client: Duplex
  server: Socket
  frames: FrameTracker
  /** Set once the gateway decided to end this tunnel with a close frame. */
  closing: number
}

export class UpgradeProxy {
  /** Open tunnels, for drain and shutdown. */
  readonly tunnels = new Set<Tunnel>()

  constructor (private readonly gw: Gateway) {}

  handle (req: IncomingMessage, client: Duplex, head: Buffer): void {
    const gw = this.gw
    client.on('error', () => client.destroy())
    const m = gw.router.match(req.headers.host)
    if (m === null) { reject(client, 'WAKEGATE_UNKNOWN_HOST'); return }
    const env = gw.manager.envs.get(m.key) ?? gw.manager.lookup(m.app, m.pr)
    if (env === undefined) {
      if (!gw.manager.prResolver) { reject(client, 'WAKEGATE_UNKNOWN_PR'); return }
      gw.manager.resolveUnknown(m.app, m.pr).then(found => {
        if (found) this.handleEnv(req, client, head, found)
        else reject(client, 'WAKEGATE_UNKNOWN_PR')
      }, err => reject(client, errorInfo(err, 'WAKEGATE_PR_LOOKUP_FAILED')))
      return
    }
    this.handleEnv(req, client, head, env)
  }

  private handleEnv (req: IncomingMessage, client: Duplex, head: Buffer, env: Env): void {
    const gw = this.gw
    if (gw.shuttingDown) { reject(client, 'WAKEGATE_SHUTTING_DOWN'); return }
    if (env.route && env.state === 'running') { this.pipe(req, client, head, env, env.route); return }
    if (env.state === 'destroyed') { reject(client, 'WAKEGATE_ENV_DESTROYED'); return }
    const app = env.app.config
    if (env.held >= app.maxHeld) { reject(client, 'WAKEGATE_HOLD_FULL'); return }
    env.held++
    gw.holding++
    let settled = false
    const settle = () => { if (settled) return false; settled = true; env.held--; gw.holding--; clearTimeout(timer); return true }
    const timer = setTimeout(() => { if (settle()) reject(client, 'WAKEGATE_HOLD_TIMEOUT') }, app.holdTimeout)
    client.once('close', settle)
    gw.manager.wake(env, 'websocket', true).then(route => {
      if (settle() && !client.destroyed) this.pipe(req, client, head, env, route)
    }, err => { if (settle()) reject(client, errorInfo(err)) })
  }

  private pipe (req: IncomingMessage, client: Duplex, head: Buffer, env: Env, upstream: Upstream): void {
    const gw = this.gw
    const sock = req.socket
    const headers = forwardRequestHeaders(req.rawHeaders, {
      remoteAddress: sock.remoteAddress ?? '',
      proto: (sock as { encrypted?: boolean }).encrypted ? 'https' : 'http',
      host: req.headers.host ?? '',
      append: gw.appendForwarded
    }, true)
    let lines = `${req.method} ${req.url} HTTP/1.1\r\n`
    for (let i = 0; i < headers.length; i += 2) lines += `${headers[i]}: ${headers[i + 1]}\r\n`
    const server = connect({ host: upstream.host, port: upstream.port })
    const tunnel: Tunnel = { env, upstream, client, server, frames: new FrameTracker(), closing: 0 }
    let open = true
    env.streams++
    upstream.streams++
    this.tunnels.add(tunnel)
    const close = () => {
      if (!open) return
      open = false
      env.streams--
      upstream.streams--
      env.lastSeen = Date.now()
      this.tunnels.delete(tunnel)
      // A tunnel being closed with a close frame lets the client socket finish on its own.
      if (!tunnel.closing) client.destroy()
      server.destroy()
    }
    server.setNoDelay(true)
    server.once('connect', () => {
      server.write(lines + '\r\n')
      if (head.length) server.write(head)
      client.pipe(server)
    })
    // Upstream → client by hand, following frame boundaries so a close frame can be slipped in.
    server.on('data', (chunk: Buffer) => {
      env.lastSeen = Date.now()
      if (tunnel.closing) { this.finishClose(tunnel, chunk); return }
      tunnel.frames.consume(chunk)
      if (!client.write(chunk)) server.pause()
    })
    client.on('drain', () => server.resume())
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (server.bytesRead === 0 && open) {
        gw.log.warn({ env: env.key, code: err.code }, 'upgrade: upstream unreachable')
        if (err.code === 'ECONNREFUSED') gw.manager.taskLost(env, upstream, `connection refused by ${upstream.origin}`)
        if (client.writable) client.end(rawErrorResponse({ code: 'WAKEGATE_UPSTREAM_REFUSED' }))
      }
      close()
    })
    server.once('close', close)
    client.once('close', close)
  }

  /**
   * Ends a tunnel the way a server going away should: a WebSocket close frame with `code`
   * (1012 service restart on drain, 1001 going away on shutdown) at a frame boundary.
   */
  closeTunnel (t: Tunnel, code: number): void {
    if (t.closing) return
    t.closing = code
    if (!t.frames.upgraded || t.frames.atBoundary) { this.sendClose(t); return }
    // Mid-frame: let the frame finish (finishClose), but not wait for it forever.
    setTimeout(() => { if (this.tunnels.has(t)) this.sendClose(t) }, 2000).unref()
  }

  private finishClose (t: Tunnel, chunk: Buffer): void {
    if (!this.tunnels.has(t) || t.frames.atBoundary) return
    const upTo = t.frames.consume(chunk, true)
    t.client.write(upTo === chunk.length ? chunk : chunk.subarray(0, upTo))
    if (t.frames.atBoundary) this.sendClose(t)
  }

  private sendClose (t: Tunnel): void {
    t.server.pause()
    t.server.unpipe?.()
    t.client.unpipe(t.server)
    if (t.frames.upgraded && t.client.writable) t.client.end(closeFrame(t.closing, t.closing === 1012 ? 'service restart' : 'going away'))
    else t.client.end()
    t.server.destroy()
    // Give the client a moment to answer the close before the socket goes.
    setTimeout(() => t.client.destroy(), 1000).unref()
  }

  /** Tunnels to one upstream (the old generation at the end of its drain). */
  closeUpstream (upstream: Upstream, code: number): void {
    for (const t of this.tunnels) if (t.upstream === upstream) this.closeTunnel(t, code)
  }

  /** Every tunnel, with `code` (shutdown). */
  closeAll (code = 1001): void {
    for (const t of this.tunnels) this.closeTunnel(t, code)
  }
}

function reject (client: Duplex, err: ErrorCode | ErrorInfo): void {
  if (client.writable) client.end(rawErrorResponse(typeof err === 'string' ? { code: err } : err))
  else client.destroy()
}

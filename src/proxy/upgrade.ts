// Upgrade requests (WebSocket): the handshake is re-sent to the upstream on a fresh TCP
// connection and both sockets are piped end to end. An open tunnel counts as activity.
import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Env } from '../lifecycle/env.js'
import { catalogue, type ErrorCode } from '../errors.js'
import { forwardRequestHeaders } from './headers.js'
import type { Gateway } from './gateway.js'
import type { Upstream } from './upstream.js'

export interface Tunnel {
  env: Env
  upstream: Upstream
  client: Duplex
  server: Socket
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
    if (env === undefined) { reject(client, 'WAKEGATE_UNKNOWN_PR'); return }
    if (gw.shuttingDown) { reject(client, 'WAKEGATE_SHUTTING_DOWN'); return }
    if (env.route && env.state === 'running') { this.pipe(req, client, head, env, env.route); return }
    if (env.state === 'destroyed') { reject(client, 'WAKEGATE_ENV_DESTROYED'); return }
    const app = env.app.config
    if (env.held >= app.maxHeld) { reject(client, 'WAKEGATE_HOLD_FULL'); return }
    env.held++
    let settled = false
    const settle = () => { if (settled) return false; settled = true; env.held--; clearTimeout(timer); return true }
    const timer = setTimeout(() => { if (settle()) reject(client, 'WAKEGATE_HOLD_TIMEOUT') }, app.holdTimeout)
    client.once('close', settle)
    gw.manager.wake(env, 'websocket').then(route => {
      if (settle() && !client.destroyed) this.pipe(req, client, head, env, route)
    }, () => { if (settle()) reject(client, 'WAKEGATE_BACKEND_FAILED') })
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
    const tunnel: Tunnel = { env, upstream, client, server }
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
      client.destroy()
      server.destroy()
    }
    server.setNoDelay(true)
    server.once('connect', () => {
      server.write(lines + '\r\n')
      if (head.length) server.write(head)
      server.pipe(client)
      client.pipe(server)
    })
    server.once('error', (err: NodeJS.ErrnoException) => {
      if (server.bytesRead === 0 && open) {
        gw.log.warn({ env: env.key, code: err.code }, 'upgrade: upstream unreachable')
        if (err.code === 'ECONNREFUSED') gw.manager.taskLost(env, upstream, `connection refused by ${upstream.origin}`)
        if (client.writable) client.end(rawResponse('WAKEGATE_UPSTREAM_REFUSED'))
      }
      close()
    })
    // Bytes moving on a long-lived tunnel are activity too.
    server.on('data', () => { env.lastSeen = Date.now() })
    server.once('close', close)
    client.once('close', close)
  }

  /** Destroy every tunnel (shutdown after the grace period). */
  closeAll (): void {
    for (const t of this.tunnels) { t.client.destroy(); t.server.destroy() }
  }
}

function rawResponse (code: ErrorCode): string {
  const spec = catalogue[code]
  const body = JSON.stringify({ error: code, message: spec.message }) + '\n'
  return `HTTP/1.1 ${spec.status} ${code}\r\ncontent-type: application/json\r\ncontent-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`
}

function reject (client: Duplex, code: ErrorCode): void {
  if (client.writable) client.end(rawResponse(code))
  else client.destroy()
}

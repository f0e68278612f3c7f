// Upgrade requests (WebSocket): the handshake is re-sent to the upstream on a fresh TCP
// connection and its answer read first (handshake.ts). A 101 opens a tunnel: both sockets
// are piped end to end, and an open tunnel counts as activity. Any other answer is relayed
// as an ordinary response and the client connection is closed, so a refused upgrade never
// becomes a tunnel that later requests on the connection would pass through unrouted.
// A person's open tunnel counts as activity while it carries real traffic (not only
// heartbeats, ws-frames.ts) in either direction; a machine's never does. An env put to sleep
// is not woken by an upgrade (a tab reconnecting): 503 WAKEGATE_ENV_ASLEEP (reconnects.ts).
import type { IncomingMessage } from 'node:http'
import { connect, type Socket } from 'node:net'
import type { Duplex } from 'node:stream'
import type { Env } from '../lifecycle/env.js'
import { errorInfo, type ErrorCode, type ErrorInfo } from '../errors.js'
import { forwardRequestHeaders } from './headers.js'
import type { Gateway } from './gateway.js'
import type { Upstream } from './upstream.js'
import { FrameTracker, closeFrame } from './ws-frames.js'
import { stillActive } from './forward.js'
import { asleepRefusal } from './reconnects.js'
import { rawErrorResponse } from './error-response.js'
import { ANSWER_BAD, ANSWER_PENDING, ANSWER_UPGRADED, AnswerBody, HandshakeAnswer, relayedHead } from './handshake.js'
import { TARGET_ORIGIN, duplicateHost, normaliseTarget } from './request-target.js'
import type { HostMatch } from '../routing/router.js'
import type { Refusal } from '../access/gate.js'

export interface Tunnel {
  env: Env
  upstream: Upstream
  client: Duplex
  server: Socket
  frames: FrameTracker
  /** Set once the gateway decided to end this tunnel with a close frame. */
  closing: number
}

/** How long a client that was answered and told Connection: close may keep its socket open. */
const LINGER_MS = 5_000

export class UpgradeProxy {
  /** Open tunnels, for drain and shutdown. */
  readonly tunnels = new Set<Tunnel>()
  /** Handshakes sent upstream and not yet answered (or relaying a non-101 answer): ended on shutdown. */
  private readonly pending = new Set<() => void>()

  constructor (private readonly gw: Gateway) {}

  handle (req: IncomingMessage, client: Duplex, head: Buffer): void {
    const gw = this.gw
    client.on('error', () => client.destroy())
    const url = req.url
    if (url !== undefined && url.charCodeAt(0) !== 47 /* / */) {
      const t = normaliseTarget(req)
      if (t !== TARGET_ORIGIN) { reject(client, typeof t === 'string' ? t : 'WAKEGATE_BAD_TARGET'); return }
    }
    const host = req.headers.host
    const m = gw.router.match(host)
    if (m === null) { reject(client, duplicateHost(host) ? 'WAKEGATE_BAD_HOST' : 'WAKEGATE_UNKNOWN_HOST'); return }
    // The same gate as requests, before the env is looked up.
    const policy = gw.gated ? gw.access.gate.policy(m.app) : undefined
    if (policy !== undefined) {
      const v = gw.access.gate.check(req, policy, m.key)
      if (v !== true) {
        if ('then' in v) v.then(r => { if (r === true) this.route(req, client, head, m); else refuseUpgrade(client, r) }, err => reject(client, errorInfo(err, 'WAKEGATE_INTERNAL')))
        else refuseUpgrade(client, v)
        return
      }
    }
    this.route(req, client, head, m)
  }

  private route (req: IncomingMessage, client: Duplex, head: Buffer, m: HostMatch): void {
    const gw = this.gw
    const env = gw.directory.envs.get(m.key) ?? gw.directory.lookup(m.app, m.pr)
    if (env === undefined) {
      if (!gw.directory.prResolver) { reject(client, 'WAKEGATE_UNKNOWN_PR'); return }
      gw.directory.resolveUnknown(m.app, m.pr).then(found => {
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
    const machine = gw.cold.clients.count(req, env.app.clients)
    if (env.route && env.state === 'running') { this.pipe(req, client, head, env, env.route, machine); return }
    if (env.state === 'destroyed') { reject(client, 'WAKEGATE_ENV_DESTROYED'); return }
    // Put to sleep: a tab reconnecting (HMR, socket.io, a vite-ping) does not wake it; a page load does.
    const asleep = asleepRefusal(env)
    if (asleep !== null) { env.app.clients.asleepRefused++; gw.counters.rejected++; reject(client, asleep); return }
    // An upgrade that would start a wake counts against its address's wake rate limit.
    const limit = gw.cold.limitWake(req, env)
    if ('refused' in limit) { reject(client, limit.refused); return }
    const held = gw.holds.hold(env, 'websocket', {
      watch: fn => { client.once('close', fn); return () => client.removeListener('close', fn) },
      get gone () { return client.destroyed },
      fail: info => { gw.cold.giveBack(limit.token, info); reject(client, info) }
    }, route => this.pipe(req, client, head, env, route, machine))
    if (!held) reject(client, 'WAKEGATE_HOLD_FULL')
  }

  /**
   * Sends the handshake and waits for its answer. Until then it is a request in flight on
   * `upstream` (drain and shutdown wait for it), bounded by upstreamIdleTimeout; the client
   * is not read, so nothing it sends after the handshake reaches the upstream before a 101.
   */
  private pipe (req: IncomingMessage, client: Duplex, head: Buffer, env: Env, upstream: Upstream, machine: boolean): void {
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
    server.setNoDelay(true)
    env.inflight++
    if (machine) env.passive++
    upstream.inflight++
    let inflight = true
    const settle = () => {
      if (!inflight) return
      inflight = false
      env.inflight--
      upstream.inflight--
      if (machine) env.passive--
      else env.lastSeen = Date.now()
      this.pending.delete(shutdown)
    }
    const answer = new HandshakeAnswer(req.method === 'HEAD')
    let body: AnswerBody | null = null
    /**
     * Ends the exchange; with `code`, answers the client with it if nothing was sent yet.
     * `detail` says what went wrong upstream (logged).
     */
    const fail = (code: ErrorCode | null, detail?: string) => {
      settle()
      server.destroy()
      if (detail !== undefined) gw.log.warn({ env: env.key, code, detail }, 'upgrade: no usable answer from upstream')
      if (code !== null && body === null) reject(client, code)
      else client.destroy()
    }
    const shutdown = () => fail('WAKEGATE_SHUTTING_DOWN')
    this.pending.add(shutdown)
    const onData = (chunk: Buffer) => {
      if (body !== null) { relay(chunk); return }
      const r = answer.feed(chunk)
      if (r === ANSWER_PENDING) return
      if (r === ANSWER_BAD) { fail('WAKEGATE_UPSTREAM_BAD_RESPONSE', answer.error); return }
      if (r === ANSWER_UPGRADED) {
        settle()
        server.removeListener('data', onData)
        server.removeListener('close', onClose)
        server.setTimeout(0)
        this.tunnel(client, server, head, env, upstream, answer.bytes, answer.headLength, machine)
        return
      }
      // Any other answer: an ordinary response, then the connection is closed.
      body = new AnswerBody(answer.head)
      client.write(relayedHead(answer.head, gw.staticHeaders))
      relay(answer.bytes)
    }
    const relay = (chunk: Buffer) => {
      const b = body!
      if (chunk.length > 0 && !b.feed(chunk, part => { if (!client.write(part)) server.pause() })) { fail(null, 'malformed body framing'); return }
      if (b.done) { settle(); server.destroy(); endClient(client, '') }
    }
    const onClose = () => {
      // A body delimited by the close is complete now; anything else was cut.
      if (body !== null && !body.done && body.completeAtClose) { settle(); endClient(client, ''); return }
      if (inflight) fail('WAKEGATE_UPSTREAM_RESET', 'connection closed before the upgrade was answered')
    }
    server.once('connect', () => server.write(lines + '\r\n'))
    server.on('data', onData)
    server.once('close', onClose)
    server.on('error', (err: NodeJS.ErrnoException) => {
      if (!inflight || body !== null) return // close follows
      if (err.code === 'ECONNREFUSED') {
        gw.log.warn({ env: env.key, code: err.code }, 'upgrade: upstream unreachable')
        gw.directory.taskLost(env, upstream, `connection refused by ${upstream.origin}`)
        fail('WAKEGATE_UPSTREAM_REFUSED', err.code)
      } else fail('WAKEGATE_UPSTREAM_RESET', err.code)
    })
    const idle = gw.config.proxy.upstreamIdleTimeout
    if (idle > 0) server.setTimeout(idle, () => fail('WAKEGATE_UPSTREAM_TIMEOUT', 'no answer to the upgrade'))
    client.on('drain', () => server.resume()) // relayed answer and tunnel alike
    client.once('close', () => { if (inflight) { settle(); server.destroy() } })
  }

  /** After a 101: the answer and what follows go to the client, then bytes flow both ways. */
  private tunnel (client: Duplex, server: Socket, head: Buffer, env: Env, upstream: Upstream, answer: Buffer, headLength: number, machine: boolean): void {
    const tunnel: Tunnel = { env, upstream, client, server, frames: new FrameTracker(!machine), closing: 0 }
    let open = true
    env.streams++
    upstream.streams++
    // Opening a stream is real traffic; after that only real frames are (heartbeats are not).
    if (!machine) env.streamActiveAt = env.lastSeen = Date.now()
    this.tunnels.add(tunnel)
    const close = () => {
      if (!open) return
      open = false
      env.streams--
      upstream.streams--
      if (!machine) stillActive(env)
      this.tunnels.delete(tunnel)
      // A tunnel being closed with a close frame lets the client socket finish on its own.
      if (!tunnel.closing) client.destroy()
      server.destroy()
    }
    tunnel.frames.consume(answer.subarray(headLength))
    tunnel.frames.takeReal() // the upgrade's own first frames (a greeting) are part of opening it
    client.write(answer)
    if (!machine) {
      // Client → upstream stays a pipe; this listener only looks at the frames going through.
      const inbound = new FrameTracker(true)
      const look = (chunk: Buffer) => { inbound.consume(chunk); if (inbound.takeReal()) env.streamActiveAt = env.lastSeen = Date.now() }
      if (head.length) look(head)
      client.on('data', look)
    }
    if (head.length) server.write(head)
    client.pipe(server)
    // Upstream → client by hand, following frame boundaries so a close frame can be slipped in.
    server.on('data', (chunk: Buffer) => {
      if (tunnel.closing) { this.finishClose(tunnel, chunk); return }
      tunnel.frames.consume(chunk)
      if (tunnel.frames.takeReal()) env.streamActiveAt = env.lastSeen = Date.now()
      if (!client.write(chunk)) server.pause()
    })
    server.once('close', close)
    client.once('close', close)
    if (server.destroyed || client.destroyed) close()
  }

  /**
   * Ends a tunnel the way a server going away should: a WebSocket close frame with `code`
   * (1012 service restart on drain, 1001 going away on shutdown) at a frame boundary.
   */
  closeTunnel (t: Tunnel, code: number): void {
    if (t.closing) return
    t.closing = code
    if (t.frames.atBoundary) { this.sendClose(t); return }
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
    if (t.client.writable) t.client.end(closeFrame(t.closing, t.closing === 1012 ? 'service restart' : 'going away'))
    else t.client.end()
    t.server.destroy()
    // Give the client a moment to answer the close before the socket goes.
    setTimeout(() => t.client.destroy(), 1000).unref()
  }

  /** Tunnels to one upstream (the old generation at the end of its drain). */
  closeUpstream (upstream: Upstream, code: number): void {
    for (const t of this.tunnels) if (t.upstream === upstream) this.closeTunnel(t, code)
  }

  /** Shutdown: every tunnel gets `code`; a handshake still waiting for its answer, a 503. */
  closeAll (code = 1001): void {
    for (const shutdown of [...this.pending]) shutdown()
    for (const t of this.tunnels) this.closeTunnel(t, code)
  }
}

/**
 * Sends the last bytes of a connection and closes it: what the client sends meanwhile is
 * read and dropped, so the close is not a reset that could discard the answer.
 */
function endClient (client: Duplex, last: string): void {
  if (!client.writable) { client.destroy(); return }
  client.end(last)
  client.resume()
  setTimeout(() => client.destroy(), LINGER_MS).unref()
}

function reject (client: Duplex, err: ErrorCode | ErrorInfo): void {
  endClient(client, rawErrorResponse(typeof err === 'string' ? { code: err } : err))
}

/** An upgrade the access gate did not let in: 401/403 (a redirect or page means nothing to a WebSocket client). */
function refuseUpgrade (client: Duplex, r: Refusal): void {
  const code = r.neutral || r.location !== undefined ? 'WAKEGATE_SIGN_IN_REQUIRED' : r.code
  endClient(client, rawErrorResponse({ code, detail: r.detail }, r.challenge !== undefined ? { 'www-authenticate': r.challenge } : undefined))
}

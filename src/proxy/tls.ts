// TLS on the public listener, for an install with no load balancer in front: the certificate
// and key (read, checked as a pair, described), the HTTPS server built from them, and the
// watch that swaps a renewed pair in while the listener runs.
//
// A swap is `server.setSecureContext`: new handshakes get the new certificate, connections
// already open (keep-alive, WebSockets, event streams) keep the one they shook hands with.
// Files are watched two ways, because neither is enough alone: a watch on their directories
// answers within a moment, but misses changes on some filesystems and after a watcher
// error; a periodic read catches everything, later. A pair that does not load and match
// (the certificate replaced before its key, a half-written file) is never applied: the
// listener keeps the pair in use and the next change or tick tries again.
import { readFileSync, watch, type FSWatcher } from 'node:fs'
import { readFile } from 'node:fs/promises'
import { dirname } from 'node:path'
import { createPrivateKey, X509Certificate, type KeyObject } from 'node:crypto'
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https'
import { ServerResponse, type IncomingMessage, type OutgoingHttpHeader, type OutgoingHttpHeaders, type RequestListener, type Server, type ServerOptions } from 'node:http'
import { createSecureContext, type SecureContextOptions } from 'node:tls'
import type { Logger } from 'pino'
import type { ResolvedConfig, TlsConfig } from '../config/load.js'
import { compileHostTemplate } from '../routing/template.js'

type TlsField = 'certFile' | 'keyFile' | 'caFile'

/** A certificate file that cannot be used; `field` names the config field it came from. */
export class TlsFileError extends Error {
  constructor (readonly field: TlsField, message: string) {
    super(message)
    this.name = 'TlsFileError'
  }
}

/** The bytes of the files, as read (compared to tell a change from a rewrite of the same). */
interface PairBytes { cert: Buffer, key: Buffer, ca: Buffer | undefined }

export interface KeyPair {
  /** What a secure context is built from: the key, the certificate and its chain. */
  context: SecureContextOptions
  /** The certificate itself (the first one of certFile). */
  cert: X509Certificate
  bytes: PairBytes
}

const WARN_BEFORE = 14 * 86_400_000
const REMIND_EVERY = 86_400_000
/** Editors and renewal tools write the certificate and key one after the other: one look after both. */
const SETTLE = 100

const PEM_CERT = /-----BEGIN CERTIFICATE-----[^-]+-----END CERTIFICATE-----/g

function readError (field: TlsField, file: string, err: unknown): TlsFileError {
  return new TlsFileError(field, `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
}

function readPairBytesSync (tls: TlsConfig): PairBytes {
  const read = (field: TlsField, file: string) => { try { return readFileSync(file) } catch (err) { throw readError(field, file, err) } }
  return { cert: read('certFile', tls.certFile), key: read('keyFile', tls.keyFile), ca: tls.caFile === undefined ? undefined : read('caFile', tls.caFile) }
}

async function readPairBytes (tls: TlsConfig): Promise<PairBytes> {
  const read = (field: TlsField, file: string) => readFile(file).catch(err => { throw readError(field, file, err) })
  const [cert, key, ca] = await Promise.all([read('certFile', tls.certFile), read('keyFile', tls.keyFile), tls.caFile === undefined ? undefined : read('caFile', tls.caFile)])
  return { cert, key, ca }
}

function sameBytes (a: PairBytes, b: PairBytes): boolean {
  return a.cert.equals(b.cert) && a.key.equals(b.key) && (a.ca === undefined ? b.ca === undefined : b.ca !== undefined && a.ca.equals(b.ca))
}

/** Checks the files make a usable pair: a certificate, its own key, a chain OpenSSL accepts. */
function buildPair (tls: TlsConfig, bytes: PairBytes): KeyPair {
  let cert: X509Certificate
  try { cert = new X509Certificate(bytes.cert) } catch {
    throw new TlsFileError('certFile', `${tls.certFile} holds no PEM certificate`)
  }
  let key: KeyObject
  try { key = createPrivateKey(bytes.key) } catch (err) {
    throw new TlsFileError('keyFile', `${tls.keyFile} holds no usable PEM private key (${(err as Error).message}; encrypted keys are not supported)`)
  }
  if (!cert.checkPrivateKey(key)) {
    throw new TlsFileError('keyFile', `${tls.keyFile} is not the private key of the certificate in ${tls.certFile} (${oneLine(cert.subject)}); certFile must start with the certificate of this key`)
  }
  let chain = bytes.cert.toString('utf8')
  if (bytes.ca !== undefined) {
    const extra = bytes.ca.toString('utf8').match(PEM_CERT) ?? []
    if (extra.length === 0) throw new TlsFileError('caFile', `${tls.caFile!} holds no PEM certificate`)
    for (const pem of extra) {
      try { void new X509Certificate(pem) } catch (err) { throw new TlsFileError('caFile', `${tls.caFile!}: ${(err as Error).message}`) }
    }
    chain = `${chain.trimEnd()}\n${extra.join('\n')}\n`
  }
  const context: SecureContextOptions = { key: bytes.key, cert: chain, minVersion: tls.minVersion }
  // What the listener will build: anything else OpenSSL refuses (a key too weak for its security level) shows here.
  try { createSecureContext(context) } catch (err) {
    throw new TlsFileError('certFile', `the certificate and key cannot be used: ${(err as Error).message}`)
  }
  return { context, cert, bytes }
}

/** Reads and checks the pair now (boot, check-config). Throws TlsFileError. */
export function loadKeyPair (tls: TlsConfig): KeyPair {
  return buildPair(tls, readPairBytesSync(tls))
}

/** The config problems of `listen.tls`, by field path: the files, and what the schema cannot say. */
export function tlsProblems (tls: TlsConfig, listenPort: number): Array<{ path: string, message: string }> {
  const problems: Array<{ path: string, message: string }> = []
  try { loadKeyPair(tls) } catch (err) {
    if (!(err instanceof TlsFileError)) throw err
    problems.push({ path: `listen.tls.${err.field}`, message: err.message })
  }
  if (tls.redirectPort !== undefined && tls.redirectPort !== 0 && tls.redirectPort === listenPort) {
    problems.push({ path: 'listen.tls.redirectPort', message: `the same port as listen.port (${listenPort}): the redirect needs a port of its own` })
  }
  const h = tls.hsts
  if (h?.preload && (!h.includeSubDomains || h.maxAge < 365 * 86_400_000)) {
    problems.push({ path: 'listen.tls.hsts.preload', message: 'the browsers\' preload list takes only includeSubDomains: true and a maxAge of 365d or more' })
  }
  return problems
}

/** The Strict-Transport-Security value of `listen.tls.hsts`. */
export function hstsValue (h: NonNullable<TlsConfig['hsts']>): string {
  return `max-age=${Math.floor(h.maxAge / 1000)}${h.includeSubDomains ? '; includeSubDomains' : ''}${h.preload ? '; preload' : ''}`
}

const HSTS = 'strict-transport-security'

/** Whether a header list given to writeHead (flat [name, value, …] or [[name, value], …]) names HSTS. */
function listHasHsts (list: OutgoingHttpHeader[]): boolean {
  if (list.length > 0 && Array.isArray(list[0])) return (list as unknown as string[][]).some(p => String(p[0]).length === HSTS.length && String(p[0]).toLowerCase() === HSTS)
  for (let i = 0; i < list.length; i += 2) {
    const n = list[i]
    if (typeof n === 'string' && n.length === HSTS.length && n.toLowerCase() === HSTS) return true
  }
  return false
}

/**
 * The response class of a listener that sends HSTS: every response gets the header as it
 * is written (proxied, gateway pages, errors, fastify's), unless it carries its own (an app's
 * policy wins). Only the TLS listener uses it, so plain HTTP pays nothing, and it needs no
 * per-request check: every response it writes goes over TLS.
 */
export function hstsResponse (value: string): typeof ServerResponse {
  class HstsResponse<Req extends IncomingMessage = IncomingMessage> extends ServerResponse<Req> {
    override writeHead (statusCode: number, statusMessage?: string, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this
    override writeHead (statusCode: number, headers?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this
    override writeHead (statusCode: number, a?: string | OutgoingHttpHeaders | OutgoingHttpHeader[], b?: OutgoingHttpHeaders | OutgoingHttpHeader[]): this {
      const reason = typeof a === 'string' ? a : undefined
      let headers = typeof a === 'string' ? b : a
      if (!this.hasHeader(HSTS)) {
        if (Array.isArray(headers)) {
          // A new list: the caller's may be a constant it hands every response.
          if (!listHasHsts(headers)) headers = Array.isArray(headers[0]) ? [...headers, [HSTS, value] as unknown as OutgoingHttpHeader] : [...headers, HSTS, value]
        } else {
          // Headers given here replace this one when they name it.
          this.setHeader(HSTS, value)
        }
      }
      return super.writeHead(statusCode, reason, headers)
    }
  }
  return HstsResponse
}

/**
 * The public listener over TLS: an https.Server with the same server options and request
 * listener as the plain one, and the watch that keeps its certificate current.
 */
export function createTlsServer (config: ResolvedConfig, tls: TlsConfig, options: ServerOptions, onRequest: RequestListener, log: Logger): { server: Server, certs: CertWatcher } {
  const pair = loadKeyPair(tls)
  const https: HttpsServer = createHttpsServer({
    ...options,
    ...pair.context,
    // The proxy speaks HTTP/1.1: offering h2 would have browsers pick it.
    ALPNProtocols: ['http/1.1'],
    // The head timeout starts once the handshake is done: a connection that never finishes
    // one is held no longer than one that sends no request (Node's default is 120 s).
    ...(options.headersTimeout ? { handshakeTimeout: options.headersTimeout } : {}),
    ...(tls.hsts ? { ServerResponse: hstsResponse(hstsValue(tls.hsts)) } : {})
  }, onRequest)
  // https.Server passes handshake failures on as 'clientError', whose listener answers with an
  // HTTP 400 that cannot go out before a handshake: a handshake timeout would leave the
  // connection open for good. Without a handshake there is nothing to answer: close it.
  https.removeAllListeners('tlsClientError')
  https.on('tlsClientError', (_err, sock) => sock.destroy())
  const certs = new CertWatcher(tls, pair, log.child({ component: 'tls' }), context => https.setSecureContext(context), sampleHosts(config))
  // https.Server is an http.Server in everything the listener uses (its timeouts, connections, upgrades).
  return { server: https as unknown as Server, certs }
}

/** One host per app (PR 1) and the sign-in host: what the certificate should cover. */
function sampleHosts (config: ResolvedConfig): string[] {
  const hosts = config.apps.map(a => compileHostTemplate(a.host, a.name).hostFor(1))
  if (config.access.authHost) hosts.push(config.access.authHost)
  return hosts
}

function oneLine (dn: string): string { return dn.split('\n').join(', ') }

/** The certificate, for logs. */
export function describeCert (cert: X509Certificate): Record<string, string> {
  return {
    subject: oneLine(cert.subject),
    issuer: oneLine(cert.issuer),
    serial: cert.serialNumber,
    notAfter: new Date(cert.validTo).toISOString(),
    names: cert.subjectAltName ?? ''
  }
}

/**
 * Keeps a listener's certificate current: watches the files' directories (a rename into place,
 * a Kubernetes secret's symlink swap, an editor's save) and reads them every `reloadInterval`,
 * and applies a changed pair once it loads and matches.
 */
export class CertWatcher {
  /** The pair in use. */
  pair: KeyPair
  /** Called after a new pair is applied (metrics, a cluster worker telling its primary). */
  onApplied: ((pair: KeyPair) => void) | undefined
  private seen: PairBytes
  /** The last reason a change was not applied, so a standing problem is logged once. */
  private problem: string | undefined
  private readonly watchers: FSWatcher[] = []
  private timer: NodeJS.Timeout | undefined
  private settle: NodeJS.Timeout | undefined
  private running: Promise<void> | undefined
  private rerun = false
  private closed = false
  private expiryWarnedAt = 0

  constructor (readonly tls: TlsConfig, pair: KeyPair, private readonly log: Logger, private readonly apply: (context: SecureContextOptions) => void, private readonly hosts: string[]) {
    this.pair = pair
    this.seen = pair.bytes
    log.info(describeCert(pair.cert), 'TLS certificate loaded')
    this.review(pair)
    this.watch()
    if (tls.reloadInterval > 0) {
      this.timer = setInterval(() => { void this.check(); this.remind() }, tls.reloadInterval)
      this.timer.unref()
    }
  }

  /** When the certificate in use expires (ms since the epoch). */
  get notAfter (): number { return Date.parse(this.pair.cert.validTo) }

  private watch (): void {
    const files = [this.tls.certFile, this.tls.keyFile, this.tls.caFile].filter((f): f is string => f !== undefined)
    for (const dir of new Set(files.map(f => dirname(f)))) {
      try {
        const w = watch(dir, { persistent: false }, () => this.soon())
        // A watcher that fails (the directory went, inotify limits) leaves the periodic read.
        w.on('error', () => w.close())
        this.watchers.push(w)
      } catch (err) {
        this.log.debug({ dir, err: (err as Error).message }, 'cannot watch the certificate directory; reading it every reloadInterval')
      }
    }
  }

  private soon (): void {
    if (this.settle !== undefined || this.closed) return
    this.settle = setTimeout(() => { this.settle = undefined; void this.check() }, SETTLE)
    this.settle.unref()
  }

  /** Reads the files and applies them if they changed and make a usable pair. One check at a time. */
  check (): Promise<void> {
    if (this.running !== undefined) { this.rerun = true; return this.running }
    this.running = (async () => {
      do {
        this.rerun = false
        await this.checkOnce()
      } while (this.rerun && !this.closed)
    })().finally(() => { this.running = undefined })
    return this.running
  }

  private async checkOnce (): Promise<void> {
    let bytes: PairBytes
    try { bytes = await readPairBytes(this.tls) } catch (err) { this.notApplied(err); return }
    if (this.closed || sameBytes(bytes, this.seen)) return
    this.seen = bytes
    let pair: KeyPair
    try { pair = buildPair(this.tls, bytes) } catch (err) { this.notApplied(err); return }
    this.problem = undefined
    if (sameBytes(bytes, this.pair.bytes)) return // back to what is in use
    try { this.apply(pair.context) } catch (err) { this.notApplied(err); return }
    this.pair = pair
    this.log.info(describeCert(pair.cert), 'TLS certificate reloaded: new connections get it, open ones keep theirs')
    this.expiryWarnedAt = 0
    this.review(pair)
    this.onApplied?.(pair)
  }

  private notApplied (err: unknown): void {
    const message = (err as Error).message
    if (message === this.problem) return
    this.problem = message
    this.log.warn({ err: message, inUse: describeCert(this.pair.cert) }, 'TLS certificate files changed but cannot be used: keeping the certificate in use until they are fixed')
  }

  /** Warnings about a pair just taken into use: expiry, hosts it does not cover. */
  private review (pair: KeyPair): void {
    this.remind()
    const uncovered = this.hosts.filter(h => pair.cert.checkHost(h) === undefined)
    if (uncovered.length > 0) this.log.warn({ hosts: uncovered, names: pair.cert.subjectAltName ?? '' }, 'TLS certificate does not cover these hosts: browsers will refuse them')
  }

  /** An expiring certificate is warned about when taken into use, then once a day. */
  private remind (): void {
    const now = Date.now()
    const left = this.notAfter - now
    if (left > WARN_BEFORE || now - this.expiryWarnedAt < REMIND_EVERY) return
    this.expiryWarnedAt = now
    const days = Math.floor(left / 86_400_000)
    this.log.warn(describeCert(this.pair.cert), left <= 0 ? 'TLS certificate has expired' : `TLS certificate expires in ${days === 0 ? 'less than a day' : `${days} day${days === 1 ? '' : 's'}`}`)
  }

  close (): void {
    this.closed = true
    clearInterval(this.timer)
    clearTimeout(this.settle)
    for (const w of this.watchers) w.close()
  }
}

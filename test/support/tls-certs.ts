// Certificates for TLS tests, made at test time with the openssl CLI: a test CA and leaf
// certificates it signs (ECDSA P-256, fast to make). A client that trusts only `ca.pem`
// verifies the gateway as a browser would (`httpsGet`).
//
// Leaves name `*.localhost`, `localhost` and 127.0.0.1, plus the PR hosts tests use spelled
// out: a wildcard directly under a one-label name (`*.localhost`) is refused by Node's and
// OpenSSL's host checks, as browsers refuse `*.com`.
import { execFileSync } from 'node:child_process'
import { X509Certificate, randomBytes } from 'node:crypto'
import { mkdtempSync, readFileSync, renameSync, writeFileSync } from 'node:fs'
import type { IncomingHttpHeaders } from 'node:http'
import { request as httpsRequest, type Agent } from 'node:https'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import type { TLSSocket } from 'node:tls'
import { pino, type Logger } from 'pino'

export const LEAF_NAMES = ['*.localhost', 'pr-1.localhost', 'pr-2.localhost', 'pr-9.localhost', 'localhost']

export interface TestCa {
  dir: string
  /** The CA certificate (PEM): what a test client trusts. */
  ca: string
  caFile: string
  caKeyFile: string
}

export interface Leaf {
  cert: string
  key: string
  /** As `getPeerCertificate().serialNumber` gives it. */
  serial: string
}

function openssl (args: string[], cwd: string): void {
  execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] })
}

/** A fresh CA in its own temp directory. */
export function makeCa (): TestCa {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-tls-'))
  openssl(['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', 'ca.key', '-out', 'ca.pem',
    '-days', '30', '-subj', '/CN=wakegate test CA', '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign'], dir)
  return { dir, ca: readFileSync(join(dir, 'ca.pem'), 'utf8'), caFile: join(dir, 'ca.pem'), caKeyFile: join(dir, 'ca.key') }
}

/** A CA whose certificate `root` signs: leaves of it need the intermediate sent along. */
export function makeIntermediate (root: TestCa): TestCa {
  const mid = makeCa()
  const f = (ext: string) => join(mid.dir, `mid.${ext}`)
  writeFileSync(f('ext'), 'basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n')
  openssl(['req', '-new', '-key', mid.caKeyFile, '-subj', '/CN=wakegate test intermediate', '-out', f('csr')], mid.dir)
  openssl(['x509', '-req', '-in', f('csr'), '-CA', root.caFile, '-CAkey', root.caKeyFile, '-set_serial', '7', '-days', '30', '-extfile', f('ext'), '-out', mid.caFile], mid.dir)
  return { ...mid, ca: readFileSync(mid.caFile, 'utf8') }
}

/** A leaf signed by `ca` with a random serial; `days` of validity (expiry warnings: < 14). */
export function makeLeaf (ca: TestCa, opts: { cn?: string, days?: number, names?: string[] } = {}): Leaf {
  const id = randomBytes(6).toString('hex')
  const f = (ext: string) => join(ca.dir, `leaf-${id}.${ext}`)
  const names = (opts.names ?? LEAF_NAMES).map(n => `DNS:${n}`).concat('IP:127.0.0.1').join(',')
  writeFileSync(f('ext'), `subjectAltName=${names}\nbasicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\nextendedKeyUsage=serverAuth\n`)
  openssl(['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', f('key')], ca.dir)
  openssl(['req', '-new', '-key', f('key'), '-subj', `/CN=${opts.cn ?? `wakegate test ${id}`}`, '-out', f('csr')], ca.dir)
  openssl(['x509', '-req', '-in', f('csr'), '-CA', ca.caFile, '-CAkey', ca.caKeyFile, '-set_serial', `0x${randomBytes(8).toString('hex').replace(/^0/, '1')}`,
    '-days', String(opts.days ?? 30), '-extfile', f('ext'), '-out', f('pem')], ca.dir)
  const cert = readFileSync(f('pem'), 'utf8')
  return { cert, key: readFileSync(f('key'), 'utf8'), serial: new X509Certificate(cert).serialNumber }
}

/** Writes a leaf as the files a gateway is configured with (each file replaced by a rename, as renewal tools do). */
export function writePair (dir: string, leaf: Leaf, only?: 'cert' | 'key'): { certFile: string, keyFile: string } {
  const certFile = join(dir, 'cert.pem')
  const keyFile = join(dir, 'key.pem')
  const put = (file: string, text: string) => { writeFileSync(`${file}.tmp`, text); renameSync(`${file}.tmp`, file) }
  if (only !== 'key') put(certFile, leaf.cert)
  if (only !== 'cert') put(keyFile, leaf.key)
  return { certFile, keyFile }
}

export interface HttpsAnswer {
  status: number
  headers: IncomingHttpHeaders
  body: string
  socket: TLSSocket
  /** Serial of the certificate the connection was made with. */
  serial: string
}

/**
 * One HTTPS request to 127.0.0.1:port as a browser would make it to `host`: SNI and Host
 * name it, and only the test CA is trusted. A fresh connection unless `agent` keeps one.
 */
export function httpsGet (ca: TestCa, port: number, path = '/', opts: { host?: string, agent?: Agent, headers?: Record<string, string> } = {}): Promise<HttpsAnswer> {
  const host = opts.host ?? 'pr-1.localhost'
  // Offers h2 as a browser does (reaching tls.connect, though RequestOptions' type leaves ALPNProtocols out).
  const options = {
    host: '127.0.0.1', port, path, servername: host, ca: ca.ca, ALPNProtocols: ['h2', 'http/1.1'],
    headers: { host, ...opts.headers }, agent: opts.agent ?? false
  }
  return new Promise((resolve, reject) => {
    const req = httpsRequest(options, res => {
      // Read while the connection is open: a closed one no longer tells its certificate.
      const socket = res.socket as TLSSocket
      const serial = socket.getPeerCertificate().serialNumber
      let body = ''
      res.setEncoding('utf8')
      res.on('data', d => { body += d })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body, socket, serial }))
      res.on('error', reject)
    })
    req.on('error', reject)
    req.end()
  })
}

/** A logger whose lines a test reads (what the gateway said about its certificate). */
export function captureLog (): { log: Logger, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk: Buffer, _enc, cb) {
      for (const l of chunk.toString().split('\n')) if (l) lines.push(JSON.parse(l))
      cb()
    }
  })
  return { log: pino({ level: 'info' }, stream), lines }
}

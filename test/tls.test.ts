// listen.tls: the public listener serves HTTPS itself (no load balancer in front), a
// plain-HTTP listener redirects to it, HSTS when asked for, and bad certificate files are
// config errors (exit 2).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { EXAMPLE_COMMAND, ROOT, exampleApp, rawHttp, startGateway, testConfig, waitFor } from './support/harness.js'
import { captureLog, httpsGet, makeCa, makeIntermediate, makeLeaf, writePair } from './support/tls-certs.js'
import { startCluster } from '../src/cluster/primary.js'
import { hstsResponse } from '../src/proxy/tls.js'
import { startReplica } from '../src/replicas/replica.js'
import { startRedis } from './support/redis.js'

const ca = makeCa()
const leaf = makeLeaf(ca, { cn: 'wakegate test one' })

function pairDir (l = leaf): { certFile: string, keyFile: string } {
  return writePair(mkdtempSync(join(tmpdir(), 'wakegate-tls-files-')), l)
}

function tlsConfig (tls: Record<string, unknown> = {}, over: Record<string, unknown> = {}) {
  return testConfig({ listen: { host: '127.0.0.1', port: 0, tls: { ...pairDir(), ...tls } }, ...over }, [exampleApp({ host: 'pr-{pr}.localhost' })])
}

t.test('HTTPS end to end: the client trusts only the test CA; the app sees X-Forwarded-Proto https', async t => {
  const h = await startGateway(tlsConfig())
  t.teardown(() => h.close())
  t.match(h.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  // A client-sent X-Forwarded-Proto is not believed in replace mode: the socket says.
  const res = await httpsGet(ca, h.port, '/info?q=1', { headers: { 'x-forwarded-proto': 'http' } })
  t.equal(res.status, 200)
  t.equal(res.serial, leaf.serial, 'served the configured certificate')
  t.equal(res.socket.alpnProtocol, 'http/1.1', 'ALPN: HTTP/1.1 even when the client offers h2')
  const info = JSON.parse(res.body)
  t.equal(info.pr, '1', 'answered by the app')
  t.equal(info.headers['x-forwarded-proto'], 'https')
  t.equal(info.headers.forwarded, 'for=127.0.0.1;host=pr-1.localhost;proto=https')
  t.equal(info.headers.host, 'pr-1.localhost')
  t.equal(res.headers['strict-transport-security'], undefined, 'no HSTS unless configured')

  // The gateway's own answers come over TLS too.
  const unknown = await httpsGet(ca, h.port, '/', { host: 'pr-9.localhost' })
  t.equal(unknown.status, 404)
  t.equal(unknown.headers['x-wakegate-error'], 'WAKEGATE_UNKNOWN_PR')
  const health = await httpsGet(ca, h.port, '/__wakegate/healthz', { host: 'localhost' })
  t.same(JSON.parse(health.body), { ok: true })
})

t.test('a client that does not trust the CA is refused in the handshake', async t => {
  const h = await startGateway(tlsConfig())
  t.teardown(() => h.close())
  const other = makeCa()
  await t.rejects(httpsGet(other, h.port, '/info'), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' })
})

t.test('a connection that never completes a handshake is closed after clientHeaderTimeout; plain HTTP on the TLS port at once', async t => {
  const h = await startGateway(tlsConfig({}, { proxy: { clientHeaderTimeout: '300ms' } }))
  t.teardown(() => h.close())
  const { connect } = await import('node:net')
  const started = Date.now()
  const sock = connect(h.port, '127.0.0.1')
  sock.on('error', () => {})
  await new Promise(resolve => sock.once('close', resolve))
  const took = Date.now() - started
  t.ok(took >= 250 && took < 3000, `closed after ${took} ms`)

  // Plain HTTP to the TLS port is no handshake either: closed at once.
  const plain = connect(h.port, '127.0.0.1', () => plain.write('GET / HTTP/1.1\r\nHost: pr-1.localhost\r\n\r\n'))
  plain.on('error', () => {})
  const at = Date.now()
  await new Promise(resolve => plain.once('close', resolve))
  t.ok(Date.now() - at < 250, 'plain HTTP on the TLS port: closed')
})

t.test('HSTS: only with listen.tls.hsts; on proxied responses, gateway pages and errors', async t => {
  const h = await startGateway(tlsConfig({ hsts: {} }))
  t.teardown(() => h.close())
  const proxied = await httpsGet(ca, h.port, '/info')
  t.equal(proxied.status, 200)
  t.equal(proxied.headers['strict-transport-security'], 'max-age=15552000', '180 days by default')
  const error = await httpsGet(ca, h.port, '/', { host: 'pr-9.localhost' })
  t.equal(error.status, 404)
  t.equal(error.headers['strict-transport-security'], 'max-age=15552000', 'on an error page')
  const page = await httpsGet(ca, h.port, '/__wakegate/healthz', { host: 'localhost' })
  t.equal(page.headers['strict-transport-security'], 'max-age=15552000', 'on a fastify route')
  const unknownHost = await httpsGet(ca, h.port, '/', { host: 'localhost' })
  t.equal(unknownHost.status, 404)
  t.equal(unknownHost.headers['strict-transport-security'], 'max-age=15552000', 'on the unknown-host page')

  const sub = await startGateway(tlsConfig({ hsts: { maxAge: '365d', includeSubDomains: true, preload: true } }))
  t.teardown(() => sub.close())
  t.equal((await httpsGet(ca, sub.port, '/info')).headers['strict-transport-security'], 'max-age=31536000; includeSubDomains; preload')
  const sub2 = await startGateway(tlsConfig({ hsts: { includeSubDomains: true } }))
  t.teardown(() => sub2.close())
  t.equal((await httpsGet(ca, sub2.port, '/info')).headers['strict-transport-security'], 'max-age=15552000; includeSubDomains')
})

t.test('the HSTS response class: added to every form of writeHead, never twice; a response\'s own policy wins', async t => {
  const { createServer } = await import('node:http')
  const forms: Record<string, (res: import('node:http').ServerResponse) => void> = {
    '/flat': res => res.writeHead(200, ['x-a', '1']).end(),
    '/pairs': res => res.writeHead(200, [['x-a', '1']] as unknown as string[]).end(),
    '/object': res => res.writeHead(200, 'OK', { 'x-a': '1' }).end(),
    '/implicit': res => res.end('x'),
    '/own-flat': res => res.writeHead(200, ['Strict-Transport-Security', 'max-age=5']).end(),
    '/own-object': res => res.writeHead(200, { 'Strict-Transport-Security': 'max-age=5' }).end(),
    '/own-set': res => { res.setHeader('strict-transport-security', 'max-age=5'); res.writeHead(200, ['x-a', '1']).end() }
  }
  const server = createServer({ ServerResponse: hstsResponse('max-age=7') }, (req, res) => forms[req.url!](res))
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise(resolve => server.close(resolve)))
  const port = (server.address() as { port: number }).port
  const { connect } = await import('node:net')
  // The raw head: a header sent twice would be one entry in a parsed map.
  const head = (path: string) => new Promise<string>(resolve => {
    let data = ''
    const sock = connect(port, '127.0.0.1', () => sock.write(`GET ${path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`))
    sock.on('data', d => { data += String(d) })
    sock.on('close', () => resolve(data.split('\r\n\r\n')[0]))
  })
  for (const path of Object.keys(forms)) {
    const values = [...(await head(path)).matchAll(/^strict-transport-security: (.*)$/gim)].map(m => m[1])
    t.same(values, [path.startsWith('/own') ? 'max-age=5' : 'max-age=7'], path)
  }
})

t.test('redirect listener: 308 to the same host and path over https; healthz answered plainly; no HSTS', async t => {
  const h = await startGateway(tlsConfig({ redirectPort: 0, hsts: {} }))
  t.teardown(() => h.close())
  t.ok(h.wg.redirectUrl, 'the redirect listener is bound')
  const rport = Number(new URL(h.wg.redirectUrl!).port)
  const res = await request(`http://127.0.0.1:${rport}/a?b=1`, { headers: { host: `pr-1.localhost:${rport}` } })
  await res.body.text()
  t.equal(res.statusCode, 308)
  t.equal(res.headers.location, `https://pr-1.localhost:${h.port}/a?b=1`)
  t.equal(res.headers['strict-transport-security'], undefined, 'no HSTS over plain HTTP')

  // The redirect leads to the app.
  const followed = await httpsGet(ca, h.port, '/a?b=1')
  t.equal(followed.status, 200)
  t.equal(followed.headers['x-pr'], '1', 'the app answered')

  const post = await rawHttp(rport, `POST /form HTTP/1.1\r\nHost: PR-1.localhost\r\nContent-Length: 3\r\n\r\nabc`)
  t.equal(post.status, 308, 'a POST is redirected with its method kept (308)')
  t.equal(post.headers.location, `https://pr-1.localhost:${h.port}/form`, 'host lower-cased, no port in Host')
  t.equal(post.headers.connection, 'close', 'the body is not read: the connection closes')

  const absolute = await rawHttp(rport, 'GET http://pr-2.localhost:80/x?y HTTP/1.1\r\nHost: ignored.example\r\nConnection: close\r\n\r\n')
  t.equal(absolute.status, 308)
  t.equal(absolute.headers.location, `https://pr-2.localhost:${h.port}/x?y`, 'absolute-form: its authority is the host')

  const health = await request(`http://127.0.0.1:${rport}/__wakegate/healthz`)
  t.equal(health.statusCode, 200)
  t.same(await health.body.json(), { ok: true })

  for (const bad of ['evil.example/"x', 'a b', '']) {
    const r = await rawHttp(rport, `GET / HTTP/1.1\r\nHost: ${bad}\r\nConnection: close\r\n\r\n`)
    t.equal(r.status, 400, `Host ${JSON.stringify(bad)} is refused`)
    t.equal(r.headers['x-wakegate-error'], 'WAKEGATE_BAD_HOST')
  }
  const star = await rawHttp(rport, 'OPTIONS * HTTP/1.1\r\nHost: pr-1.localhost\r\nConnection: close\r\n\r\n')
  t.equal(star.status, 400)
})

t.test('redirect: Location names public.port when set, and no port for 443', async t => {
  const h = await startGateway(tlsConfig({ redirectPort: 0 }, { public: { scheme: 'https', port: 443 } }))
  t.teardown(() => h.close())
  const rport = Number(new URL(h.wg.redirectUrl!).port)
  const res = await request(`http://127.0.0.1:${rport}/a?b=1`, { headers: { host: 'pr-1.localhost' } })
  await res.body.text()
  t.equal(res.headers.location, 'https://pr-1.localhost/a?b=1')
})

t.test('shutdown closes the TLS listener and the redirect listener', async t => {
  const h = await startGateway(tlsConfig({ redirectPort: 0 }))
  const rport = Number(new URL(h.wg.redirectUrl!).port)
  t.equal((await httpsGet(ca, h.port, '/info')).status, 200)
  await h.close()
  t.notOk(h.wg.server.listening, 'TLS listener closed')
  t.notOk(h.wg.listener.redirect!.server.listening, 'redirect listener closed')
  await t.rejects(request(`http://127.0.0.1:${rport}/`), { code: 'ECONNREFUSED' })
})

t.test('boot logs the certificate; warns when it expires soon or does not cover the app hosts', async t => {
  const { log, lines } = captureLog()
  const soon = makeLeaf(ca, { days: 5, names: ['other.localhost'] })
  const config = testConfig({ listen: { host: '127.0.0.1', port: 0, tls: pairDir(soon) }, log: { level: 'info' } }, [exampleApp({ host: 'pr-{pr}.localhost' })])
  const h = await startGateway(config, { log })
  t.teardown(() => h.close())
  const loaded = lines.find(l => l.msg === 'TLS certificate loaded')
  t.ok(loaded, 'the certificate is logged')
  t.equal(loaded?.serial, soon.serial)
  t.match(String(loaded?.notAfter), /^\d{4}-\d\d-\d\dT/)
  t.ok(lines.some(l => l.level === 40 && /^TLS certificate expires in [45] days$/.test(String(l.msg))), 'expiry within 14 days is a warning')
  const cover = lines.find(l => l.level === 40 && /does not cover/.test(String(l.msg)))
  t.same(cover?.hosts, ['pr-1.localhost'])
})

t.test('the expiry gauge on /metrics', async t => {
  const h = await startGateway(tlsConfig())
  t.teardown(() => h.close())
  const res = await request(`${h.wg.adminUrl!}/metrics`)
  const text = await res.body.text()
  const m = /^wakegate_tls_cert_expiry_seconds (\d+)$/m.exec(text)
  t.ok(m, 'gauge present')
  t.equal(Number(m![1]), Math.floor(Date.parse(h.wg.listener.certs!.pair.cert.validTo) / 1000))
})

t.test('check-config: bad certificate files exit 2 naming the field', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-tls-config-'))
  const other = makeLeaf(ca)
  writeFileSync(join(dir, 'cert.pem'), leaf.cert)
  writeFileSync(join(dir, 'key.pem'), leaf.key)
  writeFileSync(join(dir, 'other-key.pem'), other.key)
  writeFileSync(join(dir, 'garbage.pem'), 'not a certificate\n')
  const app = '\napps:\n  - name: web\n    host: pr-{pr}.localhost\n    backend: { kind: local, command: node server.js }\n'
  const check = (listen: string) => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(file, `listen:\n  port: 8443\n  tls:\n${listen}${app}`)
    const r = spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'check-config', '--config', file], { encoding: 'utf8', cwd: ROOT })
    return { code: r.status, err: r.stderr, out: r.stdout }
  }
  const ok = check('    certFile: cert.pem\n    keyFile: key.pem\n')
  t.equal(ok.code, 0, `paths relative to the config file: ${ok.err}`)
  t.match(ok.out, /^ {2}tls: CN=wakegate test one \(DNS:.*\), expires \d{4}-\d\d-\d\dT/m, 'the certificate in use is summarised')

  const cases: Array<[string, string, RegExp]> = [
    ['missing cert file', '    certFile: nope.pem\n    keyFile: key.pem\n', /listen\.tls\.certFile: cannot read .*nope\.pem: ENOENT/],
    ['missing key file', '    certFile: cert.pem\n    keyFile: nope.pem\n', /listen\.tls\.keyFile: cannot read .*nope\.pem: ENOENT/],
    ['key of another certificate', '    certFile: cert.pem\n    keyFile: other-key.pem\n', /listen\.tls\.keyFile: .*other-key\.pem is not the private key of the certificate in .*cert\.pem \(CN=wakegate test one\)/],
    ['not a certificate', '    certFile: garbage.pem\n    keyFile: key.pem\n', /listen\.tls\.certFile: .*garbage\.pem holds no PEM certificate/],
    ['not a key', '    certFile: cert.pem\n    keyFile: garbage.pem\n', /listen\.tls\.keyFile: .*garbage\.pem holds no usable PEM private key/],
    ['a chain file without certificates', '    certFile: cert.pem\n    keyFile: key.pem\n    caFile: garbage.pem\n', /listen\.tls\.caFile: .*garbage\.pem holds no PEM certificate/],
    ['redirect on the TLS port', '    certFile: cert.pem\n    keyFile: key.pem\n    redirectPort: 8443\n', /listen\.tls\.redirectPort: the same port as listen\.port/],
    ['preload without includeSubDomains', '    certFile: cert.pem\n    keyFile: key.pem\n    hsts: { preload: true }\n', /listen\.tls\.hsts\.preload: /],
    ['unknown TLS version', '    certFile: cert.pem\n    keyFile: key.pem\n    minVersion: TLSv1.1\n', /listen\.tls\.minVersion: expected one of "TLSv1\.2", "TLSv1\.3"/],
    ['no key file', '    certFile: cert.pem\n', /listen\.tls\.keyFile: expected required property/]
  ]
  for (const [name, listen, expected] of cases) {
    const r = check(listen)
    t.equal(r.code, 2, `${name}: exit code 2`)
    t.match(r.err, expected, name)
  }
})

t.test('a chain file is sent after the certificate', async t => {
  // An intermediate CA between the leaf and the root the client trusts.
  const root = makeCa()
  const mid = makeIntermediate(root)
  const leafOfMid = makeLeaf(mid)
  const files = pairDir(leafOfMid)
  const h = await startGateway(tlsConfig({ ...files, caFile: mid.caFile }))
  t.teardown(() => h.close())
  const res = await httpsGet(root, h.port, '/__wakegate/healthz', { host: 'localhost' })
  t.equal(res.status, 200, 'the client, trusting only the root, verified leaf + intermediate')
  const without = await startGateway(tlsConfig(files))
  t.teardown(() => without.close())
  await t.rejects(httpsGet(root, without.port, '/__wakegate/healthz', { host: 'localhost' }), { code: 'UNABLE_TO_VERIFY_LEAF_SIGNATURE' }, 'without the chain the client cannot verify')
})

t.test('--workers 2: HTTPS through the workers', async t => {
  const config = tlsConfig({ redirectPort: 0 })
  const c = await startCluster(config, { workers: 2 })
  t.teardown(() => c.close())
  t.match(c.url, /^https:\/\//)
  const port = Number(new URL(c.url).port)
  const results = await Promise.all(Array.from({ length: 8 }, () => httpsGet(ca, port, '/info')))
  for (const r of results) {
    t.equal(r.status, 200)
    t.equal(r.serial, leaf.serial)
    t.equal(JSON.parse(r.body).headers['x-forwarded-proto'], 'https')
  }
  t.equal(c.manager.counters.starts, 1, 'one task')
  // The primary's metrics show the workers' certificate.
  const metrics = await (await request(`${c.wg.adminUrl!}/metrics`)).body.text()
  t.match(metrics, /^wakegate_tls_cert_expiry_seconds \d+$/m)
})

t.test('a replica (redis store) serves HTTPS and redirects; both listeners close with it', async t => {
  const redis = await startRedis()
  t.teardown(() => redis.close())
  // Replicas hand their tasks over rather than stop them: the test stops them by their records.
  const taskDir = mkdtempSync(join(tmpdir(), 'wakegate-tls-tasks-'))
  t.teardown(() => {
    for (const f of readdirSync(taskDir)) {
      try { process.kill(-JSON.parse(readFileSync(join(taskDir, f), 'utf8')).pid, 'SIGKILL') } catch {}
    }
  })
  const app = exampleApp({ host: 'pr-{pr}.localhost', backend: { kind: 'local', command: EXAMPLE_COMMAND, stopGrace: '2s', taskDir } })
  const config = testConfig({
    listen: { host: '127.0.0.1', port: 0, tls: { ...pairDir(), redirectPort: 0 } },
    store: { kind: 'redis', url: redis.url, keyPrefix: `tls${redis.port}:`, leaseTtl: '1s' }
  }, [app])
  const r = await startReplica(config)
  let closed = false
  t.teardown(() => closed ? undefined : r.close())
  t.match(r.url, /^https:\/\//)
  await waitFor(() => r.isLeader(), 10_000, 'the replica to lead')
  const port = Number(new URL(r.url).port)
  const res = await httpsGet(ca, port, '/info')
  t.equal(res.status, 200, 'woken through the leader and proxied by the replica')
  t.equal(res.serial, leaf.serial)
  t.equal(JSON.parse(res.body).headers['x-forwarded-proto'], 'https')
  const health = await httpsGet(ca, port, '/__wakegate/healthz', { host: 'localhost' })
  t.match(JSON.parse(health.body), { ok: true, leader: true })
  const redirect = r.mg.listener.redirect!
  const rport = (redirect.server.address() as { port: number }).port
  const moved = await request(`http://127.0.0.1:${rport}/x`, { headers: { host: 'pr-1.localhost' } })
  await moved.body.text()
  t.equal(moved.headers.location, `https://pr-1.localhost:${port}/x`)
  await r.close()
  closed = true
  t.notOk(r.mg.server.listening, 'TLS listener closed')
  t.notOk(redirect.server.listening, 'redirect listener closed')
})

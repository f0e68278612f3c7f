// listen.tls reload: replaced certificate files are taken into use for new connections while
// open ones (keep-alive, WebSocket) go on with the certificate they shook hands with; a pair
// that does not match is never applied.
import t from 'tap'
import { Agent } from 'node:https'
import { mkdirSync, mkdtempSync, renameSync, symlinkSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { TLSSocket } from 'node:tls'
import WebSocket from 'ws'
import { request } from 'undici'
import { exampleApp, startGateway, testConfig, waitFor } from './support/harness.js'
import { captureLog, httpsGet, makeCa, makeLeaf, writePair, type Leaf } from './support/tls-certs.js'

const ca = makeCa()

async function start (t: { teardown (fn: () => unknown): void }, files: { certFile: string, keyFile: string }, reloadInterval: string | number = '100ms') {
  const { log, lines } = captureLog()
  const config = testConfig({ listen: { host: '127.0.0.1', port: 0, tls: { ...files, reloadInterval } }, log: { level: 'info' } }, [exampleApp({ host: 'pr-{pr}.localhost' })])
  const h = await startGateway(config, { log })
  t.teardown(() => h.close())
  return { h, lines, port: h.port }
}

/** The serial a new connection is shown. */
async function served (port: number): Promise<string> {
  return (await httpsGet(ca, port, '/__wakegate/healthz', { host: 'localhost' })).serial
}

function until (port: number, leaf: Leaf, what: string): Promise<unknown> {
  return waitFor(async () => await served(port) === leaf.serial, 5000, what)
}

function openWs (port: number): Promise<WebSocket> {
  // ws hands these to tls.connect (its types leave out servername).
  const options = { headers: { host: 'pr-1.localhost' }, ca: ca.ca, servername: 'pr-1.localhost' }
  const ws = new WebSocket(`wss://127.0.0.1:${port}/`, options)
  return new Promise((resolve, reject) => { ws.once('open', () => resolve(ws)); ws.once('error', reject) })
}

function roundTrip (ws: WebSocket, text: string): Promise<string> {
  return new Promise(resolve => { ws.once('message', d => resolve(String(d))); ws.send(text) })
}

t.test('new files: new connections get the new certificate; an open keep-alive connection and a WebSocket keep theirs', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-tls-reload-'))
  const before = makeLeaf(ca, { cn: 'wakegate test before', days: 30 })
  const { h, lines, port } = await start(t, writePair(dir, before))
  const agent = new Agent({ keepAlive: true, maxSockets: 1 })
  t.teardown(() => agent.destroy())

  const first = await httpsGet(ca, port, '/info', { agent })
  t.equal(first.status, 200)
  t.equal(first.serial, before.serial)
  const ws = await openWs(port)
  t.teardown(() => ws.terminate())
  t.equal(await roundTrip(ws, 'one'), 'one', 'WebSocket echoes')

  const after = makeLeaf(ca, { cn: 'wakegate test after', days: 20 })
  writePair(dir, after)
  await until(port, after, 'new connections to get the new certificate')
  t.pass('a new connection gets the new certificate')

  const second = await httpsGet(ca, port, '/info', { agent })
  t.equal(second.status, 200, 'the keep-alive connection is still served')
  t.equal(second.socket, first.socket, 'on the same connection')
  t.equal(second.serial, before.serial, 'which keeps the certificate it shook hands with')
  t.equal(await roundTrip(ws, 'two'), 'two', 'the WebSocket still echoes')
  t.equal(((ws as unknown as { _socket: TLSSocket })._socket).getPeerCertificate().serialNumber, before.serial)

  const reloaded = lines.find(l => l.msg === 'TLS certificate reloaded: new connections get it, open ones keep theirs')
  t.equal(reloaded?.serial, after.serial, 'the swap is logged with the new certificate')
  t.equal(reloaded?.subject, 'CN=wakegate test after')
  t.equal(h.wg.listener.certs!.notAfter, Date.parse(h.wg.listener.certs!.pair.cert.validTo))
  const metrics = await (await request(`${h.wg.adminUrl!}/metrics`)).body.text()
  t.equal(Number(/^wakegate_tls_cert_expiry_seconds (\d+)$/m.exec(metrics)?.[1]), Math.floor(h.wg.listener.certs!.notAfter / 1000), 'the gauge follows the swap')
  t.ok(h.wg.listener.certs!.notAfter < Date.now() + 21 * 86_400_000, 'the 20-day certificate')
})

t.test('a key that does not match is not applied: the old certificate stays, a warning is logged once; the matching key applies it', async t => {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-tls-reload-'))
  const before = makeLeaf(ca)
  const { lines, port } = await start(t, writePair(dir, before))
  const after = makeLeaf(ca)
  writePair(dir, after, 'cert') // the certificate first, its key not yet
  const warned = () => lines.filter(l => l.level === 40 && /cannot be used/.test(String(l.msg)))
  await waitFor(() => warned().length > 0, 5000, 'a warning')
  t.match(String(warned()[0].err), /is not the private key of the certificate/)
  t.equal(await served(port), before.serial, 'the old certificate is still served')
  await new Promise(resolve => setTimeout(resolve, 400)) // several reads of the same files
  t.equal(warned().length, 1, 'a standing problem is logged once')
  t.equal(await served(port), before.serial)

  writePair(dir, after, 'key')
  await until(port, after, 'the matching key to apply the new certificate')
  t.pass('applied once the key matches')
})

t.test('a Kubernetes-style symlink swap is seen by the directory watch alone (reloadInterval 0)', async t => {
  // secret/cert.pem -> ..data/cert.pem, ..data -> v1; a new version is a new directory and a rename of ..data.
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-tls-k8s-'))
  const version = (name: string, leaf: Leaf) => { mkdirSync(join(dir, name)); writePair(join(dir, name), leaf) }
  const before = makeLeaf(ca)
  version('v1', before)
  symlinkSync('v1', join(dir, '..data'))
  symlinkSync('..data/cert.pem', join(dir, 'cert.pem'))
  symlinkSync('..data/key.pem', join(dir, 'key.pem'))
  const { port } = await start(t, { certFile: join(dir, 'cert.pem'), keyFile: join(dir, 'key.pem') }, 0)
  t.equal(await served(port), before.serial)
  const after = makeLeaf(ca)
  version('v2', after)
  symlinkSync('v2', join(dir, '..data_tmp'))
  renameSync(join(dir, '..data_tmp'), join(dir, '..data'))
  await until(port, after, 'the swapped certificate')
  t.pass('the swap is picked up without a periodic read')
})

t.test('a change the directory watch cannot see (files behind symlinks into another directory) is found by the periodic read', async t => {
  const real = mkdtempSync(join(tmpdir(), 'wakegate-tls-real-'))
  const links = mkdtempSync(join(tmpdir(), 'wakegate-tls-links-'))
  const before = makeLeaf(ca)
  const files = writePair(real, before)
  symlinkSync(files.certFile, join(links, 'cert.pem'))
  symlinkSync(files.keyFile, join(links, 'key.pem'))
  const { port } = await start(t, { certFile: join(links, 'cert.pem'), keyFile: join(links, 'key.pem') }, '200ms')
  t.equal(await served(port), before.serial)
  const after = makeLeaf(ca)
  writePair(real, after)
  await until(port, after, 'the periodic read to find the new certificate')
  t.pass('found by the periodic read')
})

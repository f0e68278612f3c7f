// Each access policy, allowing and refusing, through real sockets: IP lists (IPv4, IPv6,
// trusted proxy chains, spoofed X-Forwarded-For), basic auth (argon2, bcrypt), the bypass
// secret (header and one-time query → cookie), WebSocket upgrades; refused requests start
// nothing, and wakegate's credentials never reach the app.
import t, { type Test } from 'tap'
import { request } from 'undici'
import WebSocket from 'ws'
import { startGateway, testConfig, exampleApp, type Harness } from './support/harness.js'
import { FixedBackend } from './support/raw-upstream.js'
import { echoUpstream } from './support/echo-upstream.js'

const ALICE = '$argon2id$v=19$m=19456,t=2,p=1$tHJU/CCI/0tuOMTavYN9WQ$+TUSgOIOx7vpP6lGpM9ju0C+8M+z4a6D6pPFu2igqb0' // alice-pw
const BOB = '$2b$04$CG/v35ubJLWLpujWpBaQ4uyNbhkc.QG/ZiI/mrtWzgLBlL.XgLp4W' // bob-pw
const KEY = 'a'.repeat(64)
const SECRET = 'ci-secret-0123456789'
const basicHeader = (u: string, p: string) => `Basic ${Buffer.from(`${u}:${p}`).toString('base64')}`

async function gateway (t: Test, access: Record<string, unknown>, over: Record<string, unknown> = {}, listen = '127.0.0.1'): Promise<Harness> {
  const up = await echoUpstream()
  const config = testConfig({ listen: { host: listen, port: 0 }, ...over }, [exampleApp({ access, prs: [{ number: 1, title: 'Secret launch plan' }, { number: 2 }] })])
  const h = await startGateway(config, { backends: new Map([['example', new FixedBackend(up.port)]]) })
  t.teardown(async () => { await h.close(); await up.close() })
  return h
}

const starts = (h: Harness) => h.backends.get('example')!.calls.start
const seen = (body: string) => JSON.parse(body) as { path: string, headers: Record<string, string> }

t.test('IP allow-list (IPv4): the socket address decides; refusals start nothing', async t => {
  const allowed = await gateway(t, { ip: ['127.0.0.0/8'] })
  t.equal((await allowed.get('pr-1.review.test')).status, 200)
  const refused = await gateway(t, { ip: ['10.0.0.0/8', '192.0.2.7'] })
  const r = await refused.get('pr-1.review.test')
  t.equal(r.status, 403)
  t.equal(r.headers['x-wakegate-error'], 'WAKEGATE_ADDRESS_NOT_ALLOWED')
  t.match(JSON.parse(r.body).detail, /127\.0\.0\.1/)
  const page = await refused.get('pr-1.review.test', '/', { accept: 'text/html', 'sec-fetch-mode': 'navigate' })
  t.equal(page.status, 403)
  t.match(page.body, /not allowed/)
  t.equal(starts(refused), 0, 'nothing was started')
  // A client-supplied header is not believed without trusted proxies.
  t.equal((await refused.get('pr-1.review.test', '/', { 'x-forwarded-for': '10.1.2.3' })).status, 403)
  t.equal(starts(refused), 0)
})

t.test('IP allow-list (IPv6)', async t => {
  const h = await gateway(t, { ip: ['::1/128'] }, {}, '::1')
  const res = await request(h.url + '/', { headers: { host: 'pr-1.review.test' } })
  t.equal(res.statusCode, 200)
  await res.body.text()
  const other = await gateway(t, { ip: ['2001:db8::/32', '127.0.0.1'] }, {}, '::1')
  const denied = await request(other.url + '/', { headers: { host: 'pr-1.review.test' } })
  t.equal(denied.statusCode, 403)
  t.match(await denied.body.text(), /::1/)
  t.equal(starts(other), 0)
})

t.test('trusted proxies: the entry the nearest untrusted hop added, never a spoofed one', async t => {
  const byList = await gateway(t, { ip: ['203.0.113.0/24'] }, { access: { trustedProxies: ['loopback', '10.0.0.0/8'] } })
  const as = (xff: string) => byList.get('pr-1.review.test', '/', { 'x-forwarded-for': xff })
  t.equal((await as('203.0.113.7')).status, 200, 'the ALB saw 203.0.113.7')
  t.equal((await as('203.0.113.7, 10.1.1.1')).status, 200, 'a chain of trusted proxies is walked')
  t.equal((await as('198.51.100.1')).status, 403)
  t.equal((await as('203.0.113.7, 198.51.100.1')).status, 403, 'the client prepended an allowed address; the proxy saw 198.51.100.1')
  t.equal((await byList.get('pr-1.review.test')).status, 403, 'no header: the proxy itself is the client')

  const byHops = await gateway(t, { ip: ['203.0.113.0/24'] }, { access: { trustedProxies: 1 } })
  t.equal((await byHops.get('pr-1.review.test', '/', { 'x-forwarded-for': '198.51.100.1, 203.0.113.7' })).status, 200, 'one hop: the last entry counts')
  t.equal((await byHops.get('pr-1.review.test', '/', { 'x-forwarded-for': '203.0.113.7, 198.51.100.1' })).status, 403, 'an allowed address spoofed in front is ignored')
  t.equal(starts(byHops), 1)
})

t.test('basic auth: argon2 and bcrypt hashes; the Authorization header is not forwarded', async t => {
  const h = await gateway(t, { basic: { realm: 'Review', users: { alice: ALICE, bob: BOB } } })
  const none = await h.get('pr-1.review.test')
  t.equal(none.status, 401)
  t.equal(none.headers['www-authenticate'], 'Basic realm="Review", charset="UTF-8"')
  t.equal(JSON.parse(none.body).error, 'WAKEGATE_SIGN_IN_REQUIRED')
  const wrong = await h.get('pr-1.review.test', '/', { authorization: basicHeader('alice', 'nope') })
  t.equal(wrong.status, 401)
  t.equal(wrong.headers['www-authenticate'], 'Basic realm="Review", charset="UTF-8"')
  t.equal((await h.get('pr-1.review.test', '/', { authorization: basicHeader('mallory', 'alice-pw') })).status, 401)
  t.equal(starts(h), 0)
  const alice = await h.get('pr-1.review.test', '/', { authorization: basicHeader('alice', 'alice-pw') })
  t.equal(alice.status, 200)
  t.notOk(seen(alice.body).headers.authorization, 'the app does not see the password')
  const bob = await h.get('pr-1.review.test', '/x', { authorization: basicHeader('bob', 'bob-pw') })
  t.equal(bob.status, 200)
  t.equal(seen(bob.body).path, '/x')
})

t.test('an app that opts in receives the Authorization header', async t => {
  const h = await gateway(t, { basic: { users: { alice: ALICE } }, forwardCredentials: true })
  const res = await h.get('pr-1.review.test', '/', { authorization: basicHeader('alice', 'alice-pw') })
  t.equal(seen(res.body).headers.authorization, basicHeader('alice', 'alice-pw'))
})

t.test('bypass secret: header, and a query parameter that sets a host-only cookie once', async t => {
  const h = await gateway(t, { bypass: { secrets: ['old-secret-0123456789', SECRET] } }, { access: { sessionKey: KEY } })
  t.equal((await h.get('pr-1.review.test')).status, 403)
  t.equal((await h.get('pr-1.review.test', '/', { 'x-wakegate-bypass': 'wrong-secret-012345678' })).status, 403)
  t.equal(starts(h), 0)
  const byHeader = await h.get('pr-1.review.test', '/', { 'x-wakegate-bypass': SECRET })
  t.equal(byHeader.status, 200)
  t.notOk(seen(byHeader.body).headers['x-wakegate-bypass'], 'the secret is not forwarded')
  t.equal((await h.get('pr-1.review.test', '/', { 'x-wakegate-bypass': 'old-secret-0123456789' })).status, 200, 'the previous secret still works while listed (rotation)')

  const q = await h.get('pr-1.review.test', `/page?a=1&wakegate-bypass=${SECRET}&b=2`)
  t.equal(q.status, 302)
  t.equal(q.headers.location, '/page?a=1&b=2', 'the secret is gone from the URL')
  const setCookie = String(q.headers['set-cookie'])
  t.match(setCookie, /^__Host-wakegate=[^;]+; Max-Age=\d+; Path=\/; HttpOnly; SameSite=Lax; Secure$/, 'https env URLs: a __Host- cookie, which browsers keep host-only')
  t.notMatch(setCookie, /domain/i, 'host-only')
  const cookie = setCookie.split(';')[0]
  const withCookie = await h.get('pr-1.review.test', '/page', { cookie: `app=1; ${cookie}; other=2` })
  t.equal(withCookie.status, 200)
  t.equal(seen(withCookie.body).headers.cookie, 'app=1; other=2', "the app's cookies stay, wakegate's is taken out")
  t.equal((await h.get('pr-2.review.test', '/', { cookie })).status, 403, "pr-1's cookie means nothing on pr-2")
  t.equal((await h.get('pr-1.review.test', '/', { cookie: cookie.slice(0, -4) + 'AAAA' })).status, 403, 'a tampered cookie is refused')
  t.equal((await h.get('pr-1.review.test', `/?wakegate-bypass=${'x'.repeat(20)}`)).status, 403, 'a wrong secret in the query sets nothing')
})

t.test('WebSocket upgrades pass the same gate', async t => {
  const h = await gateway(t, { basic: { users: { alice: ALICE } } })
  const refused = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { host: 'pr-1.review.test' } })
    ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0))
    ws.on('open', () => reject(new Error('opened')))
    ws.on('error', () => {})
  })
  t.equal(refused, 401)
  t.equal(starts(h), 0, 'a refused upgrade starts nothing')
  const first = await new Promise<string>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${h.port}/ws`, { headers: { host: 'pr-1.review.test', authorization: basicHeader('alice', 'alice-pw') } })
    ws.on('message', m => { resolve(String(m)); ws.close() })
    ws.on('error', reject)
  })
  t.notOk(JSON.parse(first).headers.authorization, 'the tunnel carries no wakegate credentials')
})

t.test('link-preview bots see a neutral page: no PR title, nothing started', async t => {
  const h = await gateway(t, { basic: { users: { alice: ALICE } } })
  const res = await h.get('pr-1.review.test', '/', { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' })
  t.equal(res.status, 200)
  t.notMatch(res.body, /Secret launch plan|PR #1|feature/)
  t.match(res.body, /private/)
  t.equal(starts(h), 0)
})

t.test('public: true and no policy both let everyone in', async t => {
  const h = await gateway(t, { public: true })
  t.equal((await h.get('pr-1.review.test')).status, 200)
  t.equal(h.wg.gateway.gated, false, 'the gate costs nothing when no app has a policy')
})

t.test('a request another replica vouches for skips the gate; a forged or stale voucher does not', async t => {
  const { RelayVouchers, RELAYED_HEADER } = await import('../src/access/relayed.js')
  const h = await gateway(t, { ip: ['10.0.0.0/8'] }, { access: { sessionKey: KEY } })
  const vouchers = new RelayVouchers([Buffer.from(KEY, 'hex')])
  const ok = await h.get('pr-1.review.test', '/', { [RELAYED_HEADER]: vouchers.vouch('10.9.9.9')! })
  t.equal(ok.status, 200)
  t.notOk(seen(ok.body).headers[RELAYED_HEADER], 'the voucher is not forwarded to the app')
  // The relaying replica wrote X-Forwarded-* from the client's connection (here: over TLS).
  const relayed = seen((await h.get('pr-1.review.test', '/', { [RELAYED_HEADER]: vouchers.vouch('10.9.9.9')!, 'x-forwarded-for': '10.9.9.9', 'x-forwarded-proto': 'https' })).body).headers
  t.equal(relayed['x-forwarded-proto'], 'https', "the client's scheme reaches the app through the relay")
  t.match(relayed['x-forwarded-for'], /^10\.9\.9\.9, /, "the client's address first, the relay's hop after it")
  const forged = new RelayVouchers([Buffer.from('b'.repeat(64), 'hex')]).vouch('10.9.9.9')!
  t.equal((await h.get('pr-1.review.test', '/', { [RELAYED_HEADER]: forged })).status, 403, 'signed with another key')
  t.equal((await h.get('pr-1.review.test', '/', { [RELAYED_HEADER]: vouchers.vouch('10.9.9.9', Date.now() - 120_000)! })).status, 403, 'too old')
  t.equal((await h.get('pr-1.review.test', '/', { [RELAYED_HEADER]: 'garbage' })).status, 403)
})

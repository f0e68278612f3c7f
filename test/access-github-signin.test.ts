// Sign in with GitHub through the auth host, step by step over real sockets, with cookies
// kept by hand as a browser keeps them (host-only, name=value up to the first ';'): the
// redirects, the cookies' attributes, the one-use hand-over token, the access verdict and its
// cache, sign-out, and what a refused request must not do (wake, or ask GitHub about a PR).
import t, { type Test } from 'tap'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { request, Agent } from 'undici'
import { WebSocket, WebSocketServer } from 'ws'
import { decodeJwt } from 'jose'
import { FakeGitHub } from './support/fake-github.js'
import { FastBackend } from './support/fast-backend.js'
import { exampleApp, sleep, startGateway, testConfig, type Harness } from './support/harness.js'
import { Sealer } from '../src/access/sealer.js'

const CLIENT_ID = 'Iv1.test'
const CLIENT_SECRET = 'shh'
const AUTH = 'auth.localhost'
const BROWSER = {
  accept: 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8',
  'sec-fetch-mode': 'navigate',
  'sec-fetch-dest': 'document',
  'user-agent': 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0 Safari/537.36'
}

/** One app's upstream: answers with what it was sent (host, path, cookie, authorization) and echoes WebSockets. */
async function echoUpstream (t: Test) {
  const seen: Array<{ host?: string, path: string, headers: IncomingHttpHeaders }> = []
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://x')
    if (url.pathname !== '/healthz') seen.push({ host: req.headers.host, path: req.url ?? '', headers: req.headers })
    res.writeHead(200, { 'content-type': 'application/json' })
    res.end(JSON.stringify({ host: req.headers.host, path: req.url, cookie: req.headers.cookie ?? null, authorization: req.headers.authorization ?? null }))
  })
  server.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  const wss = new WebSocketServer({ server })
  const upgrades: IncomingHttpHeaders[] = []
  wss.on('connection', (ws, req) => {
    upgrades.push(req.headers)
    ws.on('message', (m, binary) => ws.send(m, { binary }))
  })
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => {
    for (const c of wss.clients) c.terminate()
    wss.close()
    for (const s of sockets) s.destroy()
    server.close(() => resolve())
  }))
  return { port: (server.address() as { port: number }).port, seen, upgrades }
}

interface Setup {
  h: Harness
  fake: FakeGitHub
  backend: FastBackend
  up: Awaited<ReturnType<typeof echoUpstream>>
  port: number
  /** http://<host>:PORT */
  origin (host: string): string
  starts (): number
  pullCalls (): number
  permissionCalls (): number
}

async function setup (t: Test, opts: { access?: Record<string, unknown>, scheme?: 'http' | 'https', login?: string, app?: Record<string, unknown> } = {}): Promise<Setup> {
  const fake = await new FakeGitHub().start()
  t.teardown(() => fake.close())
  fake.oauthClients.set(CLIENT_ID, CLIENT_SECRET)
  fake.oauthUser = opts.login ?? 'hubot'
  fake.setRole('acme/web', 'hubot', 'read')
  const up = await echoUpstream(t)
  const backend = new FastBackend(up.port)
  const config = testConfig({
    public: { scheme: opts.scheme ?? 'http' },
    github: { auth: { token: fake.token }, apiUrl: fake.url, webhookSecret: 'xxxxxxxxxxxx', prSweepInterval: 0, retries: 0 },
    access: {
      authHost: AUTH,
      sessionKey: randomBytes(32).toString('hex'),
      checkTtl: '1s',
      github: { clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, clientType: 'github-app' },
      ...opts.access
    }
  }, [exampleApp({
    host: 'pr-{pr}.localhost',
    repo: 'acme/web',
    prs: [{ number: 1, branch: 'feature/one', sha: 'aaaaaaa1', title: 'Secret launch' }, { number: 2, branch: 'feature/two', sha: 'bbbbbbb2' }],
    github: { comment: false, deployments: false },
    access: { github: { permission: 'read' } },
    ...opts.app
  })])
  const h = await startGateway(config, { backends: new Map([['example', backend]]) })
  t.teardown(() => h.close())
  const port = h.port
  return {
    h,
    fake,
    backend,
    up,
    port,
    origin: host => `http://${host}:${port}`,
    starts: () => h.backends.get('example')!.calls.start,
    pullCalls: () => fake.calls.filter(c => /\/pulls(\/|$)/.test(c.path)).length,
    permissionCalls: () => fake.count('GET', /\/collaborators\/[^/]+\/permission$/)
  }
}

interface SetCookie { name: string, value: string, attrs: Map<string, string | true>, raw: string }

/** Set-Cookie as a browser reads it: the value ends at the first ';', the rest are attributes. */
function parseSetCookie (raw: string): SetCookie {
  const [pair, ...rest] = raw.split(';')
  const i = pair.indexOf('=')
  const attrs = new Map<string, string | true>()
  for (const a of rest) {
    const j = a.indexOf('=')
    if (a.trim() === '') continue
    attrs.set((j < 0 ? a : a.slice(0, j)).trim().toLowerCase(), j < 0 ? true : a.slice(j + 1).trim())
  }
  return { name: pair.slice(0, i).trim(), value: pair.slice(i + 1).trim(), attrs, raw }
}

/** Host-only cookies per host (no Domain attribute is ever expected; one makes the test fail). */
class Jar {
  readonly hosts = new Map<string, Map<string, string>>()
  take (host: string, setCookies: SetCookie[]): void {
    const name = host.replace(/:\d+$/, '')
    const jar = this.hosts.get(name) ?? new Map<string, string>()
    for (const c of setCookies) {
      if (c.attrs.has('domain')) throw new Error(`a Domain cookie was set: ${c.raw}`)
      if (c.attrs.get('max-age') === '0') jar.delete(c.name)
      else jar.set(c.name, c.value)
    }
    this.hosts.set(name, jar)
  }

  header (host: string): string | undefined {
    const jar = this.hosts.get(host.replace(/:\d+$/, ''))
    if (!jar || jar.size === 0) return undefined
    return [...jar].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  get (host: string, name: string): string | undefined { return this.hosts.get(host.replace(/:\d+$/, ''))?.get(name) }
}

interface Res { status: number, headers: Record<string, string | string[] | undefined>, body: string, location: string | undefined, cookies: SetCookie[] }

const agent = new Agent({ connections: 64 })
t.teardown(() => agent.close())

/**
 * GET `url` (any host) from the gateway at `s`, or from elsewhere when `direct` (the fake
 * GitHub); the jar's cookies for the host are sent and its Set-Cookies kept.
 */
async function get (s: Setup, url: string, opts: { jar?: Jar, headers?: Record<string, string>, cookie?: string, direct?: boolean, method?: 'GET' | 'HEAD' } = {}): Promise<Res> {
  const u = new URL(url)
  const cookie = opts.cookie ?? opts.jar?.header(u.host)
  const headers: Record<string, string> = { ...opts.headers }
  if (cookie !== undefined) headers.cookie = cookie
  const res = opts.direct
    ? await request(url, { method: opts.method ?? 'GET', headers, dispatcher: agent })
    : await request(`${s.h.url}${u.pathname}${u.search}`, { method: opts.method ?? 'GET', headers: { host: u.host, ...headers }, dispatcher: agent })
  const body = await res.body.text()
  const raw = res.headers['set-cookie']
  const cookies = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).map(parseSetCookie)
  opts.jar?.take(u.host, cookies)
  const location = res.headers.location === undefined ? undefined : new URL(String(res.headers.location), url).href
  return { status: res.statusCode, headers: res.headers, body, location, cookies }
}

/** Follows redirects as a browser would (the fake GitHub directly, the rest through the gateway). */
async function browse (s: Setup, jar: Jar, url: string, max = 10): Promise<Res & { url: string, trail: string[] }> {
  const trail: string[] = []
  for (let i = 0; i < max; i++) {
    trail.push(url)
    let r = await get(s, url, { jar, headers: BROWSER, direct: url.startsWith(s.fake.url) })
    // The waking page reloads itself until the env is up.
    for (let n = 0; r.status === 503 && r.headers['x-wakegate-state'] !== undefined && n < 100; n++) {
      await sleep(50)
      r = await get(s, url, { jar, headers: BROWSER })
    }
    if (r.status < 300 || r.status >= 400 || r.location === undefined) return { ...r, url, trail }
    url = r.location
  }
  throw new Error(`too many redirects: ${trail.join(' → ')}`)
}

function assertSessionCookie (t: Test, c: SetCookie | undefined, name = 'wakegate', secure = false) {
  t.ok(c, `${name} is set`)
  if (!c) return
  t.equal(c.name, name)
  t.notOk(c.attrs.has('domain'), 'no Domain: host-only')
  t.equal(c.attrs.get('path'), '/', 'Path=/')
  t.equal(c.attrs.get('httponly'), true, 'HttpOnly')
  t.equal(String(c.attrs.get('samesite')).toLowerCase(), 'lax', 'SameSite=Lax')
  t.equal(c.attrs.has('secure'), secure, secure ? 'Secure' : 'not Secure under public.scheme http')
  t.match(c.value, /^[\x21\x23-\x2B\x2D-\x3A\x3C-\x5B\x5D-\x7E]+$/, 'the value is cookie-octets only (RFC 6265: nothing a browser would cut off)')
}

t.test('the whole flow, step by step', async t => {
  const s = await setup(t)
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  const auth = s.origin(AUTH)

  // 1. The env host: no session → the auth host's login, with the URL to come back to.
  const first = await get(s, `${env}/some/page?x=1&y=%2F`, { jar, headers: BROWSER })
  t.equal(first.status, 302)
  t.equal(first.location, `${auth}/__wakegate/auth/login?to=${encodeURIComponent(`${env}/some/page?x=1&y=%2F`)}`)
  t.equal(first.headers['cache-control'], 'no-store')
  t.same(first.cookies, [], 'the env host sets nothing yet')
  t.equal(s.starts(), 0, 'nothing woken')

  // 2. The auth host: no session of its own → GitHub, with a signed state and a state cookie.
  const login = await get(s, first.location!, { jar, headers: BROWSER })
  t.equal(login.status, 302)
  const authorize = new URL(login.location!)
  t.equal(authorize.origin, s.fake.url)
  t.equal(authorize.pathname, '/login/oauth/authorize')
  t.equal(authorize.searchParams.get('client_id'), CLIENT_ID)
  t.equal(authorize.searchParams.get('redirect_uri'), `${auth}/__wakegate/auth/callback`)
  const state = authorize.searchParams.get('state')!
  t.ok(state, 'a state')
  t.equal(login.cookies.length, 1)
  const stateCookie = login.cookies[0]
  t.equal(stateCookie.name, 'wakegate-state')
  t.notOk(stateCookie.attrs.has('domain'), 'state cookie: host-only')
  t.equal(stateCookie.attrs.get('httponly'), true)
  t.equal(String(stateCookie.attrs.get('samesite')).toLowerCase(), 'lax', 'Lax: sent on GitHub\'s top-level redirect back')
  t.equal(stateCookie.attrs.get('path'), '/')
  t.notOk(stateCookie.attrs.has('secure'))
  t.ok(Number(stateCookie.attrs.get('max-age')) > 0)
  t.notOk(state.includes(stateCookie.value), 'the nonce is not readable from the state')

  // 3. GitHub (fake) approves and sends the browser back to the auth host's callback.
  const gh = await get(s, login.location!, { direct: true })
  t.equal(gh.status, 302)
  const callbackUrl = new URL(gh.location!)
  t.equal(callbackUrl.origin, auth)
  t.equal(callbackUrl.pathname, '/__wakegate/auth/callback')
  t.equal(callbackUrl.searchParams.get('state'), state)
  t.ok(callbackUrl.searchParams.get('code'))
  t.equal(s.fake.authorizeCount, 1)

  // 4. The callback: state checked, code exchanged, /user read; the auth host's own cookie; on to the env host.
  const cb = await get(s, gh.location!, { jar, headers: BROWSER })
  t.equal(cb.status, 302)
  const exchange = new URL(cb.location!)
  t.equal(exchange.origin, env, 'back to the env host the sign-in started from')
  t.equal(exchange.pathname, '/__wakegate/auth/exchange')
  t.equal(cb.headers['referrer-policy'], 'no-referrer')
  t.equal(cb.headers['cache-control'], 'no-store')
  t.equal(s.fake.tokenExchanges, 1)
  t.equal(s.fake.count('GET', /^\/user$/), 1)
  const authCookies = cb.cookies.filter(c => c.name === 'wakegate')
  t.equal(authCookies.length, 1, 'one session cookie for the auth host')
  assertSessionCookie(t, authCookies[0])
  t.ok(cb.cookies.filter(c => c.name === 'wakegate-state').every(c => c.attrs.get('max-age') === '0'), 'the state cookie is cleared')
  t.equal(cb.cookies.filter(c => c.name === 'wakegate-state').length, 1, 'cleared once')
  t.equal(jar.get(AUTH, 'wakegate-state'), undefined)
  const token = exchange.searchParams.get('token')!
  const claims = decodeJwt(token)
  t.equal(claims.aud, 'example/1', 'audience: the env key')
  t.equal(claims.sub, 'hubot')
  t.equal(claims.to, '/some/page?x=1&y=%2F')
  t.ok(claims.exp! - claims.iat! >= 30 && claims.exp! - claims.iat! <= 31, `~30 s (${claims.exp! - claims.iat!})`)
  t.ok(claims.jti)
  t.equal(s.starts(), 0, 'still nothing woken')

  // 5. The env host trades the token for its own cookie and reloads the page asked for.
  const ex = await get(s, cb.location!, { jar, headers: BROWSER })
  t.equal(ex.status, 302)
  t.equal(ex.location, `${env}/some/page?x=1&y=%2F`)
  t.equal(ex.headers['referrer-policy'], 'no-referrer')
  t.equal(ex.cookies.length, 1)
  assertSessionCookie(t, ex.cookies[0])
  t.not(ex.cookies[0].value, authCookies[0].value, 'a cookie of its own, not the auth host\'s')
  t.equal(s.up.seen.length, 0, 'the exchange never reaches the app')

  // 6. Signed in: the env wakes (the waking page, as for any browser), then the page, from
  // the app, without wakegate's cookie.
  const waking = await get(s, ex.location!, { jar, headers: BROWSER })
  t.equal(waking.status, 503)
  t.ok(waking.headers['x-wakegate-state'], 'the waking page')
  t.same(waking.cookies, [])
  const page = await browse(s, jar, ex.location!)
  t.equal(page.status, 200)
  t.same(JSON.parse(page.body), { host: 'pr-1.localhost:' + s.port, path: '/some/page?x=1&y=%2F', cookie: null, authorization: null })
  t.equal(s.starts(), 1, 'woken once let in')
  t.equal(s.permissionCalls(), 1, 'GitHub asked once, with the server credentials')
  const perm = s.fake.calls.find(c => /\/collaborators\/hubot\/permission$/.test(c.path))!
  t.equal(perm.path, '/repos/acme/web/collaborators/hubot/permission')
  t.equal(perm.auth, `token ${s.fake.token}`)
  t.equal(s.pullCalls(), 0, 'a PR from the config: no PR lookup')

  // Cached verdict: more requests ask GitHub nothing more.
  for (let i = 0; i < 3; i++) t.equal((await get(s, `${env}/again`, { jar })).status, 200)
  t.equal(s.permissionCalls(), 1)

  // The auth host now has a session: another env host is handed over without GitHub.
  const other = await browse(s, jar, `${s.origin('pr-2.localhost')}/`)
  t.equal(other.status, 200)
  t.same(other.trail.map(u => new URL(u).host), [`pr-2.localhost:${s.port}`, `${AUTH}:${s.port}`, `pr-2.localhost:${s.port}`, `pr-2.localhost:${s.port}`])
  t.equal(s.fake.authorizeCount, 1, 'no second authorize')
  t.not(jar.get('pr-2.localhost', 'wakegate'), jar.get('pr-1.localhost', 'wakegate'))

  // Cookies are bound to their host: pr-1's on pr-2, or the auth host's on pr-1, count for nothing.
  const copied = await get(s, `${s.origin('pr-2.localhost')}/`, { cookie: `wakegate=${jar.get('pr-1.localhost', 'wakegate')}`, headers: BROWSER })
  t.equal(copied.status, 302)
  t.match(copied.location, `${auth}/__wakegate/auth/login?`)
  const authsOnEnv = await get(s, `${env}/`, { cookie: `wakegate=${jar.get(AUTH, 'wakegate')}` })
  t.equal(authsOnEnv.status, 401)

  // The auth host's status page knows who is signed in.
  const status = await get(s, `${auth}/`, { jar, headers: BROWSER })
  t.equal(status.status, 200)
  t.match(status.body, /signed in with GitHub as hubot/)
})

t.test('the app keeps its own cookies; wakegate\'s are taken off (HTTP and WebSocket)', async t => {
  const s = await setup(t)
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  t.equal((await browse(s, jar, `${env}/`)).status, 200)
  const session = jar.get('pr-1.localhost', 'wakegate')!
  const res = await get(s, `${env}/cookies`, { cookie: `theme=dark; wakegate=${session}; wakegate-state=x; lang=en` })
  t.equal(res.status, 200)
  t.equal(JSON.parse(res.body).cookie, 'theme=dark; wakegate-state=x; lang=en')
  const alone = await get(s, `${env}/alone`, { cookie: `wakegate=${session}` })
  t.equal(JSON.parse(alone.body).cookie, null, 'no empty Cookie header left behind')
  const seen = s.up.seen.map(r => r.headers.cookie ?? '')
  t.notOk(seen.some(c => c.includes(session)), 'the sealed value never reached the app')
})

t.test('state mismatch: another state cookie, or none, is refused with 400', async t => {
  const s = await setup(t)
  const env = s.origin('pr-1.localhost')
  const start = async (jar: Jar) => {
    const first = await get(s, `${env}/`, { jar, headers: BROWSER })
    const login = await get(s, first.location!, { jar, headers: BROWSER })
    const gh = await get(s, login.location!, { direct: true })
    return gh.location!
  }
  // The attacker's own callback URL (their code, their state) opened in the victim's browser.
  const attacker = new Jar()
  const attackersCallback = await start(attacker)
  const attackersNonce = attacker.get(AUTH, 'wakegate-state')!
  const victim = new Jar()
  await start(victim) // the victim has a state cookie of their own
  const crossed = await get(s, attackersCallback, { jar: victim, headers: BROWSER })
  t.equal(crossed.status, 400)
  t.equal(crossed.headers['x-wakegate-error'], 'WAKEGATE_BAD_SIGN_IN')
  t.notOk(crossed.cookies.some(c => c.name === 'wakegate'), 'no session cookie')

  const none = await get(s, attackersCallback, { headers: BROWSER })
  t.equal(none.status, 400)
  t.equal(none.headers['x-wakegate-error'], 'WAKEGATE_BAD_SIGN_IN')
  t.notOk(none.cookies.some(c => c.name === 'wakegate'))

  const forged = new URL(attackersCallback)
  forged.searchParams.set('state', 'not-a-state')
  const bad = await get(s, forged.href, { jar: attacker, headers: { accept: 'application/json' } })
  t.equal(bad.status, 400)
  t.equal(JSON.parse(bad.body).error, 'WAKEGATE_BAD_SIGN_IN')
  t.equal(s.fake.tokenExchanges, 0, 'no code was exchanged')

  // The attacker's own browser still completes (the cookie is theirs).
  const ok = await get(s, attackersCallback, { jar: new Jar(), cookie: `wakegate-state=${attackersNonce}`, headers: BROWSER })
  t.equal(ok.status, 302)
  t.match(ok.location, `${env}/__wakegate/auth/exchange?token=`)
})

t.test('the hand-over token: one use, its own env only', async t => {
  const s = await setup(t)
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  const first = await get(s, `${env}/x`, { jar, headers: BROWSER })
  const login = await get(s, first.location!, { jar, headers: BROWSER })
  const gh = await get(s, login.location!, { direct: true })
  const cb = await get(s, gh.location!, { jar, headers: BROWSER })
  const exchangeUrl = cb.location!
  const token = new URL(exchangeUrl).searchParams.get('token')!

  // On pr-2 (another audience): refused, and it does not spend the token.
  const elsewhere = await get(s, `${s.origin('pr-2.localhost')}/__wakegate/auth/exchange?token=${encodeURIComponent(token)}`, { headers: BROWSER })
  t.equal(elsewhere.status, 400)
  t.equal(elsewhere.headers['x-wakegate-error'], 'WAKEGATE_BAD_SIGN_IN')
  t.same(elsewhere.cookies, [], 'no cookie on pr-2')

  const used = await get(s, exchangeUrl, { headers: BROWSER })
  t.equal(used.status, 302)
  t.equal(used.cookies.length, 1)

  const replay = await get(s, exchangeUrl, { headers: { accept: 'application/json' } })
  t.equal(replay.status, 400)
  t.equal(JSON.parse(replay.body).error, 'WAKEGATE_BAD_SIGN_IN')
  t.match(JSON.parse(replay.body).detail, /already used/)
  t.same(replay.cookies, [], 'no cookie for a replayed token')

  const altered = await get(s, `${env}/__wakegate/auth/exchange?token=${encodeURIComponent(token.slice(0, -2) + (token.endsWith('AA') ? 'BB' : 'AA'))}`, { headers: BROWSER })
  t.equal(altered.status, 400)
  t.same(altered.cookies, [])
  const missing = await get(s, `${env}/__wakegate/auth/exchange`, { headers: BROWSER })
  t.equal(missing.status, 400)
  t.equal(s.starts(), 0, 'none of this woke anything')
  t.equal(s.up.seen.length, 0, 'nor reached the app')
})

t.test('an expired hand-over token is refused', async t => {
  const s = await setup(t, { access: { tokenTtl: '1s' } })
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  const first = await get(s, `${env}/`, { jar, headers: BROWSER })
  const login = await get(s, first.location!, { jar, headers: BROWSER })
  const gh = await get(s, login.location!, { direct: true })
  const cb = await get(s, gh.location!, { jar, headers: BROWSER })
  const claims = decodeJwt(new URL(cb.location!).searchParams.get('token')!)
  t.ok(claims.exp! * 1000 >= Date.now() + 500, 'valid for about tokenTtl from now, not less')
  await sleep(2_100)
  const late = await get(s, cb.location!, { headers: BROWSER })
  t.equal(late.status, 400)
  t.equal(late.headers['x-wakegate-error'], 'WAKEGATE_BAD_SIGN_IN')
  t.same(late.cookies, [])

  // A fresh one used at once works (the auth host still has its session).
  const again = await get(s, first.location!, { jar, headers: BROWSER })
  t.match(again.location, `${env}/__wakegate/auth/exchange?token=`)
  const ok = await get(s, again.location!, { jar, headers: BROWSER })
  t.equal(ok.status, 302)
  t.equal(ok.cookies.length, 1)
})

t.test('a tampered cookie is no session: sign-in for browsers, 401 for other clients', async t => {
  const s = await setup(t)
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  t.equal((await browse(s, jar, `${env}/`)).status, 200)
  const value = jar.get('pr-1.localhost', 'wakegate')!
  const flip = (v: string, i: number) => v.slice(0, i) + (v[i] === 'A' ? 'B' : 'A') + v.slice(i + 1)
  for (const tampered of [flip(value, 5), flip(value, value.length - 3), value.slice(0, -4), 'garbage', '']) {
    const browser = await get(s, `${env}/`, { cookie: `wakegate=${tampered}`, headers: BROWSER })
    t.equal(browser.status, 302, `browser, ${tampered.slice(0, 12)}…`)
    t.match(browser.location, `${s.origin(AUTH)}/__wakegate/auth/login?to=`)
    const api = await get(s, `${env}/api`, { cookie: `wakegate=${tampered}`, headers: { accept: 'application/json' } })
    t.equal(api.status, 401)
    t.equal(JSON.parse(api.body).error, 'WAKEGATE_SIGN_IN_REQUIRED')
  }
  t.equal(s.starts(), 1, 'only the signed-in visit woke pr-1')
})

t.test('signed in without a role on the repo: 403 WAKEGATE_NO_ACCESS, nothing woken', async t => {
  const s = await setup(t, { login: 'mallory' })
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  const end = await browse(s, jar, `${env}/`)
  t.equal(end.status, 403)
  t.equal(end.headers['x-wakegate-error'], 'WAKEGATE_NO_ACCESS')
  t.match(end.body, /mallory/)
  t.ok(jar.get('pr-1.localhost', 'wakegate'), 'signed in all the same')
  const api = await get(s, `${env}/api`, { jar, headers: { accept: 'application/json' } })
  t.equal(api.status, 403)
  t.equal(JSON.parse(api.body).error, 'WAKEGATE_NO_ACCESS')
  t.equal(s.starts(), 0)
  t.equal(s.up.seen.length, 0)
  t.equal(s.pullCalls(), 0)
  t.equal(s.permissionCalls(), 1, 'the refusal is cached too')

  // An unknown PR, signed in but refused: no PR lookup either.
  await browse(s, jar, `${s.origin('pr-77.localhost')}/`)
  const unknown = await get(s, `${s.origin('pr-77.localhost')}/`, { jar })
  t.equal(unknown.status, 403)
  t.equal(s.pullCalls(), 0, 'no PR lookup for a refused user')
  t.equal(s.starts(), 0)

  // Given a role, they get in once the cached refusal has expired.
  s.fake.setRole('acme/web', 'mallory', 'triage')
  await sleep(1_100)
  t.equal((await get(s, `${env}/`, { jar })).status, 200)
})

t.test('access revoked: still allowed until checkTtl, refused after', async t => {
  const s = await setup(t)
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  t.equal((await browse(s, jar, `${env}/`)).status, 200)
  s.fake.setRole('acme/web', 'hubot', 'none')
  t.equal((await get(s, `${env}/cached`, { jar })).status, 200, 'the cached verdict holds')
  t.equal(s.permissionCalls(), 1)
  await sleep(1_200)
  const after = await get(s, `${env}/after`, { jar, headers: { accept: 'application/json' } })
  t.equal(after.status, 403)
  t.equal(JSON.parse(after.body).error, 'WAKEGATE_NO_ACCESS')
  t.equal(s.permissionCalls(), 2)
  t.notOk(s.up.seen.some(r => r.path === '/after'))
})

t.test('sign-out clears the env host\'s cookie, then the auth host\'s', async t => {
  const s = await setup(t)
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  const auth = s.origin(AUTH)
  t.equal((await browse(s, jar, `${env}/`)).status, 200)
  t.ok(jar.get(AUTH, 'wakegate'))

  const out = await get(s, `${env}/__wakegate/auth/logout`, { jar, headers: BROWSER })
  t.equal(out.status, 302)
  t.equal(out.location, `${auth}/__wakegate/auth/logout`)
  t.equal(out.cookies.length, 1)
  t.equal(out.cookies[0].name, 'wakegate')
  t.equal(out.cookies[0].value, '')
  t.equal(out.cookies[0].attrs.get('max-age'), '0')
  t.equal(out.cookies[0].attrs.get('path'), '/')
  t.notOk(out.cookies[0].attrs.has('domain'))
  t.equal(jar.get('pr-1.localhost', 'wakegate'), undefined)

  const authOut = await get(s, out.location!, { jar, headers: BROWSER })
  t.equal(authOut.status, 200)
  t.equal(authOut.cookies.length, 1)
  t.equal(authOut.cookies[0].attrs.get('max-age'), '0')
  t.equal(jar.get(AUTH, 'wakegate'), undefined)
  t.equal(s.up.seen.filter(r => r.path.includes('logout')).length, 0, 'the app never sees the sign-out')

  // Signed out everywhere: the next visit goes through GitHub again.
  const first = await get(s, `${env}/`, { jar, headers: BROWSER })
  t.equal(first.status, 302)
  const login = await get(s, first.location!, { jar, headers: BROWSER })
  t.equal(new URL(login.location!).origin, s.fake.url, 'to GitHub, not handed over')
})

t.test('not signed in: no PR lookup, no wake, whatever the PR and the client', async t => {
  const s = await setup(t)
  const hosts = ['pr-1.localhost', 'pr-2.localhost', 'pr-77.localhost', 'pr-4242.localhost']
  for (const host of hosts) {
    const browser = await get(s, `${s.origin(host)}/`, { headers: BROWSER })
    t.equal(browser.status, 302, `${host}: browser sent to sign in`)
    const head = await get(s, `${s.origin(host)}/`, { headers: BROWSER, method: 'HEAD' })
    t.equal(head.status, 302)
    const api = await get(s, `${s.origin(host)}/api/thing`, { headers: { accept: 'application/json' } })
    t.equal(api.status, 401, `${host}: API client 401`)
    t.equal(api.headers['content-type'], 'application/json')
    t.same(JSON.parse(api.body), { error: 'WAKEGATE_SIGN_IN_REQUIRED', message: 'Sign in to open this review environment.' })
    t.equal(api.headers['www-authenticate'], undefined, 'no basic challenge for a GitHub-only policy')
    const curl = await get(s, `${s.origin(host)}/`, { headers: { 'user-agent': 'curl/8.5.0', accept: '*/*' } })
    t.equal(curl.status, 401)
    const post = await request(`${s.h.url}/form`, { method: 'POST', headers: { host: `${host}:${s.port}`, accept: 'text/html', 'content-type': 'text/plain' }, body: 'x', dispatcher: agent })
    await post.body.text()
    t.equal(post.statusCode, 401, `${host}: a POST is not redirected`)
  }
  t.equal(s.pullCalls(), 0, 'no call to GitHub\'s pulls API')
  t.same(s.fake.calls.map(c => c.path).filter(p => !p.startsWith('/login/')), [], 'no call to GitHub at all')
  t.equal(s.starts(), 0, 'nothing started')
  t.equal(s.backend.started.length, 0)
  t.equal(s.h.backends.get('example')!.calls.start, 0)
  t.notOk(s.h.wg.manager.envs.has('example/77'), 'the unknown PR is not registered')
  for (const key of ['example/1', 'example/2']) t.equal(s.h.wg.manager.envs.get(key)?.state, 'asleep', `${key} asleep`)
  t.equal(s.up.seen.length, 0)
})

t.test('link-preview bots get a neutral 200 page that names nothing', async t => {
  const s = await setup(t)
  for (const ua of ['Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)', 'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)', 'facebookexternalhit/1.1']) {
    const res = await get(s, `${s.origin('pr-1.localhost')}/`, { headers: { 'user-agent': ua, accept: 'text/html' } })
    t.equal(res.status, 200, ua)
    t.match(res.headers['content-type'], /^text\/html/)
    t.equal(res.headers['x-robots-tag'], 'noindex, nofollow')
    t.notMatch(res.body, /Secret launch/, 'not the PR title')
    t.notMatch(res.body, /feature\/one|aaaaaaa1|acme\/web|#1\b/, 'nor its branch, sha, repo or number')
    t.equal(res.location, undefined, 'no sign-in redirect')
  }
  const unknown = await get(s, `${s.origin('pr-77.localhost')}/`, { headers: { 'user-agent': 'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)' } })
  t.equal(unknown.status, 200, 'an unknown PR looks the same')
  t.equal(s.starts(), 0)
  t.equal(s.pullCalls(), 0)
})

t.test('WebSocket upgrades: 401 without a session, 101 with the env host\'s cookie', async t => {
  const s = await setup(t)
  const host = `pr-1.localhost:${s.port}`
  const open = (headers: Record<string, string>) => new Promise<{ ws?: WebSocket, status?: number, body?: string }>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/socket`, { headers: { host, ...headers } })
    ws.once('open', () => resolve({ ws }))
    ws.once('unexpected-response', (_req, res) => {
      let body = ''
      res.on('data', (d: Buffer) => { body += d })
      res.on('end', () => resolve({ status: res.statusCode, body }))
    })
    ws.once('error', reject)
  })
  const refused = await open({})
  t.equal(refused.status, 401)
  t.equal(JSON.parse(refused.body!).error, 'WAKEGATE_SIGN_IN_REQUIRED')
  const browserLike = await open({ ...BROWSER, 'sec-fetch-mode': 'websocket', 'sec-fetch-dest': 'websocket' })
  t.equal(browserLike.status, 401, 'a browser\'s WebSocket is not redirected either')
  t.equal(s.starts(), 0, 'nothing woken')

  const jar = new Jar()
  t.equal((await browse(s, jar, `http://${host}/`)).status, 200)
  const session = jar.get('pr-1.localhost', 'wakegate')!
  const tampered = await open({ cookie: `wakegate=${session.slice(0, -3)}xyz` })
  t.equal(tampered.status, 401)
  const ok = await open({ cookie: `app=1; wakegate=${session}` })
  t.ok(ok.ws, '101: the tunnel is open')
  const echoed = new Promise<string>(resolve => ok.ws!.once('message', m => resolve(String(m))))
  ok.ws!.send('hello through the gate')
  t.equal(await echoed, 'hello through the gate')
  t.equal(s.up.upgrades.length, 1)
  t.equal(s.up.upgrades[0].cookie, 'app=1', 'the app\'s cookie passes, wakegate\'s does not')
  ok.ws!.close()

  // The verdict past its cache time: asked again before the tunnel opens; refused once revoked.
  await sleep(1_100)
  const asked = await open({ cookie: `wakegate=${session}` })
  t.ok(asked.ws, '101 after GitHub was asked again')
  asked.ws!.close()
  t.equal(s.permissionCalls(), 2)
  s.fake.setRole('acme/web', 'hubot', 'none')
  await sleep(1_100)
  const revoked = await open({ cookie: `wakegate=${session}` })
  t.equal(revoked.status, 403)
  t.equal(JSON.parse(revoked.body!).error, 'WAKEGATE_NO_ACCESS')
  t.equal(s.up.upgrades.length, 2, 'the refused upgrade never reached the app')

  // pr-1's cookie on pr-2: no session there.
  const other = await new Promise<number>((resolve, reject) => {
    const ws = new WebSocket(`ws://127.0.0.1:${s.port}/socket`, { headers: { host: `pr-2.localhost:${s.port}`, cookie: `wakegate=${session}` } })
    ws.once('open', () => { ws.close(); resolve(101) })
    ws.once('unexpected-response', (_req, res) => { res.resume(); resolve(res.statusCode!) })
    ws.once('error', reject)
  })
  t.equal(other, 401)
})

t.test('public.scheme https: __Host- cookies, Secure, https redirects', async t => {
  const s = await setup(t, { scheme: 'https' })
  const jar = new Jar()
  const env = `https://pr-1.localhost:${s.port}`
  const first = await get(s, `${env}/`, { jar, headers: BROWSER })
  t.equal(first.status, 302)
  t.equal(first.location, `https://${AUTH}:${s.port}/__wakegate/auth/login?to=${encodeURIComponent(`${env}/`)}`)
  const login = await get(s, first.location!, { jar, headers: BROWSER })
  t.equal(login.cookies[0].name, '__Host-wakegate-state')
  t.equal(login.cookies[0].attrs.get('secure'), true)
  t.equal(new URL(login.location!).searchParams.get('redirect_uri'), `https://${AUTH}:${s.port}/__wakegate/auth/callback`)
  const gh = await get(s, login.location!, { direct: true })
  const cb = await get(s, gh.location!, { jar, headers: BROWSER })
  t.equal(cb.status, 302)
  assertSessionCookie(t, cb.cookies.find(c => c.name === '__Host-wakegate'), '__Host-wakegate', true)
  const ex = await get(s, cb.location!, { jar, headers: BROWSER })
  t.equal(ex.status, 302)
  assertSessionCookie(t, ex.cookies[0], '__Host-wakegate', true)
  const page = await get(s, `${env}/`, { jar })
  t.equal(page.status, 200)
  t.equal(JSON.parse(page.body).cookie, null)
  // An http:// target is not one of ours under https.
  const downgrade = await get(s, `https://${AUTH}:${s.port}/__wakegate/auth/login?to=${encodeURIComponent(`http://pr-1.localhost:${s.port}/`)}`, { jar, headers: BROWSER })
  t.equal(downgrade.status, 400)
})

t.test('the login refuses targets that are not env hosts served here', async t => {
  const s = await setup(t)
  const jar = new Jar()
  t.equal((await browse(s, jar, `${s.origin('pr-1.localhost')}/`)).status, 200)
  const auth = s.origin(AUTH)
  for (const to of ['https://evil.example/', `http://${AUTH}:${s.port}/`, `http://pr-1.localhost:${s.port + 1}/`, 'http://pr-1.localhost/', 'javascript:alert(1)', '/relative', `http://evil.example/?x=http://pr-1.localhost:${s.port}/`, '']) {
    const res = await get(s, `${auth}/__wakegate/auth/login?to=${encodeURIComponent(to)}`, { jar, headers: BROWSER })
    t.equal(res.status, 400, `to=${to}`)
    t.equal(res.location, undefined)
  }
  // Login, callback and status live on the auth host only.
  for (const path of ['/__wakegate/auth/login?to=x', '/__wakegate/auth/callback?code=x&state=y']) {
    const res = await get(s, `${s.origin('pr-1.localhost')}${path}`, { jar, headers: BROWSER })
    t.equal(res.status, 404, `${path} on an env host`)
    t.same(res.cookies, [])
  }
  t.equal(s.up.seen.filter(r => r.path.startsWith('/__wakegate')).length, 0)
})

t.test('GitHub sign-in cancelled, or GitHub unable to answer the access question', async t => {
  const s = await setup(t)
  const env = s.origin('pr-1.localhost')
  s.fake.oauthDenied = true
  const jar = new Jar()
  const cancelled = await browse(s, jar, `${env}/`)
  t.equal(cancelled.status, 502)
  t.equal(cancelled.headers['x-wakegate-error'], 'WAKEGATE_SIGN_IN_FAILED')
  t.match(cancelled.body, /denied/)
  t.equal(jar.get(AUTH, 'wakegate'), undefined, 'no session')
  t.equal(jar.get(AUTH, 'wakegate-state'), undefined, 'the state cookie is spent')
  t.equal(s.fake.tokenExchanges, 0)
  s.fake.oauthDenied = false

  // Signed in, but the permission question fails (5xx): 503, not cached, nothing woken.
  s.fake.fail('GET', /\/collaborators\/[^/]+\/permission$/, { status: 502, times: 1 })
  const end = await browse(s, jar, `${env}/`)
  t.equal(end.status, 503)
  t.equal(end.headers['x-wakegate-error'], 'WAKEGATE_ACCESS_CHECK_FAILED')
  t.equal(s.starts(), 0)
  t.equal(s.up.seen.length, 0)
  const again = await get(s, `${env}/`, { jar })
  t.equal(again.status, 200, 'asked again at once when GitHub answers')
  t.equal(s.permissionCalls(), 2)
})

t.test('the session cookie is found among several of the same name (a sibling PR\'s Domain cookie)', async t => {
  // Over http there is no __Host- prefix: pr-2's code can set `wakegate=…; Domain=<parent>`
  // (or with a longer Path, sent first); the browser then sends both to pr-1.
  const s = await setup(t)
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  t.equal((await browse(s, jar, `${env}/`)).status, 200)
  const mine = jar.get('pr-1.localhost', 'wakegate')!
  const res = await get(s, `${env}/`, { cookie: `wakegate=tossed-by-pr-2; wakegate=${mine}`, headers: BROWSER })
  t.equal(res.status, 200, 'still signed in, not sent round the sign-in again')
  const mineFirst = await get(s, `${env}/`, { cookie: `wakegate=${mine}; wakegate=tossed-by-pr-2`, headers: BROWSER })
  t.equal(mineFirst.status, 200)
})

t.test('the OAuth callback relay on the auth host (an app that signs its users in itself)', async t => {
  const s = await setup(t, { app: { oauthRelay: { providers: ['github.com'] } } })
  const jar = new Jar()
  const env = s.origin('pr-1.localhost')
  t.equal((await browse(s, jar, `${env}/`)).status, 200)
  const authorize = `https://github.com/login/oauth/authorize?client_id=app&state=apps-own&redirect_uri=${encodeURIComponent(`${env}/auth/cb?x=1`)}`
  const start = await get(s, `${env}/__wakegate/oauth/start?authorize=${encodeURIComponent(authorize)}`, { jar, headers: BROWSER })
  t.equal(start.status, 302)
  const at = new URL(start.location!)
  t.equal(at.origin, 'https://github.com')
  t.equal(at.searchParams.get('redirect_uri'), `${s.origin(AUTH)}/__wakegate/oauth/callback`)
  const state = at.searchParams.get('state')!
  t.not(state, 'apps-own')
  const back = await get(s, `${s.origin(AUTH)}/__wakegate/oauth/callback?code=c0de&state=${encodeURIComponent(state)}`, { headers: BROWSER })
  t.equal(back.status, 302)
  const cb = new URL(back.location!)
  t.equal(cb.origin, env)
  t.equal(cb.pathname, '/auth/cb')
  t.same(Object.fromEntries(cb.searchParams), { x: '1', code: 'c0de', state: 'apps-own' })

  // Not signed in: the start is behind the gate like any path.
  const anon = await get(s, `${env}/__wakegate/oauth/start?authorize=${encodeURIComponent(authorize)}`, { headers: { accept: 'application/json' } })
  t.equal(anon.status, 401)
})

t.test('a session longer than a day (sessionTtl: 7d) is not cut short by the sealer', async t => {
  const sealer = await Sealer.create([randomBytes(32)])
  t.teardown(() => sealer.close())
  const now = Date.now()
  const value = sealer.seal({ via: 'github', login: 'hubot', host: 'example/1', exp: now + 7 * 24 * 3600_000 })
  const realNow = Date.now
  // Opened 25 hours later (the plugin's own age limit is 24 h unless told otherwise).
  Date.now = () => realNow() + 25 * 3600_000
  try {
    t.equal(sealer.open(value, Date.now())?.login, 'hubot', 'still open after 25 h')
    Date.now = () => realNow() + 8 * 24 * 3600_000
    t.equal(sealer.open(value, Date.now()), undefined, 'closed after its exp')
  } finally {
    Date.now = realNow
  }
})

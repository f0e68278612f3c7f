// Sign in with GitHub in a real browser (headless Chromium): pr-1 sends it through the auth
// host and the fake GitHub and it ends on the app; pr-2 then opens without GitHub. The jar
// holds host-only HttpOnly cookies only, page script cannot read wakegate's, and one env
// host's cookie never goes to another.
import t from 'tap'
import { createServer, type IncomingHttpHeaders } from 'node:http'
import type { Socket } from 'node:net'
import { randomBytes } from 'node:crypto'
import { FakeGitHub } from './support/fake-github.js'
import { FastBackend } from './support/fast-backend.js'
import { launchBrowser } from './support/browser.js'
import { exampleApp, startGateway, testConfig } from './support/harness.js'

const AUTH = 'auth.localhost'

t.test('a browser signs in once through the auth host and opens two envs', async t => {
  const fake = await new FakeGitHub().start()
  t.teardown(() => fake.close())
  fake.oauthClients.set('Iv1.test', 'shh')
  fake.oauthUser = 'hubot'
  fake.setRole('acme/web', 'hubot', 'read')

  // The app: an HTML page naming its host and the Cookie header it received; it sets a
  // cookie of its own that page script may read.
  const seen: Array<{ host: string, path: string, headers: IncomingHttpHeaders }> = []
  const sockets = new Set<Socket>()
  const upstream = createServer((req, res) => {
    const host = String(req.headers.host)
    if (req.url !== '/healthz') seen.push({ host, path: req.url ?? '', headers: req.headers })
    const cookie = req.headers.cookie ?? ''
    res.writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'set-cookie': 'app-seen=1; Path=/' })
    res.end(`<!doctype html><title>app</title><h1 id="app">App on ${host}</h1><pre id="cookie">${cookie.replace(/[<&]/g, '')}</pre>`)
  })
  upstream.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  await new Promise<void>(resolve => upstream.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise<void>(resolve => { for (const s of sockets) s.destroy(); upstream.close(() => resolve()) }))
  const backend = new FastBackend((upstream.address() as { port: number }).port)

  const config = testConfig({
    public: { scheme: 'http' },
    github: { auth: { token: fake.token }, apiUrl: fake.url, webhookSecret: 'xxxxxxxxxxxx', prSweepInterval: 0 },
    access: { authHost: AUTH, sessionKey: randomBytes(32).toString('hex'), checkTtl: '1s', github: { clientId: 'Iv1.test', clientSecret: 'shh', clientType: 'github-app' } }
  }, [exampleApp({ host: 'pr-{pr}.localhost', repo: 'acme/web', github: { comment: false, deployments: false }, access: { github: { permission: 'read' } } })])
  const h = await startGateway(config, { backends: new Map([['example', backend]]) })
  t.teardown(() => h.close())
  const origin = (host: string) => `http://${host}:${h.port}`

  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const context = await browser.newContext()
  const page = await context.newPage()
  // What the browser itself sends (before wakegate takes its cookie off).
  const sent: Array<{ url: string, cookie: string | undefined }> = []
  page.on('request', r => { r.allHeaders().then(hd => sent.push({ url: r.url(), cookie: hd.cookie }), () => {}) })
  const navigations: string[] = []
  page.on('framenavigated', f => { if (f === page.mainFrame()) navigations.push(f.url()) })

  // pr-1: env host → auth host → GitHub → callback → exchange → the page (after the waking page).
  await page.goto(`${origin('pr-1.localhost')}/`)
  await page.waitForSelector('#app', { timeout: 20_000 })
  t.equal(await page.textContent('#app'), `App on pr-1.localhost:${h.port}`)
  t.equal(page.url(), `${origin('pr-1.localhost')}/`, 'back on the URL first asked for')
  t.equal(fake.authorizeCount, 1, 'GitHub was asked once')
  t.equal(fake.tokenExchanges, 1)
  t.ok(navigations.some(u => u.startsWith(`${origin('pr-1.localhost')}/`)))
  t.notOk(navigations.some(u => u.includes('/__wakegate/auth/exchange')), 'the exchange is a redirect, never a page the app could run on')
  t.ok(sent.some(r => r.url.startsWith(`${origin(AUTH)}/__wakegate/auth/login?to=`)), 'through the auth host')
  t.ok(sent.some(r => r.url.startsWith(`${fake.url}/login/oauth/authorize?`)), 'and GitHub')

  // Page script sees the app's cookie, not wakegate's.
  t.equal(await page.evaluate(() => document.cookie), 'app-seen=1')
  await page.reload()
  await page.waitForSelector('#app')
  t.equal(await page.textContent('#cookie'), 'app-seen=1', 'the app receives its own cookie only')

  // pr-2: handed over by the auth host's session, no second authorize.
  const sentBefore = sent.length
  await page.goto(`${origin('pr-2.localhost')}/`)
  await page.waitForSelector('#app', { timeout: 20_000 })
  t.equal(await page.textContent('#app'), `App on pr-2.localhost:${h.port}`)
  t.equal(page.url(), `${origin('pr-2.localhost')}/`)
  t.equal(fake.authorizeCount, 1, 'no second GitHub authorize')
  t.equal(fake.tokenExchanges, 1)
  await new Promise(resolve => setTimeout(resolve, 100)) // allHeaders() settles
  const firstToPr2 = sent.slice(sentBefore).find(r => r.url.startsWith(origin('pr-2.localhost')))!
  t.ok(firstToPr2, 'a request to pr-2 was seen')
  t.equal(firstToPr2.cookie, undefined, 'the browser sent pr-2 no cookie at all: pr-1\'s stay on pr-1')
  const laterToPr2 = sent.slice(sentBefore).filter(r => r.url.startsWith(origin('pr-2.localhost')) && r.cookie !== undefined)
  t.ok(laterToPr2.length > 0, 'later requests to pr-2 carry cookies')
  const pr1Session = (await context.cookies(`${origin('pr-1.localhost')}/`)).find(c => c.name === 'wakegate')!.value
  t.notOk(laterToPr2.some(r => r.cookie!.includes(pr1Session)), 'but never pr-1\'s session')
  t.ok(laterToPr2.every(r => (r.cookie!.match(/(^|; )wakegate=/g) ?? []).length <= 1), 'one wakegate cookie at most')

  // The jar: host-only cookies, each on its exact host, wakegate's all HttpOnly and Lax.
  const cookies = await context.cookies()
  const wakegate = cookies.filter(c => c.name === 'wakegate')
  t.same(wakegate.map(c => c.domain).sort(), [AUTH, 'pr-1.localhost', 'pr-2.localhost'], 'one session cookie per host, none on a parent')
  for (const c of cookies) {
    t.notOk(c.domain.startsWith('.'), `${c.name}@${c.domain}: host-only (no leading dot)`)
    t.not(c.domain, 'localhost', `${c.name}: not on the parent`)
    t.ok([AUTH, 'pr-1.localhost', 'pr-2.localhost'].includes(c.domain), `${c.name}@${c.domain}: an exact host`)
  }
  for (const c of wakegate) {
    t.equal(c.httpOnly, true, `${c.domain}: HttpOnly`)
    t.equal(c.sameSite, 'Lax', `${c.domain}: SameSite=Lax`)
    t.equal(c.secure, false, `${c.domain}: not Secure under http`)
    t.equal(c.path, '/')
    t.ok(c.expires > Date.now() / 1000, `${c.domain}: persistent for the session's life`)
  }
  t.notOk(cookies.some(c => c.name === 'wakegate-state'), 'the state cookie is gone')
  t.equal(new Set(wakegate.map(c => c.value)).size, 3, 'three different values')
  const forPr1 = await context.cookies(`${origin('pr-1.localhost')}/`)
  const forPr2 = await context.cookies(`${origin('pr-2.localhost')}/`)
  t.equal(forPr1.filter(c => c.name === 'wakegate').length, 1)
  t.equal(forPr2.filter(c => c.name === 'wakegate').length, 1)
  t.not(forPr1.find(c => c.name === 'wakegate')!.value, forPr2.find(c => c.name === 'wakegate')!.value)
  t.same((await context.cookies(`http://localhost:${h.port}/`)).map(c => c.name), [], 'nothing for the parent host')
  t.same((await context.cookies(`http://pr-3.localhost:${h.port}/`)).map(c => c.name), [], 'nothing for a sibling never visited')

  // The app never received wakegate's cookie, on either host.
  t.ok(seen.length >= 3)
  t.notOk(seen.some(r => r.headers.cookie?.includes('wakegate')), 'no request reached the app with a wakegate cookie')
  t.notOk(seen.some(r => r.path.startsWith('/__wakegate/auth/')), 'nor any sign-in path')
  t.same([...new Set(seen.map(r => r.host))].sort(), [`pr-1.localhost:${h.port}`, `pr-2.localhost:${h.port}`])
  t.same(backend.started, ['example/1', 'example/2'])

  // Another browser (a fresh context) shares nothing: it goes to GitHub itself.
  const other = await browser.newContext()
  t.teardown(() => other.close())
  const anon = await other.newPage()
  await anon.goto(`${origin('pr-1.localhost')}/`)
  await anon.waitForSelector('#app', { timeout: 20_000 })
  t.equal(fake.authorizeCount, 2, 'a new browser goes to GitHub')
  await context.close()
})

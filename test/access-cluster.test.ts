// Access control with --workers: every worker runs the gate; the sign-in hand-over that
// lands on a worker reaches the primary's sign-in routes, and its token is one-use across
// workers.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { request } from 'undici'
import { FakeGitHub } from './support/fake-github.js'
import { FixedBackend } from './support/raw-upstream.js'
import { echoUpstream } from './support/echo-upstream.js'
import { CountingBackend, exampleApp, testConfig } from './support/harness.js'
import { startCluster } from '../src/cluster/primary.js'

const BROWSER = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
const cookieOf = (setCookie: string | string[] | undefined, name: string) =>
  (Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []).map(c => c.split(';')[0]).find(c => c.startsWith(name + '='))

t.test('2 workers: GitHub sign-in completes, the hand-over is one-use, refusals start nothing', async t => {
  const fake = await new FakeGitHub().start()
  t.teardown(() => fake.close())
  fake.oauthClients.set('Iv1.cluster', 'shh')
  fake.oauthUser = 'hubot'
  fake.setRole('acme/web', 'hubot', 'read')
  const up = await echoUpstream()
  t.teardown(() => up.close())
  const config = testConfig({
    public: { scheme: 'http' },
    github: { auth: { token: fake.token }, apiUrl: fake.url, webhookSecret: 'xxxxxxxxxxxx', prSweepInterval: 0, retries: 0 },
    access: { authHost: 'auth.localhost', sessionKey: randomBytes(32).toString('hex'), github: { clientId: 'Iv1.cluster', clientSecret: 'shh' } }
  }, [exampleApp({ host: 'pr-{pr}.localhost', repo: 'acme/web', github: { comment: false, deployments: false }, access: { github: {} } })])
  const backend = new CountingBackend(new FixedBackend(up.port))
  const c = await startCluster(config, { workers: 2, backends: new Map([['example', backend]]) })
  t.teardown(() => c.close())
  const port = new URL(c.url).port
  // A fresh connection per request, so the requests spread over both workers.
  const get = async (url: string, headers: Record<string, string> = {}) => {
    const u = new URL(url)
    const res = await request(`http://127.0.0.1:${port}${u.pathname}${u.search}`, { headers: { host: u.host, connection: 'close', ...headers }, reset: true })
    return { status: res.statusCode, headers: res.headers, body: await res.body.text() }
  }

  const api = await get(`http://pr-1.localhost:${port}/`)
  t.equal(api.status, 401, 'an API client without a session is refused')
  const first = await get(`http://pr-1.localhost:${port}/`, BROWSER)
  t.equal(first.status, 302)
  t.equal(backend.calls.start, 0, 'refusals started nothing')
  t.equal(fake.calls.filter(x => /\/pulls/.test(x.path)).length, 0, 'and asked GitHub about no PR')

  const login = await get(String(first.headers.location), BROWSER)
  t.equal(login.status, 302)
  const state = cookieOf(login.headers['set-cookie'], 'wakegate-state')!
  const authorize = await request(String(login.headers.location))
  await authorize.body.text()
  const callback = await get(String(authorize.headers.location), { ...BROWSER, cookie: state })
  t.equal(callback.status, 302)
  const exchange = String(callback.headers.location)
  t.match(exchange, new RegExp(`^http://pr-1\\.localhost:${port}/__wakegate/auth/exchange\\?token=`))
  const traded = await get(exchange, BROWSER)
  t.equal(traded.status, 302, 'the worker passed the hand-over to the primary, which set the cookie')
  t.equal(traded.headers.location, '/')
  const session = cookieOf(traded.headers['set-cookie'], 'wakegate')!
  t.ok(session)
  for (let i = 0; i < 4; i++) t.equal((await get(exchange, BROWSER)).status, 400, 'the token is spent, whichever worker gets it again')

  let served = 0
  for (let i = 0; i < 10; i++) {
    const r = await get(`http://pr-1.localhost:${port}/x`, { cookie: `${session}; app=1` })
    if (r.status === 200) {
      served++
      t.equal(JSON.parse(r.body).headers.cookie, 'app=1', "the app gets its own cookies only")
    }
  }
  t.ok(served >= 9, `every worker opens the cookie (${served}/10 served; the first may wait for the wake)`)
  t.equal(backend.calls.start, 1)
})

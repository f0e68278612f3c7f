// The admin listener with GitHub sign-in (admin.github) beside its bearer token, and the loud
// warning for apps anyone can open.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { Writable } from 'node:stream'
import { request } from 'undici'
import { pino } from 'pino'
import { FakeGitHub } from './support/fake-github.js'
import { freePort } from './support/redis.js'
import { exampleApp, startGateway, testConfig } from './support/harness.js'
import { createWakegate } from '../src/server.js'

const BROWSER = { accept: 'text/html', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
const cookieOf = (setCookie: string | string[] | undefined, name: string) => {
  const all = Array.isArray(setCookie) ? setCookie : setCookie ? [setCookie] : []
  return all.map(c => c.split(';')[0]).find(c => c.startsWith(name + '='))
}

t.test('admin.github: sign-in through the auth host for listed users and teams; the token still works', async t => {
  const fake = await new FakeGitHub().start()
  t.teardown(() => fake.close())
  fake.oauthClients.set('Iv1.admin', 'shh')
  fake.teams.set('acme/ops', new Set(['octocat']))
  const adminPort = await freePort()
  const publicPort = await freePort()
  const config = testConfig({
    listen: { host: '127.0.0.1', port: publicPort },
    public: { scheme: 'http', port: publicPort },
    admin: { host: '127.0.0.1', port: adminPort, token: 'admin-token-123', github: { teams: ['acme/ops'], users: ['hubot'] }, publicUrl: `http://127.0.0.1:${adminPort}` },
    github: { auth: { token: fake.token }, apiUrl: fake.url, webhookSecret: 'xxxxxxxxxxxx', prSweepInterval: 0, retries: 0 },
    access: { authHost: 'auth.localhost', sessionKey: randomBytes(32).toString('hex'), github: { clientId: 'Iv1.admin', clientSecret: 'shh' } }
  }, [exampleApp({ repo: 'acme/web', access: { public: true }, github: { comment: false, deployments: false } })])
  const h = await startGateway(config)
  t.teardown(() => h.close())
  const admin = `http://127.0.0.1:${adminPort}`

  t.equal((await request(`${admin}/api/envs`, { headers: { authorization: 'Bearer admin-token-123' } })).statusCode, 200, 'the bearer token still works')
  const anon = await request(`${admin}/api/envs`)
  t.equal(anon.statusCode, 401)
  await anon.body.text()

  const signIn = async (login: string) => {
    fake.oauthUser = login
    const first = await request(`${admin}/`, { headers: BROWSER })
    t.equal(first.statusCode, 302, 'a browser is sent to the auth host')
    const login1 = new URL(String(first.headers.location))
    t.equal(login1.host, `auth.localhost:${publicPort}`)
    await first.body.text()
    const viaAuth = await request(`http://127.0.0.1:${publicPort}${login1.pathname}${login1.search}`, { headers: { ...BROWSER, host: login1.host } })
    t.equal(viaAuth.statusCode, 302)
    const stateCookie = cookieOf(viaAuth.headers['set-cookie'], 'wakegate-state')!
    const authorize = await request(String(viaAuth.headers.location))
    await viaAuth.body.text()
    const callback = new URL(String(authorize.headers.location))
    await authorize.body.text()
    const cb = await request(`http://127.0.0.1:${publicPort}${callback.pathname}${callback.search}`, { headers: { ...BROWSER, host: callback.host, cookie: stateCookie } })
    t.equal(cb.statusCode, 302)
    const exchange = new URL(String(cb.headers.location))
    await cb.body.text()
    t.equal(exchange.origin, admin, 'handed back to the admin listener')
    const ex = await request(exchange.href, { headers: BROWSER })
    t.equal(ex.statusCode, 302)
    await ex.body.text()
    return cookieOf(ex.headers['set-cookie'], 'wakegate-admin')!
  }

  const hubot = await signIn('hubot')
  t.ok(hubot, 'the admin listener sets a cookie of its own')
  const asHubot = await request(`${admin}/api/envs`, { headers: { cookie: hubot } })
  t.equal(asHubot.statusCode, 200, 'a listed user gets in')
  await asHubot.body.text()

  const octocat = await signIn('octocat')
  const asOctocat = await request(`${admin}/api/envs`, { headers: { cookie: octocat } })
  t.equal(asOctocat.statusCode, 200, 'a member of a listed team gets in')
  await asOctocat.body.text()

  const mallory = await signIn('mallory')
  const asMallory = await request(`${admin}/api/envs`, { headers: { cookie: mallory } })
  t.equal(asMallory.statusCode, 403)
  t.equal(JSON.parse(await asMallory.body.text()).error, 'WAKEGATE_NO_ACCESS')
})

t.test('a non-loopback listener with an app nobody restricted logs a loud warning; public: true does not', async t => {
  const lines: string[] = []
  const log = pino({ level: 'warn' }, new Writable({ write (c, _e, cb) { lines.push(String(c)); cb() } }))
  const open = testConfig({ listen: { host: '0.0.0.0', port: 0 } }, [exampleApp(), exampleApp({ name: 'docs', host: 'docs-{pr}.review.test', access: { public: true } }), exampleApp({ name: 'api', host: 'api-{pr}.review.test', access: { ip: ['10.0.0.0/8'] } })])
  const wg = await createWakegate(open, { log })
  t.teardown(() => wg.close())
  const warning = lines.map(l => JSON.parse(l)).find(l => /NO ACCESS POLICY/.test(l.msg))
  t.ok(warning, 'warned')
  t.same(warning.apps, ['example'], 'only the app without a policy, not the one public on purpose')
  const res = await wg.adminApp!.inject({ method: 'GET', url: '/api/envs' })
  const access = Object.fromEntries(JSON.parse(res.body).envs.map((e: { app: string, access: string }) => [e.app, e.access]))
  t.same(access, { example: 'public', docs: 'public', api: 'restricted' }, 'the dashboard shows which apps are public')
})

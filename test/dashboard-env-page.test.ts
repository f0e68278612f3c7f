import t from 'tap'
import { request } from 'undici'
import { launchBrowser } from './support/browser.js'
import { startGateway, testConfig, waitFor } from './support/harness.js'

const TOKEN = 'env-page-token-1'

t.test('the env page shows each recent wake as a bar split by phase, follows new ones live, and keeps the env awake', async t => {
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }))
  t.teardown(() => h.close())
  const admin = h.wg.adminUrl!
  const env = h.wg.manager.envs.get('example/1')!
  t.equal((await h.get('pr-1.review.test', '/info')).status, 200, 'one wake before the page opens')

  const bare = await request(`${admin}/envs/example/1`)
  t.equal(bare.statusCode, 200, 'the page itself holds no data: no token needed')
  t.match(await bare.body.text(), /Recent wakes/)
  const api = await request(`${admin}/api/envs/example/1`)
  t.equal(api.statusCode, 401, 'its data needs the token')
  await api.body.dump()

  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${admin}/`)
  await page.waitForSelector('#auth', { state: 'visible' })
  await page.fill('#token', TOKEN)
  await page.click('#auth button')
  await page.click('tr[data-key="example/1"] a.env-page')
  await page.waitForSelector('.wake')
  t.match(page.url(), /\/envs\/example\/1$/, 'linked from the dashboard row')
  t.match(await page.textContent('#summary'), /running/)
  t.same(await page.$$eval('.wake .seg', els => els.map(e => (e as HTMLElement).dataset.phase)), ['queue', 'start', 'detect', 'health'], 'one bar, split by phase')
  const legend = await page.textContent('.wake .legend')
  t.match(legend, /start \d+(\.\d)? m?s/, 'with each phase\'s duration')
  t.match(legend, /health check \d/)
  t.match(await page.textContent('.wake .total'), /\d+(\.\d)? m?s/, 'and the total')

  // A second wake appears without a reload: the page follows the event stream.
  h.wg.manager.sleep(env, 'test')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  await h.wg.manager.wake(env, 'test')
  await page.waitForFunction(() => document.querySelectorAll('.wake').length === 2, undefined, { timeout: 10_000 })
  t.same(await page.$$eval('.wake', els => els.map(e => (e as HTMLElement).dataset.ok)), ['true', 'true'])

  // The idle section (when the view has one) keeps it awake for a while, and cancels that.
  await page.waitForSelector('#idle:not([hidden]) #keep')
  await page.fill('#keep-for', '2h')
  await page.click('#keep button')
  await page.waitForSelector('#kept')
  t.ok(env.keepAwakeUntil > Date.now() + 3_600_000, 'kept awake for about 2 h')
  await page.click('#keep-cancel')
  await page.waitForSelector('#kept', { state: 'detached' })
  t.ok(env.keepAwakeUntil <= Date.now(), 'cancelled')
  await page.fill('#keep-for', 'soon')
  await page.click('#keep button')
  await page.waitForSelector('#msg:not([hidden])')
  t.match(await page.textContent('#msg'), /"for" must be a duration/, 'a bad duration is explained')

  t.equal(await page.isVisible('#cost'), true, 'the cost section is shown when the view has one')
  t.match(await page.textContent('#cost'), /Running time/)
})

t.test('the env page of an unknown env says so', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${h.wg.adminUrl}/envs/example/99`)
  await page.waitForSelector('#msg:not([hidden])')
  t.match(await page.textContent('#msg'), /No env example\/99/)
  const odd = await request(`${h.wg.adminUrl}/envs/example/abc`)
  t.equal(odd.statusCode, 404)
  await odd.body.dump()
})

import t from 'tap'
import { launchBrowser } from './support/browser.js'
import { startGateway, testConfig } from './support/harness.js'

const TOKEN = 'dashboard-token-1'

t.test('the dashboard lists envs, asks for the token, and follows a wake live', async t => {
  const h = await startGateway(testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }))
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${h.wg.adminUrl}/`)
  await page.waitForSelector('#auth', { state: 'visible' })
  await page.fill('#token', TOKEN)
  await page.click('#auth button')
  await page.waitForSelector('tr[data-key="example/1"]')
  t.match(await page.textContent('tr[data-key="example/1"] .state'), 'asleep')
  t.match(await page.textContent('tr[data-key="example/2"]'), /feature\/two/)

  await page.click('tr[data-key="example/1"] button[data-action="wake"]')
  await page.waitForFunction(() => document.querySelector('tr[data-key="example/1"] .state')?.textContent === 'running', undefined, { timeout: 20_000 })
  t.match(await page.textContent('#log'), /example\/1 waking → running/, 'transitions appear in the live log')
  t.match(await page.textContent('tr[data-key="example/1"]'), /current g1/)
  t.equal(h.backends.get('example')!.calls.start, 1)
})

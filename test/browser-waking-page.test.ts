import t from 'tap'
import { launchBrowser } from './support/browser.js'
import { startGateway, testConfig, exampleApp } from './support/harness.js'

// *.localhost resolves to loopback inside Chromium, so real host names reach the gateway.
const app = exampleApp({ host: 'pr-{pr}.localhost', env: { READY_AFTER_MS: '1500' } })

t.test('a browser opening a cold URL sees the waking page and ends on the app without a manual reload', async t => {
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()

  const statuses: number[] = []
  page.on('response', r => { if (r.request().isNavigationRequest()) statuses.push(r.status()) })
  await page.goto(`http://pr-1.localhost:${h.port}/`)
  t.match(await page.title(), /Waking PR #1/, 'the waking page is shown first')
  t.match(await page.textContent('body'), /feature\/one/, 'it names the branch')

  await page.waitForSelector('#title', { timeout: 20_000 })
  t.equal(await page.textContent('#title'), 'Review app for PR #1', 'ends on the app page')
  t.equal(await page.textContent('#sha'), 'aaaaaaa1')
  await page.waitForFunction(() => document.getElementById('ws')?.textContent?.startsWith('echo'), undefined, { timeout: 10_000 })
  t.equal(await page.textContent('#ws'), 'echo: hello', 'the app page WebSocket works through the gateway')
  t.same(statuses, [503, 200], 'waking page was a 503, then the app answered 200')
  t.equal(h.backends.get('example')!.calls.start, 1)
})

t.test('a failed start shows its reason on the waking page', async t => {
  const failing = exampleApp({ host: 'pr-{pr}.localhost', backend: { kind: 'local', command: 'echo "boom: missing DATABASE_URL" >&2; exit 7' }, failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [failing]))
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`http://pr-1.localhost:${h.port}/`)
  await page.waitForSelector('#reason:not([hidden])', { timeout: 15_000 })
  const reason = await page.textContent('#reason')
  t.match(reason, /exited with code 7/)
  t.match(reason, /boom: missing DATABASE_URL/, 'last log lines are shown')
})

// The cold-start header (x-wakegate-cold-start + Server-Timing) goes to the response a
// reviewer looks at: the document of the page load that woke the env, not a favicon held
// beside it that happened to finish first. Without a page load it stays on the requests that waited.
import t from 'tap'
import { startGateway, testConfig, exampleApp, waitFor } from './support/harness.js'
import { launchBrowser } from './support/browser.js'

const document = { accept: 'text/html,application/xhtml+xml', 'sec-fetch-mode': 'navigate', 'sec-fetch-dest': 'document' }
const favicon = { accept: 'image/avif,image/webp,*/*', 'sec-fetch-mode': 'no-cors', 'sec-fetch-dest': 'image' }

t.test('a favicon held during a page load\'s wake is answered first without the header; the document carries it', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ env: { READY_AFTER_MS: '400' } })]))
  t.teardown(() => h.close())
  const env = h.wg.manager.envs.get('example/1')!

  const waking = await h.get('pr-1.review.test', '/', document)
  t.equal(waking.status, 503, 'the page load gets the waking page and starts the wake')
  const icon = await h.get('pr-1.review.test', '/favicon.ico', favicon) // held until ready, then answered
  t.equal(env.state, 'running')
  t.equal(icon.headers['x-wakegate-cold-start'], undefined, 'the favicon, answered first, does not carry it')
  t.equal(icon.headers['server-timing'], undefined)

  const page = await h.get('pr-1.review.test', '/', document) // the waking page's reload
  t.equal(page.status, 200)
  t.ok(Number(page.headers['x-wakegate-cold-start']) > 0, 'the document does')
  t.match(page.headers['server-timing'], /^wake;dur=\d+;desc="cold start"$/)
  const next = await h.get('pr-1.review.test', '/', document)
  t.equal(next.headers['x-wakegate-cold-start'], undefined, 'once per wake')
})

t.test('without a page load in the wake, the requests that waited carry it', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ env: { READY_AFTER_MS: '300' } })]))
  t.teardown(() => h.close())
  const [a, b] = await Promise.all([h.get('pr-1.review.test', '/favicon.ico', favicon), h.get('pr-1.review.test', '/info')])
  t.ok(a.headers['x-wakegate-cold-start'], 'held favicon')
  t.ok(b.headers['x-wakegate-cold-start'], 'held API call')
  t.equal((await h.get('pr-1.review.test', '/info')).headers['x-wakegate-cold-start'], undefined, 'not the next one')
})

t.test('in Chromium, the app document the waking page reloads into carries the cold-start header', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ host: 'pr-{pr}.localhost', env: { READY_AFTER_MS: '800' } })]))
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const documents: Array<{ status: number, cold: string | undefined }> = []
  page.on('response', r => {
    if (r.request().isNavigationRequest()) documents.push({ status: r.status(), cold: r.headers()['x-wakegate-cold-start'] })
  })
  // The page asks for an image while it waits, as apps' favicons and bundles do.
  await page.goto(`http://pr-1.localhost:${h.port}/`)
  await page.evaluate(() => { const img = new Image(); img.src = '/favicon.ico' })
  await page.waitForSelector('#title', { timeout: 20_000 })
  await waitFor(() => documents.length === 2, 5000, 'both documents')
  t.equal(documents[0].status, 503, 'the waking page')
  t.equal(documents[1].status, 200, 'then the app')
  t.ok(Number(documents[1].cold) > 0, 'the app document says it was a cold start')
})

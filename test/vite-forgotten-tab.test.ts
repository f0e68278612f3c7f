// A forgotten tab is not a reviewer, with a real Vite dev server in Chromium: the open page's
// HMR socket carries only Vite's keep-alive pings, so the env goes to sleep despite the tab
// (streamQuietTimeout, then idleTimeout), and the tab's reconnect pings do not wake it again.
// The same socket carrying real messages (an editing session) keeps the env awake.
import t from 'tap'
import { launchBrowser } from './support/browser.js'
import { startGateway, testConfig, waitFor, sleep } from './support/harness.js'
import { viteApp, watchFrames, metric } from './support/vite.js'

const TOKEN = 'vite-test-token'
const IDLE = 1000
const QUIET = 1500

t.test('an open Vite tab with only HMR pings lets its env sleep and does not wake it; real HMR messages keep it up', async t => {
  const config = testConfig({ admin: { host: '127.0.0.1', port: 0, token: TOKEN } }, [viteApp({ idleTimeout: `${IDLE}ms`, streamQuietTimeout: `${QUIET}ms` })])
  const h = await startGateway(config, { reapInterval: 50 })
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const frames = watchFrames(page)
  const env = h.wg.manager.envs.get('example/1')!
  const starts = () => h.backends.get('example')!.calls.start
  const refused = () => metric(h.wg.adminUrl!, TOKEN, 'wakegate_reconnects_refused_total{app="example"}')

  await page.goto(`http://pr-1.localhost:${h.port}/`)
  await page.waitForFunction(() => document.getElementById('hmr')?.textContent === 'loaded', undefined, { timeout: 30_000 })
  t.equal(await page.textContent('#title'), 'Vite review app', 'the dev server\'s page, after the waking page')
  await waitFor(() => env.streams === 1, 10_000, 'the HMR socket open through the gateway')

  // The tab stays open; its HMR client pings every 300 ms and nothing else happens.
  await waitFor(() => env.state === 'stopping' || env.state === 'asleep', 20_000, 'the env to sleep despite the open tab')
  t.ok(frames.pings() >= 3, `the HMR socket was pinging (${frames.pings()} pings)`)
  t.equal(frames.others(), 0, 'and sent nothing else')
  t.equal(env.sleptBy, 'policy')
  await page.waitForFunction(() => document.getElementById('hmr')?.textContent === 'disconnected', undefined, { timeout: 10_000 })
  t.pass('the page saw its HMR socket go')

  // Vite now polls with a `vite-ping` WebSocket every second and would reload the page on success.
  await waitFor(async () => await refused() >= 3, 15_000, 'the tab\'s reconnect pings to be refused')
  t.equal(env.state, 'asleep', 'still asleep after the reconnects')
  t.equal(starts(), 1, 'no start since the first')
  t.equal(page.url(), `http://pr-1.localhost:${h.port}/`)

  // A reload is a page load: it wakes the env again.
  await page.reload()
  await page.waitForFunction(() => document.getElementById('hmr')?.textContent === 'loaded', undefined, { timeout: 30_000 })
  t.equal(starts(), 2, 'the reload woke it')
  t.equal(env.sleptBy, '', 'and cleared who put it to sleep')
  await waitFor(() => env.streams === 1, 10_000, 'the HMR socket open again')

  // Real traffic on the same socket: a custom HMR event every 200 ms for 3× (QUIET + IDLE).
  await page.evaluate(() => { (window as unknown as { editing: unknown }).editing = setInterval(() => (window as unknown as { sendEdit: () => number }).sendEdit(), 200) })
  const until = Date.now() + 3 * (QUIET + IDLE)
  let stayed = true
  while (Date.now() < until) {
    if (env.state !== 'running') stayed = false
    await sleep(50)
  }
  t.ok(stayed, 'running all along while the page sent real messages on its HMR socket')
  t.ok(frames.others() >= 20, `real messages went out (${frames.others()})`)
  await page.evaluate(() => clearInterval((window as unknown as { editing: number }).editing))
  await waitFor(() => env.state === 'stopping' || env.state === 'asleep', 20_000, 'sleep once the messages stop')
  t.equal(starts(), 2)
})

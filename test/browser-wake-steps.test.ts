import t from 'tap'
import type { Page } from 'playwright-core'
import { launchBrowser } from './support/browser.js'
import { startGateway, testConfig, exampleApp, waitFor } from './support/harness.js'
import { FakeAws, useFakeAwsEnvironment } from './support/fake-aws/index.js'
import { ecsApp } from './support/fake-aws/app.js'

useFakeAwsEnvironment()

/**
 * Every step the waking page marks as current, in order, across its reload into the app:
 * a MutationObserver on the step list reports to the test.
 */
async function recordSteps (page: Page): Promise<string[]> {
  const seen: string[] = []
  await page.exposeFunction('reportStep', (step: string) => { if (seen[seen.length - 1] !== step) seen.push(step) })
  // A string, not a function: the test's compiled functions may call helpers the page lacks.
  await page.addInitScript(`document.addEventListener('DOMContentLoaded', function () {
    var list = document.getElementById('steps')
    if (!list) return
    function report () { var now = list.querySelector('li.now'); if (now && now.dataset.step) window.reportStep(now.dataset.step) }
    new MutationObserver(report).observe(list, { subtree: true, attributes: true })
    report()
  })`)
  return seen
}

const steps = (page: Page) => page.$$eval('#steps li', lis => lis.map(li => [(li as HTMLElement).dataset.step, li.firstChild?.textContent]))

t.test('on ECS the waking page shows placement, image pull, container start and health check, and follows them live', async t => {
  const fake = await FakeAws.start({ delays: { pending: 4000 } })
  t.teardown(() => fake.close())
  const h = await startGateway(testConfig({}, [ecsApp(fake, { host: 'pr-{pr}.localhost' })]))
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const seen = await recordSteps(page)

  await page.goto(`http://pr-1.localhost:${h.port}/`)
  t.match(await page.title(), /Waking PR #1/)
  t.same(await steps(page), [
    ['placement', 'Placing the task'], ['pull', 'Pulling image'], ['start', 'Starting container'], ['health', 'Health check'], ['ready', 'Ready']
  ], 'the ECS steps')
  t.equal(await page.$$eval('#steps .typ', els => els.length), 0, 'no typical durations before the app\'s first wake')

  await page.waitForSelector('#title', { timeout: 30_000 })
  t.equal(await page.textContent('#title'), 'Review app for PR #1', 'ends on the app')
  // The pull and the container start take 2 s each here: the page is up for at least the start.
  const order = ['placement', 'pull', 'start', 'health', 'ready']
  t.ok(seen.includes('start') && seen.includes('health'), `the page followed the wake live (${seen.join(' → ')})`)
  t.same(seen, order.filter(s => seen.includes(s)), 'in order, ending ready')
  t.equal(seen[seen.length - 1], 'ready')
  t.equal(fake.count('RunTask'), 1)
})

t.test('on the local backend there is no image pull, and the second wake shows each step\'s typical time', async t => {
  const h = await startGateway(testConfig({}, [exampleApp({ host: 'pr-{pr}.localhost', env: { READY_AFTER_MS: '1500' } })]))
  t.teardown(() => h.close())
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  const seen = await recordSteps(page)

  await page.goto(`http://pr-1.localhost:${h.port}/`)
  t.same(await steps(page), [['start', 'Starting process'], ['health', 'Health check'], ['ready', 'Ready']], 'start and health only')
  t.notMatch(await page.textContent('body'), /Pulling image/)
  await page.waitForSelector('#title', { timeout: 20_000 })
  t.same(seen.slice(-2), ['health', 'ready'], `the health check came last, then ready (${seen.join(' → ')})`)
  t.notOk(seen.includes('pull'))

  const env = h.wg.manager.envs.get('example/1')!
  h.wg.manager.sleep(env, 'test')
  await waitFor(() => env.state === 'asleep', 10_000, 'asleep')
  await page.goto(`http://pr-1.localhost:${h.port}/`)
  t.match(await page.title(), /Waking PR #1/)
  const typ = await page.$$eval('#steps li', lis => Object.fromEntries(lis.map(li => [(li as HTMLElement).dataset.step, li.querySelector('.typ')?.textContent ?? null])))
  t.match(typ.start, /^usually \d/, 'the start step has its typical time')
  t.match(typ.health, /^usually \d/, 'the health check too')
  t.equal(typ.ready, null)
  await page.waitForSelector('#title', { timeout: 20_000 })
  t.equal(h.backends.get('example')!.calls.start, 2)
})

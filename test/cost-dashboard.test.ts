import t from 'tap'
import { launchBrowser } from './support/browser.js'
import { exampleApp, startGateway, testConfig, waitFor } from './support/harness.js'

t.test('the dashboard shows a Cost column and the cost per app and per author above the table', async t => {
  // One vCPU-second = $1, so a few seconds of running show as dollars.
  const h = await startGateway(testConfig({ cost: { prices: { ec2OnDemand: { vcpuHour: 3600, gbHour: 0 } } } }, [
    exampleApp({ cost: { size: { vcpu: 1, memoryGb: 1 } } }),
    exampleApp({ name: 'docs', host: 'pr-{pr}.docs.test', prs: [{ number: 1 }] })
  ]))
  t.teardown(() => h.close())
  const m = h.wg.manager
  m.register('example', 5, { author: 'alice', sha: 'a5a5a5a5', source: 'github' })
  t.equal((await h.get('pr-1.review.test', '/info')).status, 200)
  m.sleep(m.envs.get('example/1')!, 'test')
  await waitFor(() => m.envs.get('example/1')!.state === 'asleep', 10_000, 'asleep')
  t.equal((await h.get('pr-5.review.test', '/info')).status, 200, "alice's env runs")

  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage()
  await page.goto(`${h.wg.adminUrl}/`)
  await page.waitForSelector('tr[data-key="example/1"]')
  t.ok((await page.$$eval('thead th', ths => ths.map(th => th.textContent))).includes('Cost'), 'a Cost column')

  const [cost, detail] = await page.$eval('tr[data-key="example/1"] td.cost', td => [td.firstChild?.textContent, td.querySelector('div')?.textContent])
  t.match(cost, /^\$\d+\.\d\d$/, `an asleep env: what it cost (${cost})`)
  t.match(detail, /^\d+ s · always on \$\d+\.\d\d$/, `what it ran and what always-on would have cost (${detail})`)
  t.match(await page.textContent('tr[data-key="docs/1"] td.cost'), /^0 s$/, 'no size: the task time without an amount')

  await page.waitForSelector('#costs .app-cost')
  const apps = await page.$$eval('#costs .app-cost', els => els.map(e => e.textContent ?? ''))
  t.match(apps.find(a => a.startsWith('example')), /^example: 3 envs, ran .+, \$\d+\.\d\d \(always on: \$\d+\.\d\d\)$/, 'per app')
  t.match(apps.find(a => a.startsWith('docs')), /cost not known/, 'an app without a size says so')
  const authors = await page.textContent('#costs .author-cost')
  t.match(authors, /^By author: /)
  t.match(authors, /alice \$\d+\.\d\d/, 'per author')
  t.match(authors, /\(no author\) \$\d+\.\d\d/, 'config PRs have no author')

  // A running env's cost moves on between events (the page adds the time since at its rate).
  const running = 'tr[data-key="example/5"] td.cost'
  const before = await page.textContent(running)
  await page.waitForFunction(([sel, text]) => document.querySelector(sel)?.textContent !== text, [running, before] as const, { timeout: 20_000 })
  const amount = (s: string | null) => Number(/^\$([\d,.]+)/.exec(s ?? '')?.[1].replace(/,/g, ''))
  t.ok(amount(await page.textContent(running)) > amount(before), 'the running env costs more a moment later')
})

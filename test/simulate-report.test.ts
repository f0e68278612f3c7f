// `npm run simulate` end to end, in-process on a short trace (the full week is for the
// command itself): deterministic for a seed, the report's numbers hang together, the files
// are written, and the chart renders in Chromium with nothing cut off or overlapping.
import t from 'tap'
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { simulate } from '../src/simulate/simulate.js'
import { main } from '../src/simulate/cli.js'
import { parseTraceCsv } from '../src/simulate/trace.js'
import { generateTrace } from '../src/simulate/generate.js'
import type { Report } from '../src/simulate/report.js'
import { launchBrowser } from './support/browser.js'

const SMALL = { prs: 5, days: 2 }
let first: ReturnType<typeof simulate> | undefined
/** Seed 4's run, shared by the tests that only read it. */
const seed4 = () => (first ??= simulate({ seed: 4, ...SMALL }))

t.test('the same seed gives the same report; another seed another trace', async t => {
  const a = await seed4()
  const b = await simulate({ seed: 4, ...SMALL })
  t.same(JSON.parse(JSON.stringify(b.report)), JSON.parse(JSON.stringify(a.report)), 'identical JSON reports')
  t.equal(JSON.stringify(b.report), JSON.stringify(a.report))
  const c = await simulate({ seed: 5, ...SMALL, policies: [] })
  t.notSame(c.trace.events, a.trace.events, 'seed 5 replays another trace')
  t.equal(setTimeout.name, 'setTimeout', 'the real timers are back')
  t.ok(Math.abs(Date.now() - performance.timeOrigin - performance.now()) < 60_000, 'and the real clock')
})

t.test('the report: every policy, consistent numbers, targets judged from them', async t => {
  const { report: r } = await seed4()
  t.same(r.policies.map(p => p.id), ['always-on', 'fixed-5m', 'fixed-15m', 'fixed-30m', 'fixed-60m', 'adaptive', 'adaptive-warmup'])
  const by = Object.fromEntries(r.policies.map(p => [p.id, p]))
  t.equal(by['always-on'].ofAlwaysOn, 1)
  t.ok(r.policies.every(p => p.visits === by['always-on'].visits && p.visits > 0), 'the same visits for every policy')
  t.ok(r.policies.every(p => p.taskHours <= by['always-on'].taskHours), 'nothing runs longer than always-on')
  const fixed = ['fixed-5m', 'fixed-15m', 'fixed-30m', 'fixed-60m'].map(id => by[id])
  t.ok(fixed.every((p, i) => i === 0 || p.taskHours >= fixed[i - 1].taskHours), 'longer timeouts, more task-hours')
  t.ok(fixed.every((p, i) => i === 0 || p.coldVisits <= fixed[i - 1].coldVisits), 'longer timeouts, no more cold visits')
  for (const p of r.policies) {
    t.equal(p.coldShare, Math.round(p.coldVisits / p.visits * 1e4) / 1e4, `${p.id}: cold share`)
    t.ok(p.waitP50Ms <= p.waitP95Ms, `${p.id}: p50 ≤ p95`)
    t.equal(p.coldAfter.first + p.coldAfter.signal + p.coldAfter.gap, p.coldVisits, `${p.id}: every cold visit has a cause`)
    if (p.coldVisits === 0) t.ok(p.waitP95Ms === 0 && p.coldWaitP95Ms === null, `${p.id}: no cold visit, no wait`)
    else t.ok(p.coldWaitP50Ms! > 0 && p.coldWaitP50Ms! <= p.coldWaitP95Ms!, `${p.id}: cold visits waited`)
    t.ok(Math.abs(p.cost - p.taskHours * (0.5 * r.cost.price.vcpuHour + 1 * r.cost.price.gbHour)) < 0.02, `${p.id}: cost = task-hours × price of 0.5 vCPU + 1 GB`)
  }
  t.ok(by['adaptive-warmup'].warmups && by['adaptive-warmup'].warmups.signals > 0, 'warm-ups counted')
  t.equal(by.adaptive.warmups, null)
  const aw = by['adaptive-warmup']
  const target = (id: string) => r.targets.find(x => x.id === id)!
  t.equal(target('task-hours').met, 1 - aw.ofAlwaysOn! >= 0.9)
  t.equal(target('cold-visits').met, aw.coldShare <= 0.05)
  t.match(target('beats-best-fixed').detail, /best fixed: fixed \d+ min/)
})

t.test('the CLI writes report.md, report.json and report.svg; --json prints the JSON; --write-trace the CSV', { timeout: 120_000 }, async t => {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-sim-report-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  let stdout = ''
  const io = { stdout: (s: string) => { stdout += s }, stderr: () => {}, cwd: dir }
  t.equal(await main(['--seed', '3', '--prs', '4', '--days', '2', '--json', '--out', 'out', '--write-trace', 'week.csv'], io), 0)
  const json = JSON.parse(readFileSync(join(dir, 'out/report.json'), 'utf8')) as Report
  t.same(JSON.parse(stdout), json, '--json prints the report')
  t.equal(json.seed, 3)
  t.equal(json.trace.prs, 4)
  const md = readFileSync(join(dir, 'out/report.md'), 'utf8')
  t.match(md, /\| policy \| task-hours \|/)
  for (const p of json.policies) t.match(md, new RegExp(`\\| ${p.label.replace('+', '\\+')} \\| ${p.taskHours.toFixed(1)} \\|`), `table row of ${p.label}`)
  t.match(md, /Targets \(adaptive \+ warm-up\):\n- (MET|NOT MET): ≥ 90% fewer task-hours/)
  t.same(parseTraceCsv(readFileSync(join(dir, 'week.csv'), 'utf8')).events, generateTrace({ seed: 3, prs: 4, days: 2 }).events, 'the written trace is the generated one')

  stdout = ''
  t.equal(await main(['--trace', 'week.csv', '--out', 'again', '--seed', '3'], io), 0, 'the CSV replays')
  t.match(stdout, /Trace: week\.csv/)
  t.ok(existsSync(join(dir, 'again/report.svg')))

  // The chart in a browser: it parses, every label is inside the picture, point labels do not overlap.
  const browser = await launchBrowser()
  t.teardown(() => browser.close())
  const page = await browser.newPage({ viewport: { width: 1040, height: 700 } })
  await page.goto(`file://${join(dir, 'out/report.svg')}`)
  const seen = await page.evaluate(() => {
    const root = document.documentElement
    const texts = Array.from(document.querySelectorAll('text')).map(e => ({ text: e.textContent ?? '', box: e.getBoundingClientRect() }))
    return { tag: root.tagName, texts: texts.map(x => ({ text: x.text, left: x.box.left, right: x.box.right, top: x.box.top, bottom: x.box.bottom })) }
  })
  t.equal(seen.tag, 'svg')
  for (const p of json.policies) t.ok(seen.texts.some(x => x.text === p.label), `${p.label} is labelled`)
  t.ok(seen.texts.some(x => /Idle policies on 4 PRs over 2 days \(seed 3\)/.test(x.text)), 'title with seed and trace')
  const outside = seen.texts.filter(x => x.left < 0 || x.top < 0 || x.right > 1040 || x.bottom > 700)
  t.same(outside.map(x => x.text), [], 'no text cut off')
  // The scatter is the left part, the per-policy rows the right.
  const points = seen.texts.filter(x => x.right < 640 && /^(fixed \d+ min|adaptive|adaptive \+ warm-up)$/.test(x.text))
  t.equal(points.length, 6, 'a label per plotted policy')
  t.equal(seen.texts.filter(x => x.left >= 640 && /^\d+(\.\d)?% hours · \d+(\.\d)?% cold$/.test(x.text)).length, 7, 'the numbers of every policy')
  const overlaps = points.flatMap((a, i) => points.slice(i + 1).filter(b => a.left < b.right && b.left < a.right && a.top < b.bottom && b.top < a.bottom).map(b => `${a.text} / ${b.text}`))
  t.same(overlaps, [], 'point labels do not overlap')
})

// Traces for `npm run simulate`: the generated week is reproducible from its seed and follows
// its model (working hours, PR lifecycles); the CSV format reads and writes, and a bad row is
// an error with its line number and exit code 2.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { generateTrace, MODEL } from '../src/simulate/generate.js'
import { isWorkTime } from '../src/simulate/calendar.js'
import { parseTraceCsv, traceToCsv, TraceError, CSV_TAIL_MS } from '../src/simulate/trace.js'
import { ROOT } from './support/harness.js'

const run = promisify(execFile)

t.test('a seed gives the same trace; another seed a different one', async t => {
  const a = generateTrace({ seed: 7, prs: 12, days: 3 })
  const b = generateTrace({ seed: 7, prs: 12, days: 3 })
  const c = generateTrace({ seed: 8, prs: 12, days: 3 })
  t.same(a, b, 'same seed, same events')
  t.ok(a.events.length > 50, `a real trace (${a.events.length} events)`)
  t.notSame(a.events, c.events, 'different seed, different events')
})

t.test('the generated week follows its model', async t => {
  const tr = generateTrace({ seed: 1 })
  t.equal(tr.start, MODEL.monday, 'starts Monday 00:00')
  t.equal(tr.end - tr.start, 7 * 86_400_000, 'one week')
  t.equal(new Date(tr.start).getUTCDay(), 1, 'a Monday')
  const opens = tr.events.filter(e => e.kind === 'open')
  t.equal(opens.length, 50, '50 PRs opened')
  t.equal(new Set(opens.map(e => e.pr)).size, 50, 'each once')
  const w = { monday: MODEL.monday, ...MODEL.workHours }
  t.ok(opens.every(e => isWorkTime(w, e.at)), 'PRs open in working hours')
  const views = tr.events.filter(e => e.kind === 'visit')
  t.ok(views.every(e => isWorkTime(w, e.at) || isWorkTime(w, e.at - 30 * 60_000)), 'page views in working hours (a burst may run a little past 18:00)')
  t.ok(views.every(e => new Date(e.at).getUTCDay() !== 0 && new Date(e.at).getUTCDay() !== 6), 'quiet weekend')
  for (const pr of new Set(tr.events.map(e => e.pr))) {
    const evs = tr.events.filter(e => e.pr === pr)
    t.equal(evs[0].kind, 'open', `PR ${pr} opens first`)
    const close = evs.findIndex(e => e.kind === 'close')
    if (close !== -1) t.equal(close, evs.length - 1, `PR ${pr}: nothing after its close`)
  }
  const closed = new Set(tr.events.filter(e => e.kind === 'close').map(e => e.pr))
  t.ok(closed.size > 10 && closed.size < 50, `some PRs merged within the week, some not (${closed.size})`)
  t.ok(tr.events.some(e => e.kind === 'review_requested') && tr.events.some(e => e.kind === 'comment') && tr.events.some(e => e.kind === 'push'), 'requests, comments and pushes')
  t.equal(tr.events.filter(e => e.at % 1000 !== 0).length, 0, 'whole seconds')
})

t.test('CSV: a generated trace reads back as it was written', async t => {
  const tr = generateTrace({ seed: 3, prs: 5, days: 2 })
  const csv = traceToCsv(tr)
  t.equal(csv.split('\n')[0], 'time,pr,kind')
  t.match(csv.split('\n')[1], /^2026-03-02T\d\d:\d\d:\d\d\.000Z,\d+,open$/)
  const back = parseTraceCsv(csv)
  t.same(back.events, tr.events)
  t.equal(back.start, tr.events[0].at, 'the window starts at the first event')
  t.equal(back.end, tr.events[tr.events.length - 1].at + CSV_TAIL_MS, 'and ends a while after the last')
})

t.test('CSV: ISO and Unix times, extra columns, quotes, any row order', async t => {
  const tr = parseTraceCsv([
    '# exported from the access log',
    'kind,time,pr,path',
    'visit,2026-03-02T10:05:00Z,12,"/settings?a=1,b=2"',
    'open,1772445600,12,',
    'visit,2026-03-02 10:05:00,12,/',
    'review_requested,2026-03-02T11:00:00+01:00,12,',
    '',
    'close,1772452800.5,12,'
  ].join('\r\n'))
  t.same(tr.events.map(e => [new Date(e.at).toISOString(), e.kind]), [
    ['2026-03-02T10:00:00.000Z', 'open'],
    ['2026-03-02T10:00:00.000Z', 'review_requested'],
    ['2026-03-02T10:05:00.000Z', 'visit'],
    ['2026-03-02T10:05:00.000Z', 'visit'],
    ['2026-03-02T12:00:00.500Z', 'close']
  ])
})

t.test('CSV: a bad row is an error naming its line', async t => {
  const head = 'time,pr,kind\n2026-03-02T10:00:00Z,1,open\n'
  const cases: Array<[string, number, RegExp]> = [
    [head + '\nyesterday,1,visit\n', 4, /time "yesterday"/],
    [head + '2026-03-02T10:01:00Z,one,visit\n', 3, /pr "one"/],
    [head + '2026-03-02T10:01:00Z,0,visit\n', 3, /pr "0"/],
    [head + '2026-03-02T10:01:00Z,1,view\n', 3, /kind "view" is not one of open, push, review_requested, comment, visit, close/],
    ['when,pr,kind\n2026-03-02T10:01:00Z,1,visit\n', 1, /no "time" column/],
    ['', 1, /empty trace/],
    ['time,pr,kind\n', 1, /no events/]
  ]
  for (const [text, line, msg] of cases) {
    const err = (() => { try { parseTraceCsv(text, 'x.csv'); return undefined } catch (e) { return e } })()
    t.ok(err instanceof TraceError, `${JSON.stringify(text.slice(-30))} is refused`)
    t.equal((err as TraceError).line, line)
    t.match((err as TraceError).message, new RegExp(`^x\\.csv:${line}: `))
    t.match((err as TraceError).message, msg)
  }
})

t.test('npm run simulate: a bad trace or flag exits 2, naming the line or the flag', { timeout: 60_000 }, async t => {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-sim-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  writeFileSync(join(dir, 'bad.csv'), 'time,pr,kind\n2026-03-02T10:00:00Z,4,open\n2026-03-02T10:00:05Z,4,wave\n')
  const bad = await run(process.execPath, ['--import=tsx', join(ROOT, 'src/simulate/cli.ts'), '--trace', join(dir, 'bad.csv'), '--out', dir], { cwd: ROOT }).then(() => ({ code: 0, stderr: '' }), (e: { code: number, stderr: string }) => e)
  t.equal(bad.code, 2, 'exit code 2')
  t.match(bad.stderr, /^simulate: \S+bad\.csv:3: kind "wave"/)

  const usage = await run(process.execPath, ['--import=tsx', join(ROOT, 'src/simulate/cli.ts'), '--seed', 'x', '--out', dir], { cwd: ROOT }).then(() => ({ code: 0, stderr: '' }), (e: { code: number, stderr: string }) => e)
  t.equal(usage.code, 2, 'a bad flag exits 2 too')
  t.match(usage.stderr, /--seed: expected an integer/)
})

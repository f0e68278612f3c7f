// apps[].warmup: off unless given, `{}` takes the defaults, durations in ms, and mistakes stop
// check-config with exit code 2 and the field path.
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT, testConfig, exampleApp } from './support/harness.js'

const dir = mkdtempSync(join(tmpdir(), 'wakegate-warmup-config-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

function checkConfig (warmup: unknown) {
  const file = join(dir, `c${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({ apps: [exampleApp({ warmup })] }))
  const r = spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'check-config', '--config', file], { encoding: 'utf8', cwd: ROOT })
  return { code: r.status, err: r.stderr }
}

t.test('off unless set; {} turns every signal on with the defaults', async t => {
  t.equal(testConfig().apps[0].warmup, undefined)
  t.same(testConfig({}, [exampleApp({ warmup: {} })]).apps[0].warmup, { reviewRequested: true, pushVisitedWithin: 8 * 3600_000, commentMention: true, usedWithin: 30 * 60_000 })
  t.same(testConfig({}, [exampleApp({ warmup: { pushVisitedWithin: 0, usedWithin: '45m', commentMention: false } })]).apps[0].warmup,
    { reviewRequested: true, pushVisitedWithin: 0, commentMention: false, usedWithin: 45 * 60_000 })
})

t.test('mistakes exit 2 with the field path', async t => {
  const zero = checkConfig({ usedWithin: 0 })
  t.equal(zero.code, 2)
  t.match(zero.err, /apps\[0\]\.warmup\.usedWithin: must be more than 0/)
  const bad = checkConfig({ pushVisitedWithin: 'a while' })
  t.equal(bad.code, 2)
  t.match(bad.err, /apps\[0\]\.warmup\.pushVisitedWithin: expected a duration/)
  const unknown = checkConfig({ onPush: true })
  t.equal(unknown.code, 2)
  t.match(unknown.err, /apps\[0\]\.warmup/)
  t.equal(checkConfig({ reviewRequested: false }).code, 0)
})

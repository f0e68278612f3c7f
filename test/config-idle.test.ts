// apps[].idle and apps[].schedule: resolved values, and bad values named by their field (the
// CLI exits 2 with them).
import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ROOT } from './support/harness.js'
import { parseConfigText } from '../src/config/load.js'
import { ConfigError } from '../src/errors.js'

const dir = mkdtempSync(join(tmpdir(), 'wakegate-idle-config-'))
const base = `
apps:
  - name: web
    host: pr-{pr}.review.example.com
    backend:
      kind: local
      command: node server.js
`
const load = (extra: string) => parseConfigText(base + extra, {}, dir, 'test.yaml').apps[0]

t.test('idle and schedule are resolved; without them nothing changes', async t => {
  const plain = load('')
  t.equal(plain.idle, undefined)
  t.equal(plain.schedule, undefined)
  t.equal(plain.idleTimeout, 900_000)

  t.same(load('    idle: {}\n').idle, { coldVisits: 0.05, min: 300_000, max: 3_600_000, visitGap: 60_000 }, 'defaults: 5%, 5m to 1h, 60s')
  t.same(load('    idle: { target: { coldVisits: "2.5 %" }, min: 10m, max: 90m, visitGap: 30s }\n').idle, { coldVisits: 0.025, min: 600_000, max: 5_400_000, visitGap: 30_000 })
  t.equal(load('    idle: { target: { coldVisits: 0.1 } }\n').idle!.coldVisits, 0.1)
  t.equal(load('    idle: { target: { coldVisits: 0 } }\n').idle!.coldVisits, 0)

  const s = load('    schedule: { timeZone: Europe/Berlin, officeHours: ["Mon-Fri 08:00-19:00", "Sat 10:00-12:00"] }\n').schedule!
  t.equal(s.timeZone, 'Europe/Berlin')
  t.equal(s.outsideIdleTimeout, 300_000, 'default 5m')
  t.equal(s.hours.ranges.length, 2)
  t.same(s.officeHours, ['Mon-Fri 08:00-19:00', 'Sat 10:00-12:00'])
})

const cases: Array<[string, string, RegExp]> = [
  ['share of 100%', '    idle: { target: { coldVisits: "100%" } }\n', /apps\[0\]\.idle\.target\.coldVisits: expected a share such as "5%" or 0\.05, at least 0 and below 100%, got "100%"/],
  ['share above 1', '    idle: { target: { coldVisits: 5 } }\n', /apps\[0\]\.idle\.target\.coldVisits: expected a share/],
  ['negative share', '    idle: { target: { coldVisits: -0.1 } }\n', /apps\[0\]\.idle\.target\.coldVisits: expected a share/],
  ['share not a number', '    idle: { target: { coldVisits: "some" } }\n', /apps\[0\]\.idle\.target\.coldVisits: expected a share/],
  ['min above max', '    idle: { min: 3h, max: 2h }\n', /apps\[0\]\.idle\.min: must not be more than max \(2h\)/],
  ['min above the default max', '    idle: { min: 90m }\n', /apps\[0\]\.idle\.min: must not be more than max \(1h\)/],
  ['min zero', '    idle: { min: 0, visitGap: 0 }\n', /apps\[0\]\.idle\.min: must be more than 0/],
  ['visit gap above min', '    idle: { min: 30s }\n', /apps\[0\]\.idle\.visitGap: must not be more than min \(30s\)/],
  ['bad duration', '    idle: { max: long }\n', /apps\[0\]\.idle\.max: expected a duration/],
  ['unknown field', '    idle: { target: { warmVisits: 1 } }\n', /apps\[0\]\.idle\.target\.warmVisits: unexpected property/],
  ['unknown time zone', '    schedule: { timeZone: Europe/Atlantis, officeHours: ["Mon-Fri 08:00-19:00"] }\n', /apps\[0\]\.schedule\.timeZone: unknown time zone "Europe\/Atlantis"/],
  ['bad range', '    schedule: { timeZone: UTC, officeHours: ["Mon-Fri 08:00-19:00", "weekdays"] }\n', /apps\[0\]\.schedule\.officeHours\[1\]: expected "Mon-Fri 08:00-19:00"/],
  ['bad day', '    schedule: { timeZone: UTC, officeHours: ["Mon-Fre 08:00-19:00"] }\n', /apps\[0\]\.schedule\.officeHours\[0\]: unknown day in "Mon-Fre"/],
  ['no ranges', '    schedule: { timeZone: UTC, officeHours: [] }\n', /apps\[0\]\.schedule\.officeHours: /],
  ['no time zone', '    schedule: { officeHours: ["09:00-17:00"] }\n', /apps\[0\]\.schedule\.timeZone: expected required property/],
  ['zero outside timeout', '    schedule: { timeZone: UTC, officeHours: ["09:00-17:00"], outsideIdleTimeout: 0 }\n', /apps\[0\]\.schedule\.outsideIdleTimeout: must be more than 0/]
]

for (const [name, extra, expected] of cases) {
  t.test(`bad config: ${name} → an error naming the field`, async t => {
    const err = (() => { try { load(extra); return null } catch (e) { return e } })()
    t.type(err, ConfigError)
    t.match((err as Error).message, expected)
  })
}

t.test('wakegate check-config exits 2 with the field path', async t => {
  for (const [, extra, expected] of cases.filter(c => ['share of 100%', 'min above max', 'unknown time zone', 'bad range'].includes(c[0]))) {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(file, base + extra)
    const r = spawnSync(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'check-config', '--config', file], { encoding: 'utf8', cwd: ROOT })
    t.equal(r.status, 2)
    t.match(r.stderr, expected)
  }
})

// `npm run simulate`: replays a week of reviews (generated, or a CSV trace) against the real
// lifecycle code for every policy and writes the report (table, JSON, SVG chart).
// Exit codes: 0 done, 2 bad arguments or an unreadable trace / phases file.
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { parseArgs } from 'node:util'
import { pathToFileURL } from 'node:url'
import { CAPACITIES, type Capacity } from '../cost/prices.js'
import { reportSvg } from './chart.js'
import { generateTrace, MODEL } from './generate.js'
import { loadPhaseModel, PhasesError } from './phases.js'
import { reportMarkdown } from './report.js'
import { DEFAULT_CAPACITY, DEFAULT_SIZE, simulate } from './simulate.js'
import { DEFAULT_INSTANCES } from './backend.js'
import { parseTraceCsv, traceToCsv, TraceError } from './trace.js'

export const DEFAULT_OUT = 'simulate-report'

const HELP = `usage: npm run simulate -- [options]

Replays pull-request activity against wakegate's real lifecycle code (manager, state machine,
idle policies, warm-up signals) under a virtual clock, for always-on, fixed idle timeouts of
5, 15, 30 and 60 min, and the adaptive policy with and without warm-up.

  --seed N            seed of the generated trace and of the start-time draws (default 1)
  --prs N             PRs in the generated trace (default ${MODEL.prs})
  --days N            days in the generated trace, from a Monday (default ${MODEL.days})
  --trace FILE.csv    replay this trace instead: header time,pr,kind; kind one of
                      open, push, review_requested, comment, visit, close
  --write-trace FILE  write the generated trace as CSV (and simulate it)
  --phases FILE.json  start phases measured by a gateway: the JSON of GET /api/wake-phases
  --phases-app NAME   which app of that file (default: the first)
  --instances N       container instances tasks are placed on (default ${DEFAULT_INSTANCES})
  --capacity KIND     price of ${CAPACITIES.join(', ')} (default ${DEFAULT_CAPACITY})
  --vcpu N            task size for the cost (default ${DEFAULT_SIZE.vcpu})
  --memory-gb N       (default ${DEFAULT_SIZE.memoryGb})
  --out DIR           where report.md, report.json and report.svg go (default ${DEFAULT_OUT}/)
  --json              print the report as JSON instead of the table
  --help
`

/** Bad input: the message goes to stderr and the process exits 2. */
export class UsageError extends Error {}

function num (name: string, v: string | undefined, def: number, int: boolean, min: number): number {
  if (v === undefined) return def
  const n = Number(v)
  if (v.trim() === '' || !Number.isFinite(n) || (int && !Number.isInteger(n)) || n < min) throw new UsageError(`--${name}: expected ${int ? 'an integer' : 'a number'} ≥ ${min}, got ${JSON.stringify(v)}`)
  return n
}

export interface CliIo { stdout: (s: string) => void, stderr: (s: string) => void, cwd: string }

export async function main (argv: string[], io: CliIo): Promise<number> {
  try {
    return await run(argv, io)
  } catch (err) {
    if (err instanceof UsageError || err instanceof TraceError || err instanceof PhasesError) {
      io.stderr(`simulate: ${err.message}\n`)
      return 2
    }
    throw err
  }
}

async function run (argv: string[], io: CliIo): Promise<number> {
  let parsed
  try {
    parsed = parseArgs({
      args: argv,
      strict: true,
      options: {
        seed: { type: 'string' }, prs: { type: 'string' }, days: { type: 'string' }, trace: { type: 'string' }, 'write-trace': { type: 'string' },
        phases: { type: 'string' }, 'phases-app': { type: 'string' }, instances: { type: 'string' }, capacity: { type: 'string' },
        vcpu: { type: 'string' }, 'memory-gb': { type: 'string' }, out: { type: 'string' }, json: { type: 'boolean' }, help: { type: 'boolean' }
      }
    })
  } catch (err) {
    throw new UsageError(`${(err as Error).message} (see --help)`)
  }
  const v = parsed.values
  if (v.help) { io.stdout(HELP); return 0 }
  const seed = num('seed', v.seed, 1, true, 0)
  const prs = num('prs', v.prs, MODEL.prs, true, 1)
  const days = num('days', v.days, MODEL.days, true, 1)
  const instances = num('instances', v.instances, DEFAULT_INSTANCES, true, 1)
  const size = { vcpu: num('vcpu', v.vcpu, DEFAULT_SIZE.vcpu, false, 0), memoryGb: num('memory-gb', v['memory-gb'], DEFAULT_SIZE.memoryGb, false, 0) }
  const capacity = (v.capacity ?? DEFAULT_CAPACITY) as Capacity
  if (!CAPACITIES.includes(capacity)) throw new UsageError(`--capacity: expected one of ${CAPACITIES.join(', ')}, got ${JSON.stringify(v.capacity)}`)
  if (v.trace && (v.prs || v.days || v['write-trace'])) throw new UsageError('--prs, --days and --write-trace are for the generated trace, not with --trace')

  let trace
  if (v.trace) {
    const file = resolve(io.cwd, v.trace)
    let text: string
    try {
      text = readFileSync(file, 'utf8')
    } catch (err) {
      throw new UsageError(`cannot read ${v.trace}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`)
    }
    trace = parseTraceCsv(text, v.trace)
  } else {
    trace = generateTrace({ seed, prs, days })
    if (v['write-trace']) writeFileSync(resolve(io.cwd, v['write-trace']), traceToCsv(trace))
  }
  const phases = v.phases ? loadPhaseModel(resolve(io.cwd, v.phases), v['phases-app']) : undefined

  const { report } = await simulate({ seed, trace, phases, instances, capacity, size, onPolicy: p => io.stderr(`simulating ${p.label}…\n`) })
  const out = resolve(io.cwd, v.out ?? DEFAULT_OUT)
  mkdirSync(out, { recursive: true })
  const json = JSON.stringify(report, null, 2) + '\n'
  const md = reportMarkdown(report)
  writeFileSync(join(out, 'report.json'), json)
  writeFileSync(join(out, 'report.md'), md)
  writeFileSync(join(out, 'report.svg'), reportSvg(report))
  io.stdout(v.json ? json : md)
  io.stderr(`wrote ${join(out, 'report.md')}, report.json and report.svg\n`)
  return 0
}

if (process.argv[1] && import.meta.url === pathToFileURL(resolve(process.argv[1])).href) {
  main(process.argv.slice(2), { stdout: s => process.stdout.write(s), stderr: s => process.stderr.write(s), cwd: process.cwd() }).then(code => { process.exitCode = code }, err => {
    process.stderr.write(`simulate: ${(err as Error).stack ?? err}\n`)
    process.exitCode = 1
  })
}

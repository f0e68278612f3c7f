// `npm run bench`: builds, then measures the compiled gateway (dist/) section by section and
// prints ratios next to absolute numbers. Results also go to bench/results/<time>.json.
//
//   npm run bench                          everything (about 10 minutes)
//   npm run bench -- --only throughput,wake   some sections
//   npm run bench -- --only tls              HTTPS (listen.tls) against nginx, handshakes, certificate swaps
//   npm run bench -- --quick               smoke run: 1 round of 2 s, fewer wakes
//   npm run bench -- --rounds 5 --duration 8 --connections 50 --autocannon
//   npm run bench -- --only throughput --baseline HEAD~3   that revision measured beside this tree
import { parseArgs } from 'node:util'
import { readFileSync, writeFileSync, mkdirSync, existsSync } from 'node:fs'
import { cpus, totalmem } from 'node:os'
import { join } from 'node:path'
import { prepareTools } from './lib/load.js'
import { detectPinning, pinSelf } from './lib/proc.js'
import { noiseStats, quietStats } from './lib/quiet.js'
import { ROOT, type Context, type SectionResult } from './lib/context.js'
import { buildBaseline } from './lib/baseline.js'
import { throughput } from './sections/throughput.js'
import { bodies } from './sections/bodies.js'
import { websocket } from './sections/websocket.js'
import { wake } from './sections/wake.js'
import { storm } from './sections/storm.js'
import { scale } from './sections/scale.js'
import { clusterSection } from './sections/cluster.js'
import { micro } from './sections/micro.js'
import { replicas } from './sections/replicas.js'
import { access } from './sections/access.js'
import { tlsSection } from './sections/tls.js'

const SECTIONS: Record<string, (ctx: Context) => Promise<SectionResult>> = {
  throughput, bodies, websocket, wake, storm, scale, cluster: clusterSection, replicas, access, tls: tlsSection, micro
}

function machine () {
  const model = /model name\s*:\s*(.+)/.exec(existsSync('/proc/cpuinfo') ? readFileSync('/proc/cpuinfo', 'utf8') : '')?.[1] ?? cpus()[0]?.model ?? 'unknown'
  return { nproc: cpus().length, cpu: model.trim(), memGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` }
}

async function main () {
  const { values } = parseArgs({
    options: {
      only: { type: 'string' },
      skip: { type: 'string' },
      rounds: { type: 'string' },
      duration: { type: 'string' },
      connections: { type: 'string' },
      quick: { type: 'boolean' },
      autocannon: { type: 'boolean' },
      out: { type: 'string' },
      baseline: { type: 'string' }
    }
  })
  const quick = values.quick ?? false
  const only = values.only ? values.only.split(',') : Object.keys(SECTIONS)
  const skip = new Set(values.skip ? values.skip.split(',') : [])
  for (const s of only) if (!SECTIONS[s]) throw new Error(`unknown section ${s} (have: ${Object.keys(SECTIONS).join(', ')})`)
  const selected = only.filter(s => !skip.has(s))
  const pinning = detectPinning()
  pinSelf()
  const needsLoad = selected.some(s => s === 'throughput' || s === 'bodies' || s === 'cluster' || s === 'replicas' || s === 'websocket' || s === 'access' || s === 'tls')
  const tools = needsLoad ? prepareTools({ forceAutocannon: values.autocannon, nginx: ['throughput', 'bodies', 'websocket', 'tls'].some(x => selected.includes(x)) }) : { loader: 'autocannon' as const, nginx: null, notes: [] }
  const ctx: Context = {
    tools,
    pinning,
    quick,
    rounds: Number(values.rounds ?? (quick ? 1 : 5)),
    duration: Number(values.duration ?? (quick ? 2 : 8)),
    connections: Number(values.connections ?? 50),
    log: line => process.stderr.write(`${line}\n`)
  }
  if (values.baseline) ctx.baseline = buildBaseline(values.baseline, ctx.log)
  const m = machine()
  const header = [
    `wakegate benchmarks — ${new Date().toISOString()}`,
    `machine: ${m.nproc} CPUs (${m.cpu}), ${m.memGiB} GiB, node ${m.node}, ${m.platform}`,
    ...(ctx.baseline ? [`baseline: ${ctx.baseline.rev} (${ctx.baseline.commit.slice(0, 12)}) measured beside this tree`] : []),
    `load: ${tools.loader} -c${ctx.connections}, ${ctx.duration} s per run, ${ctx.rounds} rounds interleaved; ${pinning.note}`,
    ...tools.notes.map(n => `note: ${n}`)
  ]
  process.stdout.write(`${header.join('\n')}\n\n`)
  const results: SectionResult[] = []
  const failures: Record<string, string> = {}
  for (const name of selected) {
    ctx.log(`» ${name}`)
    try {
      const r = await SECTIONS[name](ctx)
      results.push(r)
      process.stdout.write(`## ${r.title}\n\n${r.text}\n\n`)
    } catch (err) {
      failures[name] = (err as Error).stack ?? String(err)
      process.stdout.write(`## ${name}: FAILED\n\n${(err as Error).message}\n\n`)
    }
  }
  const dir = join(ROOT, 'bench', 'results')
  mkdirSync(dir, { recursive: true })
  const file = values.out ?? join(dir, `${new Date().toISOString().replace(/[:.]/g, '-')}.json`)
  const json = {
    at: new Date().toISOString(),
    machine: m,
    command: `npm run bench${process.argv.length > 2 ? ` -- ${process.argv.slice(2).join(' ')}` : ''}`,
    baseline: ctx.baseline && { rev: ctx.baseline.rev, commit: ctx.baseline.commit },
    load: { tool: tools.loader, connections: ctx.connections, duration: ctx.duration, rounds: ctx.rounds, pinning },
    notes: tools.notes,
    sections: Object.fromEntries(results.map(r => [r.id, { title: r.title, ...r.data }])),
    text: Object.fromEntries(results.map(r => [r.id, r.text])),
    failures
  }
  const noise = `shared-machine guard: waited ${Math.round(quietStats.waitedMs / 1000)} s for idle CPUs before runs; ${noiseStats.repeated} run(s) repeated because other processes used > 15% of a CPU meanwhile; ${noiseStats.kept + quietStats.noisyRuns} kept although disturbed`
  process.stdout.write(`${noise}\n`)
  Object.assign(json, { noise: { ...quietStats, ...noiseStats, text: noise } })
  writeFileSync(file, JSON.stringify(json, null, 2) + '\n')
  writeFileSync(join(dir, 'latest.json'), JSON.stringify(json, null, 2) + '\n')
  process.stdout.write(`results: ${file}\n`)
  if (Object.keys(failures).length) process.exitCode = 1
}

main().then(() => process.exit(process.exitCode ?? 0), err => { console.error(err); process.exit(1) })

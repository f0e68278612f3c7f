// Profiles the compiled gateway under load: starts the upstream and wakegate (with
// --cpu-prof), runs the load generator against it, stops it and prints where the CPU went
// (self time by function and by package). The .cpuprofile stays in bench/results/ for
// Chrome DevTools / speedscope.
//   npx tsx bench/profile.ts [--duration 8] [--workers 2] [--path /bytes?n=1048576]
import { parseArgs } from 'node:util'
import { readdirSync, readFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { prepareTools, runLoad } from './lib/load.js'
import { detectPinning, pinSelf, startNode } from './lib/proc.js'
import { fmtInt, fmtMs, table } from './lib/stats.js'
import { ROOT, SERVERS, HOST } from './lib/context.js'

interface Node { id: number, callFrame: { functionName: string, url: string, lineNumber: number }, hitCount?: number, children?: number[] }

export function summarizeProfile (file: string, top = 30): string {
  const prof = JSON.parse(readFileSync(file, 'utf8')) as { nodes: Node[], samples: number[] }
  const total = prof.samples.length
  const counts = new Map<number, number>()
  for (const s of prof.samples) counts.set(s, (counts.get(s) ?? 0) + 1)
  const byFn = new Map<string, number>()
  const byPkg = new Map<string, number>()
  for (const n of prof.nodes) {
    const c = counts.get(n.id) ?? 0
    if (!c) continue
    const url = n.callFrame.url.replace(`file://${ROOT}/`, '')
    const fn = `${n.callFrame.functionName || '(anonymous)'} ${url ? `${url.split('/').slice(-2).join('/')}:${n.callFrame.lineNumber + 1}` : ''}`
    byFn.set(fn, (byFn.get(fn) ?? 0) + c)
    const pkg = url.startsWith('dist/') ? 'wakegate (dist)'
      : /node_modules\/((@[^/]+\/)?[^/]+)/.exec(url)?.[1] ?? (url.startsWith('node:') ? 'node core' : url ? url : n.callFrame.functionName)
    byPkg.set(pkg, (byPkg.get(pkg) ?? 0) + c)
  }
  const pct = (c: number) => `${(100 * c / total).toFixed(1)}%`
  const sorted = (m: Map<string, number>, k: number) => [...m].sort((a, b) => b[1] - a[1]).slice(0, k)
  return [
    table([['self time by package', '%'], ...sorted(byPkg, 12).map(([k, c]) => [k, pct(c)])]),
    '',
    table([['self time by function', '%'], ...sorted(byFn, top).map(([k, c]) => [k.slice(0, 110), pct(c)])])
  ].join('\n')
}

async function main () {
  const { values } = parseArgs({ options: { duration: { type: 'string' }, workers: { type: 'string' }, path: { type: 'string' } } })
  detectPinning()
  pinSelf()
  const tools = prepareTools({ nginx: false })
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-prof-'))
  const upstream = await startNode('upstream', join(SERVERS, 'upstream.mjs'))
  const spec = { backend: 'fixed', routes: { 1: upstream.port }, prs: [1], wake: [1], workers: values.workers ? Number(values.workers) : undefined }
  const wg = await startNode('wakegate', join(SERVERS, 'wakegate.mjs'), [JSON.stringify(spec)], { nodeArgs: ['--cpu-prof', `--cpu-prof-dir=${dir}`] })
  const url = `http://127.0.0.1:${wg.port}${values.path ?? '/'}`
  await runLoad(tools, { url, host: HOST, connections: 50, duration: 2 })
  const r = await runLoad(tools, { url, host: HOST, connections: 50, duration: Number(values.duration ?? 8) })
  process.stdout.write(`wakegate under ${tools.loader} -c50: ${fmtInt(r.rps)} req/s, p50 ${fmtMs(r.p50)}, p99 ${fmtMs(r.p99)}\n\n`)
  await wg.stop()
  await upstream.stop()
  const files = readdirSync(dir).filter(f => f.endsWith('.cpuprofile'))
  for (const f of files) {
    const dest = join(ROOT, 'bench', 'results', `wakegate-${f}`)
    renameSync(join(dir, f), dest)
    process.stdout.write(`${dest}\n${summarizeProfile(dest)}\n\n`)
  }
  rmSync(dir, { recursive: true, force: true })
}

if (process.argv[1]?.endsWith('profile.ts')) main().then(() => process.exit(0), err => { console.error(err); process.exit(1) })

// Micro-benchmarks beside the tests (test/*.bench.ts): route lookup and header rewriting.
// Each runs in its own process (tsx, on src/), pinned like the servers.
import { spawn } from 'node:child_process'
import { readdirSync } from 'node:fs'
import { join } from 'node:path'
import { pinned } from '../lib/proc.js'
import { table } from '../lib/stats.js'
import { ROOT, type Context, type SectionResult } from '../lib/context.js'
import type { MicroResult } from '../lib/micro.js'

function runBench (file: string): Promise<{ file: string, results: MicroResult[] }> {
  const [cmd, args] = pinned('server', process.execPath, ['--import', 'tsx', join(ROOT, file)])
  return new Promise((resolve, reject) => {
    const p = spawn(cmd, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'inherit'] })
    let out = ''
    p.stdout.on('data', d => { out += d })
    p.once('error', reject)
    p.once('close', code => {
      const line = out.split('\n').find(l => l.startsWith('MICROBENCH '))
      if (code !== 0 || !line) { reject(new Error(`${file} exited with ${code}`)); return }
      resolve(JSON.parse(line.slice('MICROBENCH '.length)))
    })
  })
}

export async function micro (ctx: Context): Promise<SectionResult> {
  const files = readdirSync(join(ROOT, 'test')).filter(f => f.endsWith('.bench.ts')).sort().map(f => `test/${f}`)
  const all: Array<{ file: string, results: MicroResult[] }> = []
  for (const f of files) {
    ctx.log(`  ${f}`)
    all.push(await runBench(f))
  }
  const text = all.map(b => table([[b.file, 'ns/op'], ...b.results.map(r => [r.name, r.nsPerOp.toFixed(1)])])).join('\n\n')
  return { id: 'micro', title: 'Micro-benchmarks (test/*.bench.ts, on src/ through tsx)', text, data: { files: all } }
}

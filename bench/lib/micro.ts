// A tiny micro-benchmark harness for the *.bench.ts files beside the tests: warm up, then
// the best of five timed passes (the least disturbed one), in ns per operation.

export interface MicroResult { name: string, nsPerOp: number }

let sink = 0
/** Keeps results alive so the optimizer cannot drop the work. */
export function consume (v: unknown): void { if (v !== undefined && v !== null) sink++ }

export function bench (name: string, fn: (i: number) => unknown, iterations = 1_000_000): MicroResult {
  for (let i = 0; i < Math.min(iterations, 200_000); i++) consume(fn(i))
  let best = Infinity
  for (let r = 0; r < 5; r++) {
    const t0 = process.hrtime.bigint()
    for (let i = 0; i < iterations; i++) consume(fn(i))
    best = Math.min(best, Number(process.hrtime.bigint() - t0) / iterations)
  }
  return { name, nsPerOp: best }
}

/** Prints a table, and one machine-readable line the bench runner collects. */
export function report (file: string, results: MicroResult[]): void {
  const w = Math.max(...results.map(r => r.name.length))
  process.stdout.write(`${file}\n`)
  for (const r of results) process.stdout.write(`  ${r.name.padEnd(w)}  ${r.nsPerOp.toFixed(1).padStart(8)} ns/op\n`)
  process.stdout.write(`MICROBENCH ${JSON.stringify({ file, results, sink: sink > 0 })}\n`)
}

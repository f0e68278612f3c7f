// Medians, ranges and the few formats the report uses.

export function median (xs: number[]): number {
  const s = xs.filter(x => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  const m = s.length >> 1
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2
}

export function percentile (xs: number[], p: number): number {
  const s = xs.filter(x => Number.isFinite(x)).sort((a, b) => a - b)
  if (s.length === 0) return NaN
  return s[Math.min(s.length - 1, Math.max(0, Math.ceil((p / 100) * s.length) - 1))]
}

export interface Summary { median: number, min: number, max: number, runs: number[] }

export function summarize (xs: number[]): Summary {
  const f = xs.filter(x => Number.isFinite(x))
  return { median: median(f), min: f.length ? Math.min(...f) : NaN, max: f.length ? Math.max(...f) : NaN, runs: xs }
}

export const round = (x: number, d = 2) => Number.isFinite(x) ? Math.round(x * 10 ** d) / 10 ** d : x

export function fmtInt (x: number): string {
  return Number.isFinite(x) ? Math.round(x).toLocaleString('en-US') : '–'
}

export function fmtMs (x: number): string {
  if (!Number.isFinite(x)) return '–'
  return x < 10 ? `${x.toFixed(2)} ms` : x < 100 ? `${x.toFixed(1)} ms` : `${Math.round(x)} ms`
}

export function fmtRange (s: Summary, f: (x: number) => string): string {
  return `${f(s.median)} (${f(s.min)}–${f(s.max)})`
}

export const MiB = 1024 * 1024
export function fmtMiB (bytes: number): string {
  return Number.isFinite(bytes) ? `${(bytes / MiB).toFixed(1)} MiB` : '–'
}

/** A plain-text table: first row is the header. */
export function table (rows: string[][]): string {
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => (r[i] ?? '').length)))
  const line = (r: string[]) => r.map((c, i) => i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i])).join('  ')
  return [line(rows[0]), widths.map(w => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)].join('\n')
}

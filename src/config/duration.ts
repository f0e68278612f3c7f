// Durations in config may be milliseconds (number) or strings such as "500ms", "30s", "15m", "2h", "7d".

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }
export const DURATION_PATTERN = '^\\s*\\d+(\\.\\d+)?\\s*(ms|s|m|h|d)\\s*$'
const RE = new RegExp(DURATION_PATTERN)

export function parseDuration (value: number | string): number {
  if (typeof value === 'number') return value
  const m = RE.exec(value)
  if (!m) throw new Error(`not a duration: ${value}`)
  const n = parseFloat(value)
  return Math.round(n * UNITS[m[2]])
}

export function formatDuration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  if (ms < 60_000) return `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`
  if (ms < 3_600_000) return `${Math.round(ms / 60_000)} min`
  return `${(ms / 3_600_000).toFixed(1)} h`
}

// Traces: what happened to which PR when. The CSV format (`time,pr,kind`) is how real access
// logs and webhook events come in, and how a generated trace goes out (--write-trace).

export const KINDS = ['open', 'push', 'review_requested', 'comment', 'visit', 'close'] as const
export type TraceKind = typeof KINDS[number]

export interface TraceEvent {
  /** ms since epoch */
  at: number
  pr: number
  kind: TraceKind
}

export interface Trace {
  /** Window replayed: [start, end) in ms; task-hours are counted inside it. */
  start: number
  end: number
  events: TraceEvent[]
  /** Where it came from, for the report's title: "generated, seed 1" or the file. */
  source: string
}

/** A CSV trace that cannot be read: `line` is 1-based (the header is line 1). */
export class TraceError extends Error {
  constructor (readonly line: number, message: string, readonly file?: string) {
    super(`${file ?? 'trace'}:${line}: ${message}`)
    this.name = 'TraceError'
  }
}

/** Same-time events replay in this order: a PR opens before it is visited and closes after. */
const ORDER: Record<TraceKind, number> = { open: 0, push: 1, comment: 2, review_requested: 3, visit: 4, close: 5 }

export function sortEvents (events: TraceEvent[]): TraceEvent[] {
  return events.map((e, i) => ({ e, i })).sort((a, b) => a.e.at - b.e.at || ORDER[a.e.kind] - ORDER[b.e.kind] || a.i - b.i).map(x => x.e)
}

/** After the last event of a CSV trace the window runs this much longer, so every policy's idle tail ends inside it. */
export const CSV_TAIL_MS = 2 * 3600_000

/** Splits one CSV line; double-quoted fields may hold commas and "" for a quote. */
function fields (line: string): string[] {
  const out: string[] = []
  let cur = ''
  let quoted = false
  for (let i = 0; i < line.length; i++) {
    const c = line[i]
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') { cur += '"'; i++ } else if (c === '"') quoted = false
      else cur += c
    } else if (c === '"') quoted = true
    else if (c === ',') { out.push(cur); cur = '' } else cur += c
  }
  out.push(cur)
  return out.map(f => f.trim())
}

/** ISO-8601 with a date (and an offset or Z for anything but UTC), or Unix seconds. */
export function parseTime (s: string): number | undefined {
  if (/^\d+(\.\d+)?$/.test(s)) return Math.round(Number(s) * 1000)
  if (!/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/.test(s)) return undefined
  // A date-time without an offset is read as UTC, not as whatever zone this machine is in.
  const iso = s.replace(' ', 'T')
  const ms = Date.parse(/T.*(Z|[+-]\d{2}:?\d{2})$/.test(iso) || !iso.includes('T') ? iso : `${iso}Z`)
  return Number.isNaN(ms) ? undefined : ms
}

export function parseTraceCsv (text: string, file?: string): Trace {
  const lines = text.split(/\r?\n/)
  let header = -1
  while (++header < lines.length && (lines[header].trim() === '' || lines[header].startsWith('#')));
  if (header >= lines.length) throw new TraceError(1, 'empty trace: expected a header line "time,pr,kind"', file)
  const names = fields(lines[header]).map(n => n.toLowerCase())
  const col = (name: string) => {
    const i = names.indexOf(name)
    if (i === -1) throw new TraceError(header + 1, `header has no "${name}" column (expected "time,pr,kind"; extra columns are ignored)`, file)
    return i
  }
  const [ti, pi, ki] = [col('time'), col('pr'), col('kind')]
  const events: TraceEvent[] = []
  for (let n = header + 1; n < lines.length; n++) {
    const raw = lines[n]
    if (raw.trim() === '' || raw.startsWith('#')) continue
    const f = fields(raw)
    const line = n + 1
    const at = parseTime(f[ti] ?? '')
    if (at === undefined) throw new TraceError(line, `time ${JSON.stringify(f[ti] ?? '')} is neither ISO-8601 (2026-03-02T09:15:00Z) nor Unix seconds`, file)
    const prText = f[pi] ?? ''
    if (!/^\d+$/.test(prText) || Number(prText) < 1) throw new TraceError(line, `pr ${JSON.stringify(prText)} is not a positive PR number`, file)
    const kind = f[ki] ?? ''
    if (!(KINDS as readonly string[]).includes(kind)) throw new TraceError(line, `kind ${JSON.stringify(kind)} is not one of ${KINDS.join(', ')}`, file)
    events.push({ at, pr: Number(prText), kind: kind as TraceKind })
  }
  if (events.length === 0) throw new TraceError(header + 1, 'the trace has a header but no events', file)
  const sorted = sortEvents(events)
  return { start: sorted[0].at, end: sorted[sorted.length - 1].at + CSV_TAIL_MS, events: sorted, source: file ?? 'CSV trace' }
}

export function traceToCsv (trace: Trace): string {
  return ['time,pr,kind', ...trace.events.map(e => `${new Date(e.at).toISOString()},${e.pr},${e.kind}`)].join('\n') + '\n'
}

/** What the report's title says about a trace. */
export function traceSummary (trace: Trace): { prs: number, pageViews: number, pushes: number, reviewRequests: number, comments: number, days: number } {
  const prs = new Set(trace.events.map(e => e.pr)).size
  const count = (k: TraceKind) => trace.events.filter(e => e.kind === k).length
  return { prs, pageViews: count('visit'), pushes: count('push'), reviewRequests: count('review_requested'), comments: count('comment'), days: Math.round((trace.end - trace.start) / 86_400_000 * 10) / 10 }
}

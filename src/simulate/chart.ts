// The report as a picture (report.svg): each policy a labelled point, task-hours (as a share of
// always-on) across and cold visits up, the target region shaded; beside it the reviewer
// waits per policy. Plain SVG, no dependency; readable as a file or in a browser.
import type { PolicyReport, Report } from './report.js'

const W = 1040
const H = 700
const FONT = "font-family=\"system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif\""
const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;').replace(/"/g, '&quot;')
const fmt = (x: number) => (Math.round(x * 10) / 10).toString()

/** Upper bound of an axis: a round number above `x`. */
function niceMax (x: number): number {
  for (let mag = 1; mag <= 1e6; mag *= 10) {
    for (const step of [1, 2, 2.5, 5]) if (step * mag >= x) return step * mag
  }
  return x
}

const COLOURS: Record<string, string> = { 'always-on': '#6b7280', adaptive: '#2563eb', 'adaptive-warmup': '#ea580c' }
const colour = (p: PolicyReport) => COLOURS[p.id] ?? (p.id.startsWith('fixed-') ? '#374151' : '#7c3aed')

interface Box { l: number, r: number, t: number, b: number }
type Anchor = 'start' | 'middle' | 'end'
interface Spot { dx: number, dy: number, anchor: Anchor }
/** Where a point's label may go, in order of preference: right, left, above, below, then further out. */
const AROUND: Spot[] = [
  { dx: 12, dy: 5, anchor: 'start' }, { dx: -12, dy: 5, anchor: 'end' }, { dx: 0, dy: -14, anchor: 'middle' }, { dx: 0, dy: 24, anchor: 'middle' },
  { dx: 12, dy: 23, anchor: 'start' }, { dx: 12, dy: -13, anchor: 'start' }, { dx: -12, dy: 23, anchor: 'end' }, { dx: -12, dy: -13, anchor: 'end' },
  { dx: 0, dy: -32, anchor: 'middle' }, { dx: 0, dy: 42, anchor: 'middle' }
]
/** Width of a label: an estimate (no font metrics here) that errs wide. */
const textWidth = (s: string, size: number) => s.length * size * 0.56
function boxOf (x: number, y: number, w: number, size: number, anchor: Anchor): Box {
  const l = anchor === 'start' ? x : anchor === 'end' ? x - w : x - w / 2
  return { l, r: l + w, t: y - size, b: y + size * 0.3 }
}
const area = (a: Box) => (a.r - a.l) * (a.b - a.t)
const overlapArea = (a: Box, b: Box) => Math.max(0, Math.min(a.r, b.r) - Math.max(a.l, b.l)) * Math.max(0, Math.min(a.b, b.b) - Math.max(a.t, b.t))

/** Targets: at most this share of always-on's task-hours, at most this share of cold visits. */
const TARGET_HOURS = 0.1
const TARGET_COLD = 0.05

export function reportSvg (r: Report): string {
  const out: string[] = []
  const t = r.trace
  const visits = r.policies[0]?.visits ?? 0
  out.push(`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" ${FONT}>`)
  out.push(`<rect width="${W}" height="${H}" fill="#ffffff"/>`)
  out.push(`<text x="32" y="40" font-size="22" font-weight="600" fill="#111827">Idle policies on ${t.prs} PRs over ${t.days} days (seed ${r.seed})</text>`)
  out.push(`<text x="32" y="64" font-size="14" fill="#4b5563">${esc(`${visits} visits (${t.pageViews} page views), ${t.pushes} pushes, ${t.reviewRequests} review requests · ${t.source}`)}</text>`)
  out.push(`<text x="32" y="84" font-size="14" fill="#4b5563">${esc(`start phases: ${r.phases} · ${r.cost.size.vcpu} vCPU / ${r.cost.size.memoryGb} GB on ${r.cost.capacity}`)}</text>`)

  // Scatter: x = task-hours as % of always-on, y = cold visits %.
  const px = { left: 90, right: 620, top: 110, bottom: 540 }
  const pts = r.policies.filter(p => p.ofAlwaysOn !== null && p.id !== 'always-on')
  const always = r.policies.find(p => p.id === 'always-on')
  const xMax = niceMax(Math.max(TARGET_HOURS * 100 * 1.5, ...pts.map(p => p.ofAlwaysOn! * 100 * 1.15)))
  const yMax = niceMax(Math.max(TARGET_COLD * 100 * 1.6, ...r.policies.map(p => p.coldShare * 100 * 1.15)))
  const X = (v: number) => px.left + (Math.min(v, xMax) / xMax) * (px.right - px.left)
  const Y = (v: number) => px.bottom - (v / yMax) * (px.bottom - px.top)
  out.push(`<rect x="${px.left}" y="${px.top}" width="${px.right - px.left}" height="${px.bottom - px.top}" fill="#f9fafb" stroke="#d1d5db"/>`)
  out.push(`<rect x="${px.left}" y="${Y(TARGET_COLD * 100)}" width="${X(TARGET_HOURS * 100) - px.left}" height="${px.bottom - Y(TARGET_COLD * 100)}" fill="#16a34a" fill-opacity="0.14" stroke="#16a34a" stroke-dasharray="4 3"/>`)
  out.push(`<rect x="${px.left + 10}" y="${px.top + 10}" width="14" height="14" fill="#16a34a" fill-opacity="0.14" stroke="#16a34a" stroke-dasharray="4 3"/>`)
  out.push(`<text x="${px.left + 30}" y="${px.top + 22}" font-size="13" fill="#15803d">target: ≤ ${TARGET_HOURS * 100}% of always-on's task-hours and ≤ ${TARGET_COLD * 100}% cold</text>`)
  for (let i = 0; i <= 5; i++) {
    const xv = (xMax / 5) * i
    const yv = (yMax / 5) * i
    out.push(`<line x1="${X(xv)}" y1="${px.top}" x2="${X(xv)}" y2="${px.bottom}" stroke="#e5e7eb"/>`)
    out.push(`<text x="${X(xv)}" y="${px.bottom + 20}" font-size="13" fill="#4b5563" text-anchor="middle">${fmt(xv)}%</text>`)
    out.push(`<line x1="${px.left}" y1="${Y(yv)}" x2="${px.right}" y2="${Y(yv)}" stroke="#e5e7eb"/>`)
    out.push(`<text x="${px.left - 8}" y="${Y(yv) + 4}" font-size="13" fill="#4b5563" text-anchor="end">${fmt(yv)}%</text>`)
  }
  out.push(`<text x="${(px.left + px.right) / 2}" y="${px.bottom + 46}" font-size="15" fill="#111827" text-anchor="middle">task-hours, % of always-on (left is cheaper)</text>`)
  out.push(`<text transform="translate(${px.left - 56} ${(px.top + px.bottom) / 2}) rotate(-90)" font-size="15" fill="#111827" text-anchor="middle">visits that landed on a cold wake (lower is better)</text>`)

  // The fixed timeouts as one trade-off curve.
  const fixed = pts.filter(p => p.id.startsWith('fixed-'))
  if (fixed.length > 1) out.push(`<polyline points="${fixed.map(p => `${X(p.ofAlwaysOn! * 100)},${Y(p.coldShare * 100)}`).join(' ')}" fill="none" stroke="#9ca3af" stroke-width="2" stroke-dasharray="6 4"/>`)
  // Points first, then each label at the first spot around its point that covers no point,
  // no label placed before it and not the target's legend, inside the plot.
  const marks = pts.map(p => ({ p, x: X(p.ofAlwaysOn! * 100), y: Y(p.coldShare * 100), big: !p.id.startsWith('fixed-') }))
  const taken: Box[] = marks.map(m => ({ l: m.x - 9, r: m.x + 9, t: m.y - 9, b: m.y + 9 }))
  taken.push({ l: px.left, r: px.left + 400, t: px.top, b: px.top + 30 }, { l: px.left, r: X(TARGET_HOURS * 100), t: Y(TARGET_COLD * 100), b: px.bottom })
  const inside: Box = { l: px.left + 2, r: px.right - 2, t: px.top + 2, b: px.bottom - 2 }
  // The spot covering the least (nothing, usually); outside the plot counts as covered.
  const place = (text: string, x: number, y: number, size: number, spots: Spot[]): { x: number, y: number, anchor: Anchor } => {
    const w = textWidth(text, size)
    const cost = (s: Spot) => {
      const box = boxOf(x + s.dx, y + s.dy, w, size, s.anchor)
      return (area(box) - overlapArea(box, inside)) * 2 + taken.reduce((n, o) => n + overlapArea(o, box), 0)
    }
    let best = spots[0]
    let least = Infinity
    for (const s of spots) {
      const c = cost(s)
      if (c < least) { least = c; best = s }
      if (c === 0) break
    }
    taken.push(boxOf(x + best.dx, y + best.dy, w, size, best.anchor))
    return { x: x + best.dx, y: y + best.dy, anchor: best.anchor }
  }
  for (const m of marks) out.push(`<circle cx="${m.x}" cy="${m.y}" r="${m.big ? 8 : 6}" fill="${colour(m.p)}" stroke="#fff" stroke-width="2"/>`)
  for (const m of [...marks].sort((a, b) => Number(b.big) - Number(a.big))) {
    const text = m.p.label
    const at = place(text, m.x, m.y, 14, AROUND)
    out.push(`<text x="${at.x}" y="${at.y}" font-size="14" font-weight="${m.big ? 600 : 400}" fill="${colour(m.p)}" text-anchor="${at.anchor}">${esc(text)}</text>`)
  }
  if (always) {
    const y = Y(always.coldShare * 100)
    const text = `always on: 100% (${fmt(always.taskHours)} task-hours), ${fmt(always.coldShare * 100)}% cold →`
    out.push(`<path d="M ${px.right - 14} ${y - 7} L ${px.right - 2} ${y} L ${px.right - 14} ${y + 7} Z" fill="${COLOURS['always-on']}"/>`)
    const at = place(text, px.right - 20, y, 14, [0, 1, 2, 3, 4, 5].map(k => ({ dx: 0, dy: -10 - 18 * k, anchor: 'end' as const })))
    out.push(`<text x="${at.x}" y="${at.y}" font-size="14" fill="${COLOURS['always-on']}" text-anchor="end">${esc(text)}</text>`)
  }

  // Per policy: its numbers, and its reviewer wait as a bar (p95, with p50 inside).
  const bx = { left: 670, right: 1010, top: 122, row: 58 }
  const maxWait = niceMax(Math.max(10, ...r.policies.map(p => p.waitP95Ms / 1000)))
  const BX = (s: number) => bx.left + (s / maxWait) * (bx.right - bx.left)
  out.push(`<text x="${bx.left}" y="${px.top + 2}" font-size="15" font-weight="600" fill="#111827">Per policy</text>`)
  out.push(`<text x="${bx.right}" y="${px.top + 2}" font-size="12" fill="#4b5563" text-anchor="end">hours: % of always-on's task-hours</text>`)
  r.policies.forEach((p, i) => {
    const y = bx.top + i * bx.row
    const hours = p.ofAlwaysOn === null ? `${fmt(p.taskHours)} task-hours` : `${fmt(p.ofAlwaysOn * 100)}% hours`
    out.push(`<text x="${bx.left}" y="${y + 14}" font-size="13" font-weight="600" fill="${colour(p)}">${esc(p.label)}</text>`)
    out.push(`<text x="${bx.right}" y="${y + 14}" font-size="13" fill="#111827" text-anchor="end">${esc(`${hours} · ${fmt(p.coldShare * 100)}% cold`)}</text>`)
    out.push(`<rect x="${bx.left}" y="${y + 20}" width="${Math.max(1, BX(p.waitP95Ms / 1000) - bx.left)}" height="16" fill="${colour(p)}" fill-opacity="0.35"/>`)
    out.push(`<rect x="${bx.left}" y="${y + 24}" width="${Math.max(1, BX(p.waitP50Ms / 1000) - bx.left)}" height="8" fill="${colour(p)}"/>`)
    out.push(`<text x="${bx.left}" y="${y + 50}" font-size="12" fill="#4b5563">${esc(`wait p50 ${fmt(p.waitP50Ms / 1000)} s · p95 ${fmt(p.waitP95Ms / 1000)} s`)}</text>`)
  })
  const by = bx.top + r.policies.length * bx.row + 2
  out.push(`<line x1="${bx.left}" y1="${by}" x2="${bx.right}" y2="${by}" stroke="#9ca3af"/>`)
  for (let i = 0; i <= 4; i++) out.push(`<text x="${BX((maxWait / 4) * i)}" y="${by + 16}" font-size="12" fill="#4b5563" text-anchor="middle">${fmt((maxWait / 4) * i)} s</text>`)

  // Targets, met or not, under the bars.
  let ty = by + 52
  out.push(`<text x="${bx.left}" y="${ty}" font-size="15" font-weight="600" fill="#111827">Targets (adaptive + warm-up)</text>`)
  for (const tg of r.targets) {
    ty += 22
    out.push(`<text x="${bx.left}" y="${ty}" font-size="13" fill="${tg.met ? '#15803d' : '#b91c1c'}">${tg.met ? '✔' : '✘'} ${esc(tg.short)}</text>`)
  }
  const notes = [
    'Each policy replays the same trace against wakegate\'s own lifecycle code (manager,',
    'idle policy, warm-ups) on a virtual clock. A visit is cold when it found the env not',
    'running and waited for a start; its wait runs from the page view until it was served.'
  ]
  notes.forEach((n, i) => out.push(`<text x="32" y="${H - 58 + i * 17}" font-size="12" fill="#6b7280">${esc(n)}</text>`))
  out.push('</svg>')
  return out.join('\n') + '\n'
}

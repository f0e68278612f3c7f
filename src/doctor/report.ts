// Doctor's results for people (a table, each fix under its check) and for scripts (JSON).
import type { Check, Status } from './check.js'

const MAX_CHECK_WIDTH = 44

export function failed (checks: Check[]): boolean {
  return checks.some(c => c.status === 'fail')
}

export function table (checks: Check[]): string {
  const width = Math.min(MAX_CHECK_WIDTH, Math.max(5, ...checks.map(c => c.title.length)))
  const statusWidth = 6
  const indent = ' '.repeat(width + 2 + statusWidth + 2)
  const lines = [`${'CHECK'.padEnd(width)}  ${'STATUS'.padEnd(statusWidth)}  DETAIL`]
  for (const c of checks) {
    lines.push(`${c.title.padEnd(width)}  ${c.status.padEnd(statusWidth)}  ${c.detail}`)
    if (c.fix && (c.status === 'fail' || c.status === 'warn')) lines.push(`${indent}fix: ${c.fix}`)
  }
  const count = (s: Status) => checks.filter(c => c.status === s).length
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`
  lines.push('', `${count('ok')} ok, ${plural(count('warn'), 'warning')}, ${count('fail')} failed, ${count('skip')} skipped`)
  return lines.join('\n') + '\n'
}

export function json (checks: Check[]): string {
  return JSON.stringify({ ok: !failed(checks), checks }, null, 2) + '\n'
}

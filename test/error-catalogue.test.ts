// The error catalogue is the only mapping from a code to a status: every code in it is
// produced somewhere in src/, no code is answered that is not in it, and the README's table
// says the same status for each.
import t from 'tap'
import { readFileSync, readdirSync } from 'node:fs'
import { join, relative } from 'node:path'
import { catalogue } from '../src/errors.js'
import { ROOT } from './support/harness.js'

function sources (dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap(d => d.isDirectory() ? sources(join(dir, d.name)) : d.name.endsWith('.ts') ? [join(dir, d.name)] : [])
}

/** Source text without comments, so a code mentioned only in a comment does not count. */
function code (file: string): string {
  return readFileSync(file, 'utf8').replace(/\/\*[^]*?\*\//g, '').replace(/(^|[^:'"`])\/\/.*$/gm, '$1')
}

const files = sources(join(ROOT, 'src')).map(f => ({ path: relative(ROOT, f), text: code(f) }))
const producers = files.filter(f => f.path !== 'src/errors.ts')

t.test('every code in the catalogue is produced by some path in src/', async t => {
  for (const c of Object.keys(catalogue)) {
    const at = producers.filter(f => f.text.includes(`'${c}'`) || f.text.includes(`"${c}"`)).map(f => f.path)
    t.ok(at.length > 0, `${c} is produced${at.length ? ` (${at.join(', ')})` : ': nothing produces it — wire it or remove it'}`)
  }
})

t.test('no response names an error code outside the catalogue or builds its own error body', async t => {
  for (const f of producers) {
    if (f.path === 'src/proxy/error-response.ts') continue
    for (const m of f.text.matchAll(/\berror:\s*['"`]([^'"`]+)['"`]/g)) t.fail(`${f.path} answers its own error body (${m[1]}); use the catalogue through error-response.ts`)
  }
  for (const spec of Object.values(catalogue)) {
    t.ok(spec.status >= 400 && spec.status < 600, `status ${spec.status} is an error status`)
    t.ok(spec.message.length > 0)
  }
})

t.test('the README\'s error table lists every code with its status', async t => {
  const readme = readFileSync(join(ROOT, 'README.md'), 'utf8')
  const rows = new Map([...readme.matchAll(/^\| `(WAKEGATE_[A-Z_]+)` \| (\d{3}) \|/gm)].map(m => [m[1], Number(m[2])]))
  for (const [c, spec] of Object.entries(catalogue)) t.equal(rows.get(c), spec.status, `${c}: ${spec.status}`)
  for (const c of rows.keys()) t.ok(c in catalogue, `${c} in the README is in the catalogue`)
})

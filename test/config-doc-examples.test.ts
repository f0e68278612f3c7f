// Every configuration the project shows people passes `wakegate check-config`: each ```yaml
// block of README.md and every examples/**/*.yaml|yml file, run through the real CLI.
//
// Completion rules (the only ones; anything else fails the test rather than being skipped):
// - a whole config (a mapping with `apps`) is checked as written;
// - a single app (a mapping with `name`, `host` and `backend`) is checked as the one app of
//   an otherwise empty config, since every other top-level key has a default.
// `${VAR}` references are set to dummy values: a PEM-shaped one for private keys, a
// 24-character string otherwise (long enough for tokens and webhook secrets).
import t from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, relative } from 'node:path'
import { parse, stringify } from 'yaml'
import { ROOT } from './support/harness.js'

interface Example { source: string, text: string, file?: string }

function readmeBlocks (): Example[] {
  const lines = readFileSync(join(ROOT, 'README.md'), 'utf8').split('\n')
  const out: Example[] = []
  for (let i = 0; i < lines.length; i++) {
    if (lines[i].trim() !== '```yaml') continue
    const start = i + 1
    let end = start
    while (end < lines.length && lines[end].trim() !== '```') end++
    out.push({ source: `README.md:${start}`, text: lines.slice(start, end).join('\n') + '\n' })
    i = end
  }
  return out
}

function exampleFiles (dir = join(ROOT, 'examples')): Example[] {
  const out: Example[] = []
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, e.name)
    if (e.isDirectory()) out.push(...exampleFiles(path))
    else if (/\.ya?ml$/.test(e.name)) out.push({ source: relative(ROOT, path), text: readFileSync(path, 'utf8'), file: path })
  }
  return out
}

const PEM = '-----BEGIN PRIVATE KEY-----\nZHVtbXkga2V5IGZvciBjaGVjay1jb25maWc=\n-----END PRIVATE KEY-----\n'

/** access.sessionKey: 32 bytes as hex. */
const SESSION_KEY = '0123456789abcdef'.repeat(4)
/** access.basic.users: an argon2id hash (of "example"). */
const PASSWORD_HASH = '$argon2id$v=19$m=19456,t=2,p=1$91X293PJ+doFETwVguxz6g$3i7uyO9XnG3MEQuXCCtANus/bZyBE63m244m80QTT6o'

const TOP_LEVEL = new Set(['listen', 'public', 'admin', 'store', 'log', 'workers', 'proxy', 'github'])

function dummyEnv (text: string): Record<string, string> {
  const env: Record<string, string> = {}
  for (const m of text.matchAll(/\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-[^}]*)?\}/g)) {
    env[m[1]] = /SESSION_KEY$/.test(m[1]) ? SESSION_KEY : /_HASH$/.test(m[1]) ? PASSWORD_HASH : /PRIVATE_KEY|_KEY$/.test(m[1]) ? PEM : /REDIS_URL$/.test(m[1]) ? 'redis://dummy.invalid:6379' : 'dummy-value-0123456789ab'
  }
  return env
}

/** The file check-config reads, or why this example cannot be checked. */
function asConfig (ex: Example, dir: string, n: number): { file: string } | { problem: string } {
  let doc: unknown
  try { doc = parse(ex.text) } catch (err) { return { problem: `not YAML: ${(err as Error).message}` } }
  if (!doc || typeof doc !== 'object' || Array.isArray(doc)) return { problem: 'top level is not a mapping' }
  const keys = Object.keys(doc)
  if (keys.includes('apps')) {
    if (ex.file) return { file: ex.file } // in place, so relative paths resolve as they will for users
    const file = join(dir, `example-${n}.yaml`)
    writeFileSync(file, ex.text)
    return { file }
  }
  if (['name', 'host', 'backend'].every(k => keys.includes(k))) {
    const file = join(dir, `example-${n}.yaml`)
    writeFileSync(file, stringify({ apps: [doc] }))
    return { file }
  }
  if (keys.every(k => TOP_LEVEL.has(k))) {
    // A section of the config (e.g. `store:`): checked inside a minimal config.
    const file = join(dir, `example-${n}.yaml`)
    writeFileSync(file, stringify({ ...doc, apps: [{ name: 'web', host: 'pr-{pr}.review.example.com', backend: { kind: 'local', command: 'node server.js' } }] }))
    return { file }
  }
  return { problem: `neither a whole config (no "apps"), one app, nor config sections (top-level keys: ${keys.join(', ')})` }
}

function checkConfig (file: string, env: Record<string, string>): Promise<{ code: number | null, out: string }> {
  // Only the example's own variables: WAKEGATE_* overrides from the caller's shell would change what is checked.
  const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('WAKEGATE_')))
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'check-config', '--config', file], {
      cwd: ROOT, env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe']
    })
    let out = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { out += d })
    child.on('error', reject)
    child.on('close', code => resolve({ code, out }))
  })
}

t.test('every YAML example in README.md and examples/ passes check-config', async t => {
  const readme = readmeBlocks()
  const files = exampleFiles()
  t.ok(readme.length >= 3, `README.md has YAML examples (found ${readme.length})`)
  t.ok(files.length >= 2, `examples/ has config files (found ${files.length})`)
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-doc-examples-'))
  await Promise.all([...readme, ...files].map(async (ex, n) => {
    const cfg = asConfig(ex, dir, n)
    if ('problem' in cfg) {
      t.fail(`${ex.source} cannot be checked: ${cfg.problem}`)
      return
    }
    const r = await checkConfig(cfg.file, dummyEnv(ex.text))
    t.equal(r.code, 0, `${ex.source}: check-config exit code`, { output: r.out })
    t.match(r.out, /: ok\n/, `${ex.source} is a valid config`)
  }))
})

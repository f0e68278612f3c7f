// The package's entry points (main, types, exports) name files `npm run build` emits, and
// the entry module offers the public API. Building takes the better part of a minute here,
// so the test reads what the build config emits (`tsc --showConfig`: rootDir → outDir,
// declarations on) and imports the source the build compiles into `main`.
import t from 'tap'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { join, relative, resolve } from 'node:path'
import { request } from 'undici'
import { ROOT, exampleApp } from './support/harness.js'

const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8'))
const build = JSON.parse(execFileSync(process.execPath, [join(ROOT, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.build.json', '--showConfig'], { cwd: ROOT, encoding: 'utf8' })).compilerOptions
const outDir = resolve(ROOT, build.outDir)
const rootDir = resolve(ROOT, build.rootDir)

/** The source file the build turns into this output file, if any. */
function sourceOf (out: string): string | undefined {
  const abs = resolve(ROOT, out)
  const rel = relative(outDir, abs)
  if (rel.startsWith('..')) return undefined
  const src = join(rootDir, rel.replace(/\.d\.ts$|\.js$/, '.ts'))
  return existsSync(src) ? src : undefined
}

t.test('main, types and exports name files the build emits', async t => {
  t.equal(build.declaration, true, 'the build emits declarations')
  const entries = {
    main: pkg.main,
    types: pkg.types,
    'exports["."].default': pkg.exports?.['.']?.default,
    'exports["."].types': pkg.exports?.['.']?.types
  }
  for (const [field, file] of Object.entries(entries)) {
    t.type(file, 'string', `package.json ${field} is set`)
    t.ok(sourceOf(file), `${field} (${file}) is emitted from a source file`)
  }
  t.equal(resolve(ROOT, pkg.main), resolve(ROOT, pkg.exports['.'].default), 'main and exports agree')
  t.ok(/\.d\.ts$/.test(pkg.types) && sourceOf(pkg.types) === sourceOf(pkg.main), 'types are the main module\'s declarations')
  t.equal(pkg.exports['./package.json'], './package.json')
  t.equal(sourceOf(pkg.bin.wakegate), join(rootDir, 'cli.ts'), 'the bin is the CLI')
})

t.test('the entry module offers the public API, enough to run a gateway', async t => {
  const api = await import(sourceOf(pkg.main)!)
  for (const fn of ['createWakegate', 'loadConfigFile', 'parseConfigText', 'validateConfig', 'createBackend']) t.type(api[fn], 'function', fn)
  for (const cls of ['MemoryStore', 'BackendError', 'ConfigError', 'WakegateError']) t.type(api[cls], 'function', cls)
  t.type(api.ConfigSchema, 'object')

  const config = api.validateConfig({
    listen: { host: '127.0.0.1', port: 0 },
    admin: { enabled: false },
    log: { level: 'silent' },
    apps: [exampleApp()]
  }, {}, ROOT)
  const wg = await api.createWakegate(config, { store: new api.MemoryStore() })
  t.teardown(() => wg.close())
  await wg.listen()
  const res = await request(`${wg.url}/info`, { headers: { host: 'pr-1.review.test' } })
  t.equal(res.statusCode, 200)
  t.equal(JSON.parse(await res.body.text()).pr, '1')
  t.throws(() => api.validateConfig({ apps: [] }, {}), api.ConfigError)
})

// The npm package as users get it: `npm pack` (which builds), installed from the tarball
// into an empty project, and the `wakegate` bin run through npx from there.
import t from 'tap'
import { execFile } from 'node:child_process'
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { ROOT } from './support/harness.js'

const run = promisify(execFile)
const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const npx = process.platform === 'win32' ? 'npx.cmd' : 'npx'

async function exec (cmd: string, args: string[], cwd: string): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await run(cmd, args, { cwd, maxBuffer: 16 << 20, env: { ...process.env, npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' } })
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code?: number, stdout?: string, stderr?: string }
    return { code: typeof e.code === 'number' ? e.code : -1, stdout: e.stdout ?? '', stderr: e.stderr ?? '' }
  }
}

t.test('npm pack, install the tarball, run the bin', { timeout: 600_000 }, async t => {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-pack-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))

  const packed = await exec(npm, ['pack', '--json', '--pack-destination', dir], ROOT)
  t.equal(packed.code, 0, `npm pack: ${packed.stderr.slice(-2000)}`)
  const [info] = JSON.parse(packed.stdout.slice(packed.stdout.indexOf('['))) as Array<{ filename: string, files: Array<{ path: string }> }>
  const files = info.files.map(f => f.path)
  t.ok(files.includes('dist/cli.js'), 'the bin is in the package')
  t.ok(files.includes('dist/index.d.ts'), 'the types are in the package')
  t.ok(files.includes('schema/wakegate.schema.json'), 'the JSON Schema is in the package')
  t.ok(files.includes('examples/wakegate.yaml'), 'the example config is in the package')
  t.ok(files.includes('deploy/wakegate.template.json'), 'the CloudFormation template is in the package')
  t.same(files.filter(f => /^(test|bench|src|scripts)\/|\.ts$/.test(f) && !f.endsWith('.d.ts')), [], 'no sources, tests or benchmarks')

  const project = join(dir, 'project')
  await exec('mkdir', ['-p', project], dir)
  writeFileSync(join(project, 'package.json'), JSON.stringify({ name: 'uses-wakegate', version: '1.0.0', private: true }))
  // The cache holds every dependency after `npm ci`; the registry is asked only for what it lacks.
  const installed = await exec(npm, ['install', '--prefer-offline', '--no-audit', '--no-fund', join(dir, info.filename)], project)
  t.equal(installed.code, 0, `npm install of the tarball: ${installed.stderr.slice(-2000)}`)
  t.ok(readdirSync(join(project, 'node_modules/.bin')).includes('wakegate'), 'the bin is linked')

  const help = await exec(npx, ['--no-install', 'wakegate', '--help'], project)
  t.equal(help.code, 0, `npx wakegate --help: ${help.stderr}`)
  t.match(help.stdout, /usage: wakegate <command>/)
  t.match(help.stdout, /check-config/)
  t.match(help.stdout, /doctor/)

  const example = join(project, 'node_modules/wakegate/examples/wakegate.yaml')
  const ok = await exec(npx, ['--no-install', 'wakegate', 'check-config', '--config', example], project)
  t.equal(ok.code, 0, `check-config of the packaged example: ${ok.stderr}`)
  t.match(ok.stdout, /: ok\n/)
  t.match(ok.stdout, /app example: pr-\{pr\}\.localhost/)

  writeFileSync(join(project, 'bad.yaml'), 'apps:\n  - name: Bad_Name\n    host: pr-{pr}.example.com\n    backend: { kind: local, command: "true" }\n')
  const bad = await exec(npx, ['--no-install', 'wakegate', 'check-config', '--config', 'bad.yaml'], project)
  t.equal(bad.code, 2, 'bad config exits 2')
  t.match(bad.stderr, /apps\[0\]\.name/, 'with the field path')
})

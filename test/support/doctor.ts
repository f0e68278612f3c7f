// Running `wakegate doctor` as users do (the real CLI in a child process, so the fakes keep
// serving in the test process) and the ECS fake set up the way the doctor tests need it.
import type { Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ECSClient, RunTaskCommand } from '@aws-sdk/client-ecs'
import { ROOT, waitFor } from './harness.js'
import { FakeAws, type FakeAwsOptions } from './fake-aws/index.js'
import { ecsApp } from './fake-aws/app.js'
import type { Check } from '../../src/doctor/index.js'

export interface DoctorRun { code: number | null, out: string, err: string, checks: Check[], get: (id: string) => Check }

/** `wakegate doctor -c <config> [--json]`; config files go to a temp dir removed after `t`. */
export function doctorRunner (t: Test): (config: unknown, opts?: { json?: boolean, env?: Record<string, string> }) => Promise<DoctorRun> {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-doctor-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  return async (config, opts = {}) => {
    const file = join(dir, `c${Math.random().toString(36).slice(2)}.yaml`)
    writeFileSync(file, typeof config === 'string' ? config : JSON.stringify(config))
    const args = ['--import=tsx', join(ROOT, 'src/cli.ts'), 'doctor', ...(opts.env?.WAKEGATE_CONFIG_YAML ? [] : ['-c', file]), ...(opts.json === false ? [] : ['--json'])]
    const child = spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', d => { out += d })
    child.stderr.on('data', d => { err += d })
    const code = await new Promise<number | null>(resolve => child.once('exit', resolve))
    const checks: Check[] = opts.json === false ? [] : JSON.parse(out || '{"checks":[]}').checks
    const get = (id: string) => {
      const c = checks.find(x => x.id === id)
      if (!c) throw new Error(`no check ${id} in: ${checks.map(x => x.id).join(', ')}\n${err}`)
      return c
    }
    return { code, out, err, checks, get }
  }
}

/** One ecs app on the fake's cluster. */
export function ecsConfig (fake: FakeAws, backend: Record<string, unknown> = {}, app: Record<string, unknown> = {}) {
  return { log: { level: 'silent' }, apps: [ecsApp(fake, app, backend)] }
}

export async function fakeAwsFor (t: Test, opts: FakeAwsOptions = {}): Promise<FakeAws> {
  const fake = await FakeAws.start(opts)
  t.teardown(() => fake.close())
  return fake
}

/** A RUNNING task of the example app, started as the gateway starts them. */
export async function runningTask (fake: FakeAws, taskDefinition = 'web'): Promise<string> {
  const ecs = new ECSClient({ region: 'us-east-1', endpoint: fake.url })
  const out = await ecs.send(new RunTaskCommand({
    cluster: 'review',
    taskDefinition,
    startedBy: 'wakegate',
    tags: [{ key: 'wakegate:app', value: 'example' }, { key: 'wakegate:pr', value: '1' }]
  }))
  ecs.destroy()
  const arn = out.tasks![0].taskArn!
  await waitFor(() => fake.task(arn).lastStatus === 'RUNNING', 10_000, 'the task to run')
  return arn
}

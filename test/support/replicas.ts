// Several gateway replicas as real processes (`wakegate serve`) on one real redis-server,
// each with its own config file (its own admin port), sharing a local task dir.
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, readdirSync, writeFileSync, existsSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import { stringify } from 'yaml'
import { EXAMPLE_APP, ROOT, waitFor } from './harness.js'
import { freePort, startRedis, type RedisServer } from './redis.js'

export interface ReplicaProcess {
  name: string
  child: ChildProcess
  exited: Promise<number | null>
  url: string
  adminUrl: string
  output: () => string
}

export interface ReplicaSet {
  redis: RedisServer
  dir: string
  /** Where the local backend records its tasks (one JSON file per live task). */
  taskDir: string
  /** One line per task start ("<pr> <pid>"), written by the task command. */
  startsFile: string
  replicas: ReplicaProcess[]
  spawn (name: string): Promise<ReplicaProcess>
  /** Lines of the starts file. */
  starts (): string[]
  /** Live tasks by their records. */
  tasks (): Array<{ pid: number, port: number, ref: { pr: number, generation: number } }>
  /** healthz of a replica: { ok, leader, store }. */
  health (r: ReplicaProcess): Promise<{ ok: boolean, leader: boolean, store: boolean } | undefined>
  leader (): Promise<ReplicaProcess>
  close (): Promise<void>
}

export interface ReplicaSetOptions {
  /** Fields of the app (over the example app on the local backend, any PR). */
  app?: Record<string, unknown>
  /** Extra top-level config. */
  config?: Record<string, unknown>
  leaseTtl?: string
  /** The app's backend, instead of the example app on the local backend. */
  backend?: Record<string, unknown>
}

export async function startReplicaSet (opts: ReplicaSetOptions = {}): Promise<ReplicaSet> {
  const redis = await startRedis()
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-replicas-'))
  const taskDir = join(dir, 'tasks')
  const startsFile = join(dir, 'starts.log')
  const command = `echo "$PR_NUMBER $$" >> ${JSON.stringify(startsFile)}; exec node ${JSON.stringify(EXAMPLE_APP)}`
  const replicas: ReplicaProcess[] = []

  const set: ReplicaSet = {
    redis,
    dir,
    taskDir,
    startsFile,
    replicas,
    async spawn (name) {
      const adminPort = await freePort()
      const file = join(dir, `${name}.yaml`)
      writeFileSync(file, stringify({
        listen: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: adminPort },
        log: { level: 'info' },
        store: { kind: 'redis', url: redis.url, keyPrefix: `t${redis.port}:`, leaseTtl: opts.leaseTtl ?? '1s', resyncInterval: '5s' },
        ...opts.config,
        apps: [{
          name: 'example',
          host: 'pr-{pr}.review.test',
          health: { path: '/healthz' },
          anyPr: true,
          idleTimeout: '10m',
          holdTimeout: '30s',
          startTimeout: '20s',
          ...opts.app,
          backend: opts.backend ?? { kind: 'local', command, stopGrace: '2s', taskDir }
        }]
      }))
      const child = spawn(process.execPath, ['--import=tsx', join(ROOT, 'src/cli.ts'), 'serve', '--config', file], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'], env: process.env })
      let out = ''
      child.stdout!.on('data', d => { out += d })
      child.stderr!.on('data', d => { out += d })
      const exited = new Promise<number | null>(resolve => child.once('exit', code => resolve(code)))
      const url = await waitFor(() => /"url":"(http:\/\/[^"]+)","replica"/.exec(out)?.[1], 30_000, `replica ${name} listening`)
      const r: ReplicaProcess = { name, child, exited, url: url!, adminUrl: `http://127.0.0.1:${adminPort}`, output: () => out }
      replicas.push(r)
      return r
    },
    starts () {
      return existsSync(startsFile) ? readFileSync(startsFile, 'utf8').split('\n').filter(Boolean) : []
    },
    tasks () {
      if (!existsSync(taskDir)) return []
      return readdirSync(taskDir).filter(f => f.endsWith('.json')).flatMap(f => {
        try { return [JSON.parse(readFileSync(join(taskDir, f), 'utf8'))] } catch { return [] }
      }).filter(r => { try { process.kill(r.pid, 0); return true } catch { return false } })
    },
    async health (r) {
      try {
        const res = await request(`${r.url}/__wakegate/healthz`, { headers: { host: 'gateway.test' } })
        return await res.body.json() as { ok: boolean, leader: boolean, store: boolean }
      } catch { return undefined }
    },
    async leader () {
      return (await waitFor(async () => {
        const live = replicas.filter(r => r.child.exitCode === null && r.child.signalCode === null)
        const hs = await Promise.all(live.map(r => set.health(r)))
        const leaders = live.filter((_r, i) => hs[i]?.leader)
        return leaders.length === 1 ? leaders[0] : undefined
      }, 20_000, 'one leader'))!
    },
    async close () {
      for (const r of replicas) if (r.child.exitCode === null && r.child.signalCode === null) r.child.kill('SIGKILL')
      await Promise.all(replicas.map(r => r.exited))
      // Tasks outlive replicas by design (the next leader adopts them): stop what is left.
      for (const t of set.tasks()) { try { process.kill(-t.pid, 'SIGKILL') } catch {} }
      await redis.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }
  return set
}

/** A set with replicas a and b running and their leader chosen; closed at the test's end. */
export async function twoReplicas (t: { teardown: (fn: () => Promise<void>) => void }, opts: ReplicaSetOptions = {}): Promise<{ set: ReplicaSet, a: ReplicaProcess, b: ReplicaProcess, leader: ReplicaProcess, follower: ReplicaProcess }> {
  const set = await startReplicaSet(opts)
  t.teardown(() => set.close())
  const a = await set.spawn('a')
  const b = await set.spawn('b')
  const leader = await set.leader()
  return { set, a, b, leader, follower: leader === a ? b : a }
}

/** GET through a replica with the env's Host. */
export async function get (r: { url: string }, path: string, pr = 1, dispatcher?: import('undici').Dispatcher): Promise<{ status: number, body: string, headers: Record<string, string | string[] | undefined> }> {
  const res = await request(`${r.url}${path}`, { headers: { host: `pr-${pr}.review.test`, accept: 'application/json' }, dispatcher })
  return { status: res.statusCode, body: await res.body.text(), headers: res.headers }
}

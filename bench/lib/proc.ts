// Processes under test: started pinned to the "server" core (the load generator gets the
// other one), announced over IPC, sampled for RSS, and always stopped on the way out.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { readFileSync, readdirSync } from 'node:fs'
import { availableParallelism } from 'node:os'
import { connect } from 'node:net'

export interface Pinning {
  /** taskset found and more than one CPU: pinning is on. */
  enabled: boolean
  cpus: number
  loadCpu: string
  serverCpu: string
  note: string
}

function has (cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0
}

let pinning: Pinning | undefined

export function detectPinning (): Pinning {
  if (pinning) return pinning
  const cpus = availableParallelism()
  const taskset = has('taskset')
  if (!taskset) pinning = { enabled: false, cpus, loadCpu: '', serverCpu: '', note: 'taskset not found: processes not pinned (numbers are noisier)' }
  else if (cpus < 2) pinning = { enabled: false, cpus, loadCpu: '', serverCpu: '', note: 'one CPU: load generator and servers share it' }
  else pinning = { enabled: true, cpus, loadCpu: '0', serverCpu: '1', note: 'load generator on CPU 0, servers and upstreams on CPU 1' }
  return pinning
}

/** The command line that runs `cmd` on the load or server core (unchanged when pinning is off). */
export function pinned (role: 'load' | 'server', cmd: string, args: string[]): [string, string[]] {
  const p = detectPinning()
  if (!p.enabled) return [cmd, args]
  return ['taskset', ['-c', role === 'load' ? p.loadCpu : p.serverCpu, cmd, ...args]]
}

/** Pins this process (the runner, which is also a load generator for some sections). */
export function pinSelf (): void {
  const p = detectPinning()
  if (p.enabled) spawnSync('taskset', ['-a', '-p', '-c', p.loadCpu, String(process.pid)], { stdio: 'ignore' })
}

const children = new Set<ChildProcess>()

/** CPU time (ms) used so far by every process this runner started and is still running. */
export function ourChildrenCpuMs (): number {
  let ms = 0
  for (const c of children) if (c.pid !== undefined && c.exitCode === null) ms += cpuMs(c.pid)
  return ms
}
function killAll () {
  for (const c of children) { try { c.kill('SIGKILL') } catch {} }
}
process.once('exit', killAll)
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => { killAll(); process.exit(130) })

export interface Server {
  name: string
  port: number
  pid: number
  proc: ChildProcess
  /** Everything else the server reported when ready. */
  info: Record<string, unknown>
  /** Request/reply over IPC (node servers only). */
  call<T = Record<string, unknown>> (cmd: string, args?: Record<string, unknown>): Promise<T>
  stop (): Promise<void>
}

let seq = 0

/** Starts a node script pinned to the server core; resolves once it reports { ready, port }. */
export function startNode (name: string, script: string, args: string[] = [], opts: { nodeArgs?: string[], env?: NodeJS.ProcessEnv, timeout?: number, unpinned?: boolean } = {}): Promise<Server> {
  const nodeArgv = [...(opts.nodeArgs ?? []), script, ...args]
  const [cmd, argv] = opts.unpinned ? [process.execPath, nodeArgv] : pinned('server', process.execPath, nodeArgv)
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...opts.env } })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  const pending = new Map<number, (v: any) => void>()
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`${name} did not start`)) }, opts.timeout ?? 20_000)
    proc.once('exit', code => { clearTimeout(timer); reject(new Error(`${name} exited with ${code} before it was ready`)) })
    proc.on('message', (msg: any) => {
      if (msg?.ready) {
        clearTimeout(timer)
        resolve({
          name,
          port: msg.port,
          pid: msg.pid,
          proc,
          info: msg,
          call (c, a = {}) {
            const id = ++seq
            return new Promise((res, rej) => {
              pending.set(id, (v: any) => v.error ? rej(new Error(v.error)) : res(v))
              proc.send({ cmd: c, id, ...a })
            })
          },
          stop: () => stopProc(proc)
        })
        return
      }
      const fn = pending.get(msg?.id)
      if (fn) { pending.delete(msg.id); fn(msg) }
    })
  })
}

/** Runs a node script pinned to the server core and resolves with the first message it sends. */
export function runNodeOnce<T> (name: string, script: string, args: string[] = [], nodeArgs: string[] = [], timeout = 300_000): Promise<T> {
  const [cmd, argv] = pinned('server', process.execPath, [...nodeArgs, script, ...args])
  const proc = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  children.add(proc)
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => { proc.kill('SIGKILL'); reject(new Error(`${name} timed out`)) }, timeout)
    proc.once('message', msg => { clearTimeout(timer); resolve(msg as T); proc.disconnect?.() })
    proc.once('exit', code => { clearTimeout(timer); children.delete(proc); reject(new Error(`${name} exited with ${code}`)) })
  })
}

/** Starts a non-node server pinned to the server core and waits until `port` accepts. */
export async function startCommand (name: string, cmd: string, args: string[], port: number): Promise<Server> {
  const [c, a] = pinned('server', cmd, args)
  const proc = spawn(c, a, { stdio: ['ignore', 'ignore', 'inherit'] })
  children.add(proc)
  proc.once('exit', () => children.delete(proc))
  let exited = false
  proc.once('exit', () => { exited = true })
  const until = Date.now() + 10_000
  while (!(await canConnect(port))) {
    if (exited) throw new Error(`${name} exited before it listened`)
    if (Date.now() > until) { proc.kill('SIGKILL'); throw new Error(`${name} did not listen on ${port}`) }
    await sleep(50)
  }
  return { name, port, pid: proc.pid!, proc, info: {}, call: () => Promise.reject(new Error('no IPC')), stop: () => stopProc(proc) }
}

function stopProc (proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null || proc.signalCode !== null) return Promise.resolve()
  return new Promise(resolve => {
    const timer = setTimeout(() => proc.kill('SIGKILL'), 5000)
    proc.once('exit', () => { clearTimeout(timer); resolve() })
    proc.kill('SIGTERM')
  })
}

export function canConnect (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const s = connect(port, '127.0.0.1')
    s.once('connect', () => { s.destroy(); resolve(true) })
    s.once('error', () => resolve(false))
  })
}

export const sleep = (ms: number) => new Promise<void>(resolve => setTimeout(resolve, ms))

/** Resident set size of a process in bytes (0 when gone). */
export function rssOf (pid: number): number {
  try {
    const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))
    return m ? Number(m[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** Pids of a process and all its descendants (for cluster mode and nginx workers). */
export function processTree (pid: number): number[] {
  const out = [pid]
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim()
        if (kids) for (const k of kids.split(/\s+/)) out.push(Number(k))
      }
    } catch {}
  }
  return out
}

/** Samples RSS every `every` ms until stopped; returns the peak seen. */
export function sampleRss (pid: number, every = 100): { stop: () => number } {
  let peak = rssOf(pid)
  const timer = setInterval(() => { peak = Math.max(peak, rssOf(pid)) }, every)
  return { stop: () => { clearInterval(timer); return Math.max(peak, rssOf(pid)) } }
}

/** CPU time (user + system, ms) used so far by a process and its descendants. */
export function cpuMs (pid: number): number {
  let ms = 0
  for (const p of processTree(pid)) {
    try {
      const f = readFileSync(`/proc/${p}/stat`, 'utf8')
      const fields = f.slice(f.lastIndexOf(')') + 2).split(' ')
      ms += (Number(fields[11]) + Number(fields[12])) * 10 // clock ticks (100 Hz)
    } catch {}
  }
  return ms
}

export function freePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    import('node:net').then(({ createServer }) => {
      const s = createServer()
      s.once('error', reject)
      s.listen(0, '127.0.0.1', () => {
        const a = s.address()
        const port = typeof a === 'object' && a ? a.port : 0
        s.close(() => resolve(port))
      })
    }, reject)
  })
}

export { has as commandExists }

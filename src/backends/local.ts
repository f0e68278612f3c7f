// Runs each task as a child process group on a free loopback port. The embedded default:
// what the quick start and the tests use.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, fstatSync, rmSync, readdirSync, readFileSync, writeFileSync, renameSync } from 'node:fs'
import { connect, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type { Backend, TaskRef, TaskSpec, TaskStatus } from './backend.js'
import { BackendError } from './backend.js'

export interface LocalBackendOptions {
  app: string
  command: string
  cwd: string
  stopGrace: number
  logDir?: string
  /**
   * Where each running task is recorded (pid, port, ref), so another gateway process on this
   * machine (a replica that becomes the leader) can list, reach and stop it.
   */
  taskDir?: string
}

/** What a task record on disk holds. */
interface TaskRecord { ref: TaskRef, pid: number, port: number, logFile: string }

function alive (pid: number): boolean {
  try { process.kill(pid, 0); return true } catch (err) { return (err as NodeJS.ErrnoException).code === 'EPERM' }
}

interface LocalTask {
  ref: TaskRef
  child: ChildProcess
  port: number
  logFile: string
  exited: boolean
  exitCode: number | null
  signal: NodeJS.Signals | null
  stopping: boolean
  spawnError?: string
  exit: Promise<void>
  /** When the process was spawned and when its port first accepted a connection (ms): the wake's start phase. */
  spawnedAt: number
  listeningAt?: number
}

/** True once something accepts TCP connections on 127.0.0.1:port. */
function accepts (port: number): Promise<boolean> {
  return new Promise(resolve => {
    const sock = connect({ host: '127.0.0.1', port })
    sock.setTimeout(1000, () => { sock.destroy(); resolve(false) })
    sock.once('connect', () => { sock.destroy(); resolve(true) })
    sock.once('error', () => resolve(false))
  })
}

/**
 * How long the listening watch looks for a task's port: past any start timeout, a task that
 * never listens has been stopped as failed long before.
 */
const WATCH_LIMIT_MS = 15 * 60_000

/** Every live process group, so a crashing gateway still kills them on the way out. */
const liveGroups = new Set<number>()
let exitHookInstalled = false
function installExitHook () {
  if (exitHookInstalled) return
  exitHookInstalled = true
  process.on('exit', () => {
    for (const pid of liveGroups) {
      try { process.kill(-pid, 'SIGKILL') } catch {}
    }
  })
}

/** A port the kernel says is free now (it may offer it again until someone binds it). */
function kernelFreePort (): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer()
    srv.unref()
    srv.on('error', reject)
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address()
      const port = typeof addr === 'object' && addr ? addr.port : 0
      srv.close(() => resolve(port))
    })
  })
}

/** Ports handed to tasks not yet exited: never handed out twice, even before their app binds. */
const taken = new Set<number>()

/** A free port for a task, reserved until releasePort(); two concurrent starts never share one. */
export async function freePort (): Promise<number> {
  for (let tries = 0; tries < 100; tries++) {
    const port = await kernelFreePort()
    if (!taken.has(port)) { taken.add(port); return port }
  }
  throw new BackendError('no free port for the task', false)
}

export function releasePort (port: number): void { taken.delete(port) }

/** The last `maxBytes` of a file as text ('' when it cannot be read). */
function readTail (file: string, maxBytes: number): string {
  let fd: number | undefined
  try {
    fd = openSync(file, 'r')
    const size = fstatSync(fd).size
    const len = Math.min(size, maxBytes)
    const buf = Buffer.alloc(len)
    readSync(fd, buf, 0, len, size - len)
    const text = buf.toString('utf8')
    // Read from the middle of the file: the first line is cut, drop it.
    return len < size ? text.slice(text.indexOf('\n') + 1) : text
  } catch {
    return ''
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

// Lines that say what went wrong, in the forms runtimes print them: "Error: …", "TypeError: …",
// "Error [ERR_X]: …", "java.lang.IllegalStateException: …", Go's "panic:" and "fatal error:",
// git-style "fatal:", Rust's "panicked at", npm's "ERR!". Checked first, since they carry the message.
const ERROR_LINE = /\b[\w$.]*(?:Error|Exception)(?: \[[\w-]+\])?: |^\s*(?:panic|fatal(?: error)?|FATAL|ERROR|CRITICAL):|\bpanicked at\b|^npm ERR!/
// Then lines that only announce an error (Python's traceback header, log levels, signals).
const ERROR_HINT = /^Traceback \(most recent call last\)|\b(?:ERROR|FATAL|CRITICAL|Exception)\b|Segmentation fault|\bUnhandled\b/
// eslint-disable-next-line no-control-regex
const ANSI = /\x1b\[[0-9;?]*[ -/]*[@-~]/g
const MAX_LINE = 400

/**
 * A task's output as a failure reason: the first line that names an error (a stack trace's
 * `Error: Cannot find module 'pg'` is far above its last lines) and then the last `tail`
 * lines, each clipped, so the reason stays small whatever the app printed.
 */
export function failureOutput (file: string, tail = 10): string {
  const lines = readTail(file, 256 * 1024).replace(ANSI, '').split('\n').map(l => l.trimEnd()).filter(l => l.trim() !== '')
  const clip = (l: string) => l.length > MAX_LINE ? `${l.slice(0, MAX_LINE)} …` : l
  const from = Math.max(0, lines.length - tail)
  let at = lines.findIndex(l => ERROR_LINE.test(l))
  if (at < 0) at = lines.findIndex(l => ERROR_HINT.test(l))
  const out = lines.slice(from).map(clip)
  if (at >= 0 && at < from) out.unshift(clip(lines[at]), ...(at < from - 1 ? ['…'] : []))
  return out.join('\n')
}

export class LocalBackend implements Backend {
  readonly kind = 'local'
  /** With a task dir, tasks outlive this process and a later owner adopts them. */
  readonly outlivesGateway: boolean
  private tasks = new Map<string, LocalTask>()
  private seq = 0
  private readonly logDir: string
  /** A log dir wakegate made itself is removed on close; a configured one is kept. */
  private readonly ownLogDir: boolean

  constructor (private readonly opts: LocalBackendOptions) {
    this.ownLogDir = !opts.logDir
    this.logDir = opts.logDir ?? mkdtempSync(join(tmpdir(), `wakegate-${opts.app}-`))
    mkdirSync(this.logDir, { recursive: true })
    this.outlivesGateway = opts.taskDir !== undefined
    if (opts.taskDir) mkdirSync(opts.taskDir, { recursive: true })
    installExitHook()
  }

  private recordFile (id: string): string { return join(this.opts.taskDir!, `${id}.json`) }

  private writeRecord (t: LocalTask): void {
    if (!this.opts.taskDir || !t.child.pid) return
    const rec: TaskRecord = { ref: t.ref, pid: t.child.pid, port: t.port, logFile: t.logFile }
    const tmp = `${this.recordFile(t.ref.id)}.tmp`
    writeFileSync(tmp, JSON.stringify(rec))
    renameSync(tmp, this.recordFile(t.ref.id)) // readers never see half a record
  }

  private dropRecord (id: string): void {
    if (this.opts.taskDir) rmSync(this.recordFile(id), { force: true })
  }

  /** Tasks other processes started and recorded for this app, still alive; dead ones' records are removed. */
  private foreign (): TaskRecord[] {
    const dir = this.opts.taskDir
    if (!dir) return []
    const out: TaskRecord[] = []
    let names: string[]
    try { names = readdirSync(dir) } catch { return [] }
    for (const name of names) {
      if (!name.endsWith('.json')) continue
      const rec = this.readRecord(name.slice(0, -5))
      if (!rec || rec.ref.app !== this.opts.app || this.tasks.has(rec.ref.id)) continue
      if (alive(rec.pid)) out.push(rec)
      else this.dropRecord(rec.ref.id)
    }
    return out
  }

  private readRecord (id: string): TaskRecord | undefined {
    if (!this.opts.taskDir || id.includes('/')) return undefined
    try { return JSON.parse(readFileSync(this.recordFile(id), 'utf8')) as TaskRecord } catch { return undefined }
  }

  async start (spec: TaskSpec): Promise<TaskRef> {
    const port = await freePort()
    const id = `local-${process.pid}-${++this.seq}`
    const ref: TaskRef = { id, app: spec.app, pr: spec.pr, sha: spec.sha, generation: spec.generation }
    const logFile = join(this.logDir, `${spec.app}-pr${spec.pr}-g${spec.generation}-${this.seq}.log`)
    const out = openSync(logFile, 'a')
    let child: ChildProcess
    try {
      const env = { ...process.env, ...spec.env, PORT: String(port), HOST: '127.0.0.1' }
      child = this.opts.taskDir
        // Recorded tasks run only once their record exists: the shell waits for a line on
        // stdin, written after the record; if this process dies first, stdin ends and the
        // shell exits, so no task ever runs that another process could not find.
        ? spawn('/bin/sh', ['-c', 'IFS= read -r _ || exit 97; exec /bin/sh -c "$WAKEGATE_TASK_COMMAND"'], {
          cwd: this.opts.cwd,
          env: { ...env, WAKEGATE_TASK_COMMAND: this.opts.command },
          stdio: ['pipe', out, out],
          detached: true
        })
        : spawn('/bin/sh', ['-c', this.opts.command], {
          cwd: this.opts.cwd,
          env,
          stdio: ['ignore', out, out],
          detached: true // own process group, so stop() reaches the app's children too
        })
    } catch (err) {
      releasePort(port)
      throw new BackendError(`cannot spawn "${this.opts.command}": ${(err as Error).message}`, true, { cause: err })
    } finally {
      closeSync(out)
    }
    const task: LocalTask = { ref, child, port, logFile, exited: false, exitCode: null, signal: null, stopping: false, exit: Promise.resolve(), spawnedAt: Date.now() }
    task.exit = new Promise<void>(resolve => {
      child.once('exit', (code, signal) => {
        task.exited = true
        releasePort(port)
        this.dropRecord(id)
        task.exitCode = code
        task.signal = signal
        if (child.pid) liveGroups.delete(child.pid)
        resolve()
      })
      child.once('error', err => {
        task.exited = true
        releasePort(port)
        task.exitCode = -1
        task.spawnError = err.message
        resolve()
      })
    })
    if (child.pid) liveGroups.add(child.pid)
    this.tasks.set(id, task)
    if (child.stdin) {
      this.writeRecord(task)
      child.stdin.on('error', () => {}) // a task that exits at once closes its end first
      child.stdin.end('go\n')
    }
    void this.watchListening(task)
    return ref
  }

  /**
   * Notes when the task's port first accepts a connection (the end of its start phase),
   * trying every 5 ms at first and then every 25 ms: this costs a refused loopback connect
   * per try while the app boots, and nothing once it listens or exits.
   */
  private async watchListening (t: LocalTask): Promise<void> {
    let delay = 5
    while (t.listeningAt === undefined && !t.exited && !t.stopping && Date.now() - t.spawnedAt < WATCH_LIMIT_MS) {
      const at = Date.now()
      if (await accepts(t.port)) { t.listeningAt ??= at; return }
      await new Promise(resolve => setTimeout(resolve, delay).unref())
      delay = Math.min(25, delay * 1.5)
    }
  }

  async describe (refs: TaskRef[]): Promise<TaskStatus[]> {
    return Promise.all(refs.map(async (ref): Promise<TaskStatus> => {
      const t = this.tasks.get(ref.id)
      if (!t) return this.describeForeign(ref)
      if (t.exited) return { ref, phase: 'stopped', reason: this.exitReason(t) }
      return { ref, phase: 'running', endpoint: { host: '127.0.0.1', port: t.port }, timing: { createdAt: t.spawnedAt, startedAt: t.listeningAt } }
    }))
  }

  /**
   * A task another process started, from its record. It counts as running once its port
   * accepts a connection: adopted while it still boots, it is waited for like a wake, not
   * routed to before it listens.
   */
  private async describeForeign (ref: TaskRef): Promise<TaskStatus> {
    const rec = this.readRecord(ref.id)
    if (!rec || !alive(rec.pid)) return { ref, phase: 'stopped', reason: rec ? 'process is gone' : 'task is unknown to the local backend' }
    const listening = await new Promise<boolean>(resolve => {
      const sock = connect({ host: '127.0.0.1', port: rec.port }, () => { sock.destroy(); resolve(true) })
      sock.once('error', () => resolve(false))
    })
    return listening ? { ref, phase: 'running', endpoint: { host: '127.0.0.1', port: rec.port } } : { ref, phase: 'pending' }
  }

  private exitReason (t: LocalTask): string {
    const how = t.spawnError
      ? `could not start: ${t.spawnError}`
      : t.signal ? `process killed by ${t.signal}` : `process exited with code ${t.exitCode}`
    const out = failureOutput(t.logFile)
    return out ? `${how}; output:\n${out}` : `${how}; it printed nothing`
  }

  async diagnose (ref: TaskRef): Promise<string | undefined> {
    const t = this.tasks.get(ref.id)
    if (!t) return undefined
    const out = failureOutput(t.logFile)
    return `The app was given PORT=${t.port} and HOST=127.0.0.1 and must listen there; ${out ? `its output:\n${out}` : 'it printed nothing.'}`
  }

  async stop (ref: TaskRef, _reason: string): Promise<void> {
    const t = this.tasks.get(ref.id)
    if (!t) { await this.stopForeign(ref.id); return }
    if (!t.exited && !t.stopping) {
      t.stopping = true
      const pid = t.child.pid
      if (pid) {
        try { process.kill(-pid, 'SIGTERM') } catch {}
        const timer = setTimeout(() => { try { process.kill(-pid, 'SIGKILL') } catch {} }, this.opts.stopGrace)
        await t.exit
        clearTimeout(timer)
        // The shell may exit before its children; make sure the whole group is gone.
        try { process.kill(-pid, 'SIGKILL') } catch {}
      }
    }
    await t.exit
    this.tasks.delete(ref.id)
  }

  /** A recorded task another process started: its group is signalled and waited for by pid. */
  private async stopForeign (id: string): Promise<void> {
    const rec = this.readRecord(id)
    if (!rec) return
    try { process.kill(-rec.pid, 'SIGTERM') } catch {}
    const deadline = Date.now() + this.opts.stopGrace
    while (alive(rec.pid) && Date.now() < deadline) await new Promise(resolve => setTimeout(resolve, 25))
    try { process.kill(-rec.pid, 'SIGKILL') } catch {}
    this.dropRecord(id)
  }

  async list (): Promise<TaskRef[]> {
    return [...[...this.tasks.values()].filter(t => !t.exited).map(t => t.ref), ...this.foreign().map(r => r.ref)]
  }

  /**
   * Leaves every task running for another process to adopt (a replica that stops being the
   * leader): nothing is stopped, the records stay, the exit hook no longer kills them.
   */
  async detach (): Promise<void> {
    for (const t of this.tasks.values()) if (t.child.pid) liveGroups.delete(t.child.pid)
    this.tasks.clear()
  }

  /** Log file of a task, for the admin API. */
  logOf (ref: TaskRef): string | undefined {
    return this.tasks.get(ref.id)?.logFile
  }

  async close (): Promise<void> {
    await Promise.all([...this.tasks.values()].map(t => this.stop(t.ref, 'gateway shutdown')))
    // Adopted tasks' output stays where it is: a log dir of our own is removed only when no record points into it.
    if (this.ownLogDir && !this.opts.taskDir) rmSync(this.logDir, { recursive: true, force: true })
  }
}

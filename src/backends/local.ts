// Runs each task as a child process group on a free loopback port. The embedded default:
// what the quick start and the tests use.
import { spawn, type ChildProcess } from 'node:child_process'
import { closeSync, mkdirSync, mkdtempSync, openSync, readSync, fstatSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
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
}

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

export function freePort (): Promise<number> {
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

/** Last `max` bytes of a file, trimmed to whole lines. */
export function tailFile (file: string, maxLines = 10, maxBytes = 4096): string {
  let fd: number | undefined
  try {
    fd = openSync(file, 'r')
    const size = fstatSync(fd).size
    const len = Math.min(size, maxBytes)
    const buf = Buffer.alloc(len)
    readSync(fd, buf, 0, len, size - len)
    const lines = buf.toString('utf8').split('\n').filter(l => l.trim() !== '')
    return lines.slice(-maxLines).join('\n')
  } catch {
    return ''
  } finally {
    if (fd !== undefined) closeSync(fd)
  }
}

export class LocalBackend implements Backend {
  readonly kind = 'local'
  private tasks = new Map<string, LocalTask>()
  private seq = 0
  private readonly logDir: string
  /** A log dir wakegate made itself is removed on close; a configured one is kept. */
  private readonly ownLogDir: boolean

  constructor (private readonly opts: LocalBackendOptions) {
    this.ownLogDir = !opts.logDir
    this.logDir = opts.logDir ?? mkdtempSync(join(tmpdir(), `wakegate-${opts.app}-`))
    mkdirSync(this.logDir, { recursive: true })
    installExitHook()
  }

  async start (spec: TaskSpec): Promise<TaskRef> {
    const port = await freePort()
    const id = `local-${process.pid}-${++this.seq}`
    const ref: TaskRef = { id, app: spec.app, pr: spec.pr, sha: spec.sha, generation: spec.generation }
    const logFile = join(this.logDir, `${spec.app}-pr${spec.pr}-g${spec.generation}-${this.seq}.log`)
    const out = openSync(logFile, 'a')
    let child: ChildProcess
    try {
      child = spawn('/bin/sh', ['-c', this.opts.command], {
        cwd: this.opts.cwd,
        env: { ...process.env, ...spec.env, PORT: String(port), HOST: '127.0.0.1' },
        stdio: ['ignore', out, out],
        detached: true // own process group, so stop() reaches the app's children too
      })
    } catch (err) {
      throw new BackendError(`cannot spawn "${this.opts.command}": ${(err as Error).message}`, true, { cause: err })
    } finally {
      closeSync(out)
    }
    const task: LocalTask = { ref, child, port, logFile, exited: false, exitCode: null, signal: null, stopping: false, exit: Promise.resolve() }
    task.exit = new Promise<void>(resolve => {
      child.once('exit', (code, signal) => {
        task.exited = true
        task.exitCode = code
        task.signal = signal
        if (child.pid) liveGroups.delete(child.pid)
        resolve()
      })
      child.once('error', err => {
        task.exited = true
        task.exitCode = -1
        task.spawnError = err.message
        resolve()
      })
    })
    if (child.pid) liveGroups.add(child.pid)
    this.tasks.set(id, task)
    return ref
  }

  async describe (refs: TaskRef[]): Promise<TaskStatus[]> {
    return refs.map(ref => {
      const t = this.tasks.get(ref.id)
      if (!t) return { ref, phase: 'stopped', reason: 'task is unknown to the local backend' }
      if (t.exited) return { ref, phase: 'stopped', reason: this.exitReason(t) }
      return { ref, phase: 'running', endpoint: { host: '127.0.0.1', port: t.port } }
    })
  }

  private exitReason (t: LocalTask): string {
    const how = t.spawnError
      ? `could not start: ${t.spawnError}`
      : t.signal ? `process killed by ${t.signal}` : `process exited with code ${t.exitCode}`
    const tail = tailFile(t.logFile)
    return tail ? `${how}; last output:\n${tail}` : how
  }

  async stop (ref: TaskRef, _reason: string): Promise<void> {
    const t = this.tasks.get(ref.id)
    if (!t) return
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

  async list (): Promise<TaskRef[]> {
    return [...this.tasks.values()].filter(t => !t.exited).map(t => t.ref)
  }

  /** Log file of a task, for the admin API. */
  logOf (ref: TaskRef): string | undefined {
    return this.tasks.get(ref.id)?.logFile
  }

  async close (): Promise<void> {
    await Promise.all([...this.tasks.values()].map(t => this.stop(t.ref, 'gateway shutdown')))
    if (this.ownLogDir) rmSync(this.logDir, { recursive: true, force: true })
  }
}

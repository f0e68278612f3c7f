// Load generators: wrk when installed (installed from Debian packages when missing and
// we are root), autocannon otherwise. Both run pinned to the load core.
import { spawn, spawnSync } from 'node:child_process'
import { mkdtempSync, writeFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { createRequire } from 'node:module'
import { commandExists, cpuMs, pinned } from './proc.js'

export interface Tools {
  loader: 'wrk' | 'autocannon'
  nginx: string | null
  notes: string[]
}

let aptUpdated = false
function aptInstall (pkg: string, notes: string[]): boolean {
  if (process.getuid?.() !== 0) { notes.push(`${pkg}: not installed and not root, cannot install`); return false }
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  const install = () => spawnSync('apt-get', ['install', '-y', '-qq', pkg], { stdio: ['ignore', 'ignore', 'pipe'], env, timeout: 300_000 }).status === 0
  if (install()) { notes.push(`${pkg}: installed with apt-get`); return true }
  if (!aptUpdated) {
    aptUpdated = true
    spawnSync('apt-get', ['update', '-qq'], { stdio: 'ignore', env, timeout: 300_000 })
    if (install()) { notes.push(`${pkg}: installed with apt-get (after apt-get update)`); return true }
  }
  notes.push(`${pkg}: apt-get install failed`)
  return false
}

export function nginxPath (): string | null {
  for (const p of ['/usr/sbin/nginx', '/usr/local/sbin/nginx', '/usr/local/nginx/sbin/nginx']) {
    if (spawnSync('test', ['-x', p]).status === 0) return p
  }
  return commandExists('nginx') ? 'nginx' : null
}

export function prepareTools (opts: { forceAutocannon?: boolean, nginx?: boolean } = {}): Tools {
  const notes: string[] = []
  let loader: Tools['loader'] = 'autocannon'
  if (!opts.forceAutocannon) {
    if (commandExists('wrk') || (aptInstall('wrk', notes) && commandExists('wrk'))) loader = 'wrk'
    else notes.push('wrk unavailable: using autocannon')
  } else notes.push('autocannon forced')
  let nginx: string | null = null
  if (opts.nginx !== false) {
    nginx = nginxPath()
    if (!nginx && aptInstall('nginx-light', notes)) nginx = nginxPath()
    if (!nginx) notes.push('nginx unavailable: its row is skipped')
  }
  return { loader, nginx, notes }
}

export interface LoadOptions {
  url: string
  host?: string
  connections: number
  /** seconds */
  duration: number
  /** POST a body of this many bytes with every request. */
  uploadBytes?: number
  /** A fixed offered load (requests/s over all connections, GETs) instead of as fast as possible. */
  rate?: number
  /** More request headers, sent with every request (name → value). */
  headers?: Record<string, string>
}

export interface LoadResult {
  rps: number
  /** milliseconds */
  p50: number
  p99: number
  /** response bytes per second (as the tool counts them) */
  bytesPerSec: number
  requests: number
  errors: number
  non2xx: number
  /** CPU time the load generator used (ms), to tell its work from other processes'. */
  loaderCpuMs: number
}

export function runLoad (tools: Tools, o: LoadOptions): Promise<LoadResult> {
  if (o.rate !== undefined) return runOpenLoop(o)
  return tools.loader === 'wrk' ? runWrk(o) : runAutocannon(o)
}

function collect (cmd: string, args: string[], timeoutMs: number): Promise<{ out: string, cpuMs: number }> {
  const [c, a] = pinned('load', cmd, args)
  return new Promise((resolve, reject) => {
    const p = spawn(c, a, { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    let used = 0
    // Sampled while it runs: its /proc entry is gone once it exits.
    const sampler = setInterval(() => { if (p.pid) used = Math.max(used, cpuMs(p.pid)) }, 200)
    p.stdout.on('data', d => { out += d })
    p.stderr.on('data', d => { err += d })
    const timer = setTimeout(() => p.kill('SIGKILL'), timeoutMs)
    p.once('error', reject)
    p.once('close', code => {
      clearTimeout(timer)
      clearInterval(sampler)
      if (code === 0) resolve({ out, cpuMs: used })
      else reject(new Error(`${cmd} exited with ${code}: ${err.slice(0, 500)}`))
    })
  })
}

const UNIT: Record<string, number> = { us: 0.001, ms: 1, s: 1000, m: 60_000 }
const SIZE: Record<string, number> = { B: 1, KB: 1024, MB: 1024 ** 2, GB: 1024 ** 3 }

function ms (v: string): number {
  const m = /^([\d.]+)(us|ms|s|m)$/.exec(v.trim())
  return m ? Number(m[1]) * UNIT[m[2]] : NaN
}

export function parseWrk (out: string): LoadResult {
  const num = (re: RegExp) => { const m = re.exec(out); return m ? Number(m[1]) : 0 }
  const lat = (pct: string) => { const m = new RegExp(`^\\s*${pct}%\\s+(\\S+)`, 'm').exec(out); return m ? ms(m[1]) : NaN }
  const tr = /Transfer\/sec:\s+([\d.]+)(B|KB|MB|GB)/.exec(out)
  const sock = /Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)/.exec(out)
  return {
    rps: num(/Requests\/sec:\s+([\d.]+)/),
    p50: lat('50'),
    p99: lat('99'),
    bytesPerSec: tr ? Number(tr[1]) * SIZE[tr[2]] : 0,
    requests: num(/(\d+) requests in/),
    errors: sock ? sock.slice(1).reduce((a, b) => a + Number(b), 0) : 0,
    non2xx: num(/Non-2xx or 3xx responses:\s+(\d+)/),
    loaderCpuMs: 0
  }
}

async function runWrk (o: LoadOptions): Promise<LoadResult> {
  const args = ['-t1', `-c${o.connections}`, `-d${o.duration}s`, '--latency', '--timeout', '10s']
  if (o.host) args.push('-H', `Host: ${o.host}`)
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}: ${v}`)
  let dir: string | undefined
  if (o.uploadBytes) {
    dir = mkdtempSync(join(tmpdir(), 'wakegate-wrk-'))
    const script = join(dir, 'upload.lua')
    writeFileSync(script, `wrk.method = "POST"\nwrk.body = string.rep("u", ${o.uploadBytes})\nwrk.headers["Content-Type"] = "application/octet-stream"\n`)
    args.push('-s', script)
  }
  args.push(o.url)
  try {
    const r = await collect('wrk', args, (o.duration + 30) * 1000)
    return { ...parseWrk(r.out), loaderCpuMs: r.cpuMs }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

/** A fixed offered rate (open-loop.mjs): latency from when each request was due. */
async function runOpenLoop (o: LoadOptions): Promise<LoadResult> {
  if (o.uploadBytes) throw new Error('the open-loop generator sends GETs only')
  if (o.url.startsWith('https:')) throw new Error('the open-loop generator speaks plain HTTP only')
  const script = join(dirname(fileURLToPath(import.meta.url)), 'open-loop.mjs')
  const spec = { url: o.url, host: o.host, headers: o.headers, rate: o.rate, duration: o.duration, connections: o.connections }
  const r = await collect(process.execPath, [script, JSON.stringify(spec)], (o.duration + 30) * 1000)
  const j = JSON.parse(r.out) as { rps: number, p50: number, p99: number, requests: number, errors: number, non2xx: number }
  return { ...j, bytesPerSec: 0, loaderCpuMs: r.cpuMs }
}

export interface HandshakeOptions {
  port: number
  /** SNI name and Host header. */
  host: string
  path?: string
  /** In flight at once (as many new connections as the server takes), or the bound under `rate`. */
  connections: number
  /** seconds */
  duration: number
  /** New connections per second offered, instead of as many as the server takes. */
  rate?: number
  /** Verify the server's certificate against this CA (PEM) and count the serials served. */
  ca?: string
}

export interface HandshakeResult extends LoadResult {
  /** Connections whose TLS handshake failed (refused, reset, certificate not trusted). */
  handshakeErrors: number
  /** Connections completed, the unmeasured first half second included. */
  total: number
  /** Handshakes that resumed a session: 0 unless the server resumes unasked. */
  resumed: number
  /** Connections per serial of the certificate served (with `ca`). */
  serials: Record<string, number>
  /** Failures by error code. */
  codes: Record<string, number>
  /** Connections per TLS version. */
  versions: Record<string, number>
}

/** New TLS connections, each a full handshake and one request (handshakes.mjs). */
export async function runHandshakes (o: HandshakeOptions): Promise<HandshakeResult> {
  const script = join(dirname(fileURLToPath(import.meta.url)), 'handshakes.mjs')
  const r = await collect(process.execPath, [script, JSON.stringify(o)], (o.duration + 30) * 1000)
  return { ...JSON.parse(r.out) as Omit<HandshakeResult, 'bytesPerSec' | 'loaderCpuMs'>, bytesPerSec: 0, loaderCpuMs: r.cpuMs }
}

async function runAutocannon (o: LoadOptions): Promise<LoadResult> {
  const bin = createRequire(import.meta.url).resolve('autocannon/autocannon.js')
  const args = [bin, '-c', String(o.connections), '-d', String(o.duration), '-j', '-t', '10']
  if (o.host) args.push('-H', `host=${o.host}`)
  for (const [k, v] of Object.entries(o.headers ?? {})) args.push('-H', `${k}=${v}`)
  let dir: string | undefined
  if (o.uploadBytes) {
    dir = mkdtempSync(join(tmpdir(), 'wakegate-ac-'))
    const file = join(dir, 'body')
    writeFileSync(file, Buffer.alloc(o.uploadBytes, 'u'))
    args.push('-m', 'POST', '-i', file, '-H', 'content-type=application/octet-stream')
  }
  args.push(o.url)
  try {
    const r = await collect(process.execPath, args, (o.duration + 30) * 1000)
    const j = JSON.parse(r.out)
    return {
      loaderCpuMs: r.cpuMs,
      rps: j.requests.average,
      p50: j.latency.p50,
      p99: j.latency.p99,
      bytesPerSec: j.throughput.average,
      requests: j.requests.total,
      errors: j.errors + j.timeouts,
      non2xx: j.non2xx
    }
  } finally {
    if (dir) rmSync(dir, { recursive: true, force: true })
  }
}

// What the proxy needs from the lifecycle, and nothing more: the seam between the data path
// and the control plane. EnvManager implements it in-process; MirrorDirectory in a cluster
// worker (over IPC) and in a replica (over Redis pub/sub). Everything the hot path reads is
// synchronous and in memory.
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { Env } from './env.js'
import type { Upstream } from '../proxy/upstream.js'

export interface EnvDirectory {
  /** Known envs by key: the hot path reads `env.route` here. */
  readonly envs: ReadonlyMap<string, Env>
  /** An env the config lets wake (its known PRs, `anyPr`) but not registered yet, registered now. */
  lookup (app: string, pr: number): Env | undefined
  /** Set when unknown PRs may be asked about (GitHub's known-PR gate); else they are 404 at once. */
  readonly prResolver: unknown
  /** Single-flight lookup of an unknown PR: the env, or undefined when it may not wake. */
  resolveUnknown (app: string, pr: number): Promise<Env | undefined>
  /**
   * One promise per wake, whoever asks (single flight): the route once reachable, or a
   * WakegateError. `byRequest`: a request waits (the first response says it was a cold
   * start), 'navigation' when it is a page load.
   */
  wake (env: Env, cause: string, byRequest?: boolean | 'navigation'): Promise<Upstream>
  /** Passive health: the task refused a connection. */
  taskLost (env: Env, upstream: Upstream, reason: string): void
  /** Passive health: a connection was reset; the backend is asked whether the task still runs. */
  checkTask (env: Env, upstream: Upstream): void
  /** The env's pending cold-start header went out. */
  coldServed (env: Env): void
  /**
   * For a request to an env that is not running, when this process cannot ask the lifecycle
   * owner to wake it (a replica while Redis is down): hands the request whole to the owner and
   * returns true. Absent or false: the cold path handles it here.
   */
  relay? (req: IncomingMessage, res: ServerResponse): boolean
  /** A drained generation's drainTimeout passed: its long streams are told to reconnect. */
  on (event: 'drain-timeout', fn: (env: Env, upstream: Upstream) => void): unknown
}

// The seam between the lifecycle and whatever runs tasks (local processes, ECS).

export interface TaskSpec {
  app: string
  pr: number
  branch: string
  sha: string
  generation: number
  /** Port the app listens on inside its task (container port). */
  port: number
  /** Fully substituted environment for the task (BRANCH, PR_NUMBER, GIT_SHA + the app's env). */
  env: Record<string, string>
}

export interface TaskRef {
  /** Backend-specific id: a pid-based id for local, the task ARN for ECS. */
  id: string
  app: string
  pr: number
  sha: string
  generation: number
}

export type TaskPhase = 'pending' | 'pulling' | 'running' | 'stopped'

export interface TaskStatus {
  ref: TaskRef
  phase: TaskPhase
  /** host:port once running. */
  endpoint?: { host: string, port: number }
  /** Why a task stopped or could not start, in plain words (exit code, AWS reason, last log lines). */
  reason?: string
  /** When the backend says the task's start steps happened, as far as it knows them. */
  timing?: TaskTiming
}

/**
 * Moments of a task's start (ms since the epoch), on the backend's clock. ECS: the task's
 * own createdAt, pullStartedAt, pullStoppedAt and startedAt; local: the spawn (createdAt)
 * and the moment its port accepted connections (startedAt), no pull.
 */
export interface TaskTiming {
  createdAt?: number
  pullStartedAt?: number
  pullStoppedAt?: number
  startedAt?: number
}

export interface Backend {
  readonly kind: string
  start (spec: TaskSpec): Promise<TaskRef>
  /** Batched; returns one status per ref, in order. Unknown refs come back as stopped. */
  describe (refs: TaskRef[]): Promise<TaskStatus[]>
  stop (ref: TaskRef, reason: string): Promise<void>
  /** Every task this gateway owns, for reconcile. */
  list (): Promise<TaskRef[]>
  /** Called on gateway shutdown: local stops its processes, ECS leaves tasks for the next gateway. */
  close (): Promise<void>
  /** Tasks stay when this process goes (ECS; local with a task dir): reconcile adopts them. Default: kind is not 'local'. */
  readonly outlivesGateway?: boolean
  /** Hand every task over to the next owner (a replica stepping down): nothing is stopped. */
  detach? (): Promise<void>
  /**
   * For a task that never became ready: what it was given (its PORT) and its recent output,
   * in plain words, when the backend can tell. Part of the start-timeout reason.
   */
  diagnose? (ref: TaskRef): Promise<string | undefined>
  /**
   * New code for an env that is not running: fetch what its next start needs (ECS on EC2:
   * the SHA's image, onto the container instances) before anyone asks. Returns at once and
   * never throws; failures are the backend's to log and count.
   */
  prewarm? (spec: PrewarmSpec): void
  /** Prewarm tasks by app, then outcome, for metrics. */
  readonly prewarmCounts?: ReadonlyMap<string, Readonly<Record<string, number>>>
}

/** The env and SHA a prewarm is for. */
export type PrewarmSpec = Pick<TaskSpec, 'app' | 'pr' | 'branch' | 'sha'>

export class BackendError extends Error {
  /** A failure that will not go away by retrying (access denied, bad task definition). */
  readonly permanent: boolean
  constructor (message: string, permanent = false, options?: { cause?: unknown }) {
    super(message, options)
    this.name = 'BackendError'
    this.permanent = permanent
  }
}

export function taskEnv (spec: Pick<TaskSpec, 'pr' | 'branch' | 'sha' | 'app'>, templates: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {}
  for (const [k, v] of Object.entries(templates)) out[k] = expandTemplate(v, spec)
  out.BRANCH = spec.branch
  out.PR_NUMBER = String(spec.pr)
  out.GIT_SHA = spec.sha
  return out
}

export function expandTemplate (v: string, spec: Pick<TaskSpec, 'pr' | 'branch' | 'sha' | 'app'>): string {
  return v.replace(/\{(pr|branch|sha|app)\}/g, (_m, k: 'pr' | 'branch' | 'sha' | 'app') => String(spec[k]))
}

// A wire-compatible fake of the AWS ECS (JSON 1.1), EC2 and STS (query/XML) APIs, as a real
// HTTP server the real @aws-sdk clients reach through `endpoint`. Its tasks are real processes
// (examples/app/server.js) on real ports. It records every call, and can inject throttling,
// 5xx, access denied, RunTask failures, crashes and instance reclaims.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { ACCOUNT, AwsFault, Model, newRequestId, type ContainerDef, type Delays, type FakeTask, type Instance, type TaskDef } from './model.js'
import { ecsOperations, type EcsInjections } from './ecs-api.js'
import { EC2_VERSION, ec2ErrorXml, ec2Operations } from './ec2-api.js'
import { STS_VERSION, stsErrorXml, stsOperations, type CallerIdentity } from './sts-api.js'
import type { PullModel } from './images.js'

export { AwsFault, type FakeTask, type Instance } from './model.js'
export type { PullModel } from './images.js'

const EXAMPLE_APP = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..', 'examples', 'app', 'server.js')

export const ECS_TARGET_PREFIX = 'AmazonEC2ContainerServiceV20141113.'

export interface Call {
  service: 'ecs' | 'ec2' | 'sts'
  action: string
  params: any
  status: number
  /** The error type returned, if any (ThrottlingException, ClusterNotFoundException, …). */
  error?: string
}

export interface Faults {
  /** Share of eligible calls that fail, spread evenly (0.3: every third or fourth call). */
  fraction: number
  /** throttle: ECS ThrottlingException (400) / EC2 RequestLimitExceeded (503); server: 500. */
  kind: 'throttle' | 'server'
  /** Only these actions; all when absent. */
  actions?: string[]
  /** ECS server errors only: the request is carried out, then the answer is lost (a 500 instead). */
  afterEffect?: boolean
}

export interface FakeAwsOptions {
  region?: string
  /** Default: one cluster "review" with 2 EC2 container instances and a "spot" capacity provider. */
  clusters?: Array<{ name: string, instances?: number, capacityProviders?: string[] }>
  /** Registered at start. Default: family "web", bridge, container "web" on port 3000 (dynamic host port). */
  taskDefinitions?: Array<Partial<TaskDef> & { family: string, containerDefinitions: ContainerDef[] }>
  delays?: Partial<Delays>
  /** SIGTERM → SIGKILL grace for stopped tasks. */
  stopGrace?: number
  /** The task's program (default: the example app). */
  script?: string
  /** Distinct loopback addresses per instance/ENI; default on Linux. */
  loopbackAliases?: boolean
  /**
   * Image pull times and per-instance image caches (images.ts). Absent: every pull takes
   * half of delays.pending and nothing is cached, as before the model existed.
   */
  pull?: PullModel
}

export const WEB_TASK_DEFINITION = {
  family: 'web',
  networkMode: 'bridge',
  containerDefinitions: [{
    name: 'web',
    image: '123456789012.dkr.ecr.us-east-1.amazonaws.com/web:latest',
    essential: true,
    memory: 256,
    portMappings: [{ containerPort: 3000, hostPort: 0, protocol: 'tcp' }]
  }]
}

/**
 * The test process's AWS environment: dummy credentials so the default chain resolves
 * without a network call, no instance metadata lookups, no shared config files.
 */
export function useFakeAwsEnvironment (): void {
  process.env.AWS_ACCESS_KEY_ID = 'AKIDFAKEWAKEGATE0000'
  process.env.AWS_SECRET_ACCESS_KEY = 'fake-secret-key-for-tests'
  process.env.AWS_EC2_METADATA_DISABLED = 'true'
  // The SDK's note that future versions need Node 22 is for operators, not test output.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED = 'true'
  process.env.AWS_CONFIG_FILE = '/nonexistent/wakegate-test-aws-config'
  process.env.AWS_SHARED_CREDENTIALS_FILE = '/nonexistent/wakegate-test-aws-credentials'
  delete process.env.AWS_PROFILE
  delete process.env.AWS_SESSION_TOKEN
  delete process.env.AWS_RETRY_MODE
  delete process.env.AWS_MAX_ATTEMPTS
}

function readBody (req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    req.on('data', c => chunks.push(c))
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    req.on('error', reject)
  })
}

/** SigV4 is not verified, but it must be there and scoped to the right service. */
function signedFor (req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization ?? ''
  const m = /^AWS4-HMAC-SHA256 Credential=[^/]+\/\d{8}\/[a-z0-9-]+\/([a-z0-9]+)\/aws4_request, ?SignedHeaders=[^,]+, ?Signature=[0-9a-f]{64}$/.exec(auth)
  return m && req.headers['x-amz-date'] ? m[1] : undefined
}

export class FakeAws {
  url = ''
  readonly calls: Call[] = []
  faults: Faults | undefined
  /**
   * Actions the caller's IAM policy does not allow (AccessDeniedException / UnauthorizedOperation).
   * 'TagResource' and 'PassRole' refuse a RunTask that would need them: one with tags, one
   * of a task definition with a task or execution role.
   */
  readonly denied = new Set<string>()
  /** Who GetCallerIdentity says the caller is. */
  identity: CallerIdentity = { arn: `arn:aws:sts::${ACCOUNT}:assumed-role/wakegate/test`, userId: 'AROAFAKEWAKEGATE00000:test', account: ACCOUNT }
  readonly inject: EcsInjections = { runTaskFailures: [] }
  readonly model: Model
  private readonly server: Server
  private readonly sockets = new Set<Socket>()
  private readonly ecs: ReturnType<typeof ecsOperations>
  private readonly ec2: ReturnType<typeof ec2Operations>
  private readonly sts: ReturnType<typeof stsOperations>
  private eligible = 0

  constructor (opts: FakeAwsOptions = {}) {
    const region = opts.region ?? 'us-east-1'
    this.model = new Model({
      region,
      delays: { provisioning: 40, pending: 80, stopping: 30, ...opts.delays },
      stopGrace: opts.stopGrace ?? 2000,
      script: opts.script ?? EXAMPLE_APP,
      loopbackAliases: opts.loopbackAliases ?? process.platform === 'linux',
      pull: opts.pull
    })
    for (const c of opts.clusters ?? [{ name: 'review', instances: 2, capacityProviders: ['spot'] }]) {
      this.model.addCluster(c.name, c.instances ?? 2, c.capacityProviders ?? [])
    }
    for (const td of opts.taskDefinitions ?? [WEB_TASK_DEFINITION]) this.model.register(td as TaskDef)
    this.ecs = ecsOperations(this.model, this.inject)
    this.ec2 = ec2Operations(this.model)
    this.sts = stsOperations(() => this.identity)
    this.server = createServer((req, res) => { this.handle(req, res).catch(err => this.send(res, 500, 'text/plain', String(err))) })
    this.server.on('connection', s => { this.sockets.add(s); s.once('close', () => this.sockets.delete(s)) })
  }

  static async start (opts: FakeAwsOptions = {}): Promise<FakeAws> {
    const fake = new FakeAws(opts)
    await new Promise<void>(resolve => fake.server.listen(0, '127.0.0.1', resolve))
    const a = fake.server.address()
    fake.url = `http://127.0.0.1:${typeof a === 'object' && a ? a.port : 0}`
    return fake
  }

  // ── what tests look at ──────────────────────────────────────────────────────────────

  /** Calls of an action; `ok: true` only those answered 200, `ok: false` only the failed ones. */
  callsOf (action: string, opts: { ok?: boolean } = {}): Call[] {
    return this.calls.filter(c => c.action === action && (opts.ok === undefined || (c.status === 200) === opts.ok))
  }

  count (action: string, opts: { ok?: boolean } = {}): number { return this.callsOf(action, opts).length }

  get tasks (): FakeTask[] { return [...this.model.tasks.values()] }
  get instances (): Instance[] { return this.model.instances() }

  task (arn: string): FakeTask {
    const t = this.model.tasks.get(arn)
    if (!t) throw new Error(`fake: no task ${arn}`)
    return t
  }

  tag (t: FakeTask, key: string): string | undefined { return t.tags.find(x => x.key === key)?.value }

  /** Environment the task's app container got (definition + overrides). */
  containerEnv (t: FakeTask): Record<string, string> {
    const out: Record<string, string> = {}
    const app = t.td.containerDefinitions.find(c => c.portMappings?.length) ?? t.td.containerDefinitions[0]
    for (const e of app.environment ?? []) out[e.name] = e.value
    for (const o of t.overrides.containerOverrides ?? []) if (o.name === app.name) for (const e of o.environment ?? []) out[e.name] = e.value
    return out
  }

  // ── injections ──────────────────────────────────────────────────────────────────────

  /** The next RunTask calls place nothing and report this failure (e.g. RESOURCE:MEMORY). */
  failRunTask (reason: string, detail?: string, times = 1): void {
    for (let i = 0; i < times; i++) this.inject.runTaskFailures.push(detail ? { reason, detail } : { reason })
  }

  /** The task's essential container dies (default: an OOM kill). */
  crash (arn: string, exitCode = 137, reason = 'OutOfMemoryError: Container killed due to memory usage'): void {
    this.model.crash(this.task(arn), exitCode, reason)
  }

  /** Someone stops the task in the console (not through the API wakegate uses). */
  stopOutside (arn: string, reason = 'Task stopped by user'): void {
    this.model.stop(this.task(arn), reason, 'UserInitiated')
  }

  /** The EC2 instance is reclaimed (Spot) or terminated: every task on it stops. */
  reclaimInstance (ec2InstanceId: string): FakeTask[] {
    const inst = this.instances.find(i => i.ec2InstanceId === ec2InstanceId)
    if (!inst) throw new Error(`fake: no instance ${ec2InstanceId}`)
    return this.model.reclaim(inst)
  }

  // ── the wire ────────────────────────────────────────────────────────────────────────

  private send (res: ServerResponse, status: number, type: string, body: string, requestId = newRequestId()): void {
    res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body), 'x-amzn-requestid': requestId })
    res.end(body)
  }

  /** Whether this call gets the injected fault: every ⌈1/fraction⌉-ish call, deterministically. */
  private faulty (action: string): Faults['kind'] | undefined {
    const f = this.faults
    if (!f || f.fraction <= 0 || (f.actions && !f.actions.includes(action))) return undefined
    const n = ++this.eligible
    return Math.floor(n * f.fraction) > Math.floor((n - 1) * f.fraction) ? f.kind : undefined
  }

  private async handle (req: IncomingMessage, res: ServerResponse): Promise<void> {
    const body = await readBody(req)
    const target = req.headers['x-amz-target']
    if (req.method !== 'POST') { this.send(res, 405, 'text/plain', 'fake AWS: POST only'); return }
    if (typeof target === 'string') { this.handleEcs(req, res, target, body); return }
    // EC2 and STS both speak the query protocol; the signature's scope says which is meant.
    if (signedFor(req) === 'sts') { this.handleSts(req, res, body); return }
    this.handleEc2(req, res, body)
  }

  private handleEcs (req: IncomingMessage, res: ServerResponse, target: string, body: string): void {
    const requestId = newRequestId()
    const action = target.startsWith(ECS_TARGET_PREFIX) ? target.slice(ECS_TARGET_PREFIX.length) : target
    let params: any = {}
    const fail = (f: AwsFault) => {
      this.calls.push({ service: 'ecs', action, params, status: f.status, error: f.type })
      this.send(res, f.status, 'application/x-amz-json-1.1', JSON.stringify({ __type: f.type, message: f.message }), requestId)
    }
    const service = signedFor(req)
    if (!service) return fail(new AwsFault('MissingAuthenticationTokenException', 'Missing Authentication Token', 403))
    if (service !== 'ecs') return fail(new AwsFault('InvalidSignatureException', `Credential should be scoped to correct service: 'ecs'.`, 403))
    if (req.headers['content-type'] !== 'application/x-amz-json-1.1') return fail(new AwsFault('SerializationException', `Unexpected content type ${req.headers['content-type']}`))
    const op = target.startsWith(ECS_TARGET_PREFIX) ? this.ecs[action] : undefined
    if (!op) return fail(new AwsFault('UnknownOperationException', `Unknown operation ${target}`))
    try {
      params = body ? JSON.parse(body) : {}
      if (!params || typeof params !== 'object' || Array.isArray(params)) throw new Error('not an object')
    } catch {
      return fail(new AwsFault('SerializationException', 'Request body is not a JSON object'))
    }
    const refused = this.refusal(action, params)
    if (refused) return fail(new AwsFault('AccessDeniedException', `User: ${this.identity.arn} is not authorized to perform: ${refused.action} on resource: ${refused.resource} because no identity-based policy allows the ${refused.action} action`))
    const fault = this.faulty(action)
    if (fault === 'throttle') return fail(new AwsFault('ThrottlingException', 'Rate exceeded'))
    if (fault === 'server' && !this.faults?.afterEffect) return fail(new AwsFault('ServerException', 'Service Unavailable. Please try again later.', 500))
    Promise.resolve().then(() => op(params)).then(out => {
      if (fault === 'server') return fail(new AwsFault('ServerException', 'Service Unavailable. Please try again later.', 500))
      this.calls.push({ service: 'ecs', action, params, status: 200 })
      this.send(res, 200, 'application/x-amz-json-1.1', JSON.stringify(out), requestId)
    }, err => {
      if (err instanceof AwsFault) return fail(err)
      fail(new AwsFault('ServerException', `fake: ${(err as Error).message}`, 500))
    })
  }

  /** The action IAM refuses for this call, if any: the action itself, or what RunTask needs besides. */
  private refusal (action: string, params: any): { action: string, resource: string } | undefined {
    const cluster = typeof params.cluster === 'string' && params.cluster ? params.cluster.replace(/^.*:cluster\//, '') : 'default'
    const td = typeof params.taskDefinition === 'string' ? this.model.taskDef(params.taskDefinition) : undefined
    if (this.denied.has(action)) {
      // The resource IAM evaluated: the task definition for RunTask, the task for the calls on one.
      const resource = action === 'RunTask' ? td?.taskDefinitionArn ?? this.model.arn(`task-definition/${params.taskDefinition}`)
        : /^(StopTask|DescribeTasks)$/.test(action) ? this.model.arn(`task/${cluster}/*`) : '*'
      return { action: `ecs:${action}`, resource }
    }
    if (action !== 'RunTask') return undefined
    const role = [td?.taskRoleArn, td?.executionRoleArn].find((r): r is string => typeof r === 'string')
    if (this.denied.has('PassRole') && role) return { action: 'iam:PassRole', resource: role }
    // ECS authorizes tagging on create before it places anything.
    if (this.denied.has('TagResource') && Array.isArray(params.tags) && params.tags.length) return { action: 'ecs:TagResource', resource: this.model.arn(`task/${cluster}/*`) }
    return undefined
  }

  private handleSts (req: IncomingMessage, res: ServerResponse, body: string): void {
    const requestId = newRequestId()
    const form = new URLSearchParams(body)
    const action = form.get('Action') ?? ''
    const params = Object.fromEntries(form)
    const fail = (f: AwsFault) => {
      this.calls.push({ service: 'sts', action, params, status: f.status, error: f.type })
      this.send(res, f.status, 'text/xml', stsErrorXml(f.type, f.message, requestId, f.status), requestId)
    }
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return fail(new AwsFault('InvalidParameterValue', 'expected a form-encoded body'))
    if (form.get('Version') !== STS_VERSION) return fail(new AwsFault('InvalidParameterValue', `Version ${form.get('Version')} is not ${STS_VERSION}`))
    const op = this.sts[action]
    if (!op) return fail(new AwsFault('InvalidAction', `Could not find operation ${action} for version ${STS_VERSION}`))
    const fault = this.faulty(action)
    if (fault === 'throttle') return fail(new AwsFault('Throttling', 'Rate exceeded'))
    if (fault === 'server') return fail(new AwsFault('InternalFailure', 'An internal error has occurred', 500))
    try {
      const xml = op(form, requestId)
      this.calls.push({ service: 'sts', action, params, status: 200 })
      this.send(res, 200, 'text/xml', xml, requestId)
    } catch (err) {
      if (err instanceof AwsFault) return fail(err)
      fail(new AwsFault('InternalFailure', `fake: ${(err as Error).message}`, 500))
    }
  }

  private handleEc2 (req: IncomingMessage, res: ServerResponse, body: string): void {
    const requestId = newRequestId()
    const form = new URLSearchParams(body)
    const action = form.get('Action') ?? ''
    const params = Object.fromEntries(form)
    const fail = (f: AwsFault) => {
      this.calls.push({ service: 'ec2', action, params, status: f.status, error: f.type })
      this.send(res, f.status, 'text/xml;charset=UTF-8', ec2ErrorXml(f.type, f.message, requestId), requestId)
    }
    const service = signedFor(req)
    if (!service) return fail(new AwsFault('AuthFailure', 'AWS was not able to validate the provided access credentials', 401))
    if (service !== 'ec2') return fail(new AwsFault('AuthFailure', `Credential should be scoped to correct service: 'ec2'.`, 401))
    if (!String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded')) return fail(new AwsFault('InvalidParameterValue', 'expected a form-encoded body'))
    if (form.get('Version') !== EC2_VERSION) return fail(new AwsFault('InvalidParameterValue', `Version ${form.get('Version')} is not ${EC2_VERSION}`))
    const op = this.ec2[action]
    if (!op) return fail(new AwsFault('InvalidAction', `The action ${action} is not valid for this web service.`))
    if (this.denied.has(action)) return fail(new AwsFault('UnauthorizedOperation', 'You are not authorized to perform this operation.', 403))
    const fault = this.faulty(action)
    if (fault === 'throttle') return fail(new AwsFault('RequestLimitExceeded', 'Request limit exceeded.', 503))
    if (fault === 'server') return fail(new AwsFault('InternalError', 'An internal error has occurred', 500))
    try {
      const xml = op(form, requestId)
      this.calls.push({ service: 'ec2', action, params, status: 200 })
      this.send(res, 200, 'text/xml;charset=UTF-8', xml, requestId)
    } catch (err) {
      if (err instanceof AwsFault) return fail(err)
      fail(new AwsFault('InternalError', `fake: ${(err as Error).message}`, 500))
    }
  }

  /** Stops the server and kills every task process. */
  async close (): Promise<void> {
    await this.model.close()
    await new Promise<void>(resolve => {
      this.server.close(() => resolve())
      for (const s of this.sockets) s.destroy()
    })
  }
}

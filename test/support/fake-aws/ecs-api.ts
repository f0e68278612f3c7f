// The ECS operations wakegate uses, with the request checks the real API makes (limits,
// required members, incompatible parameters) and its response shapes (JSON 1.1, timestamps
// as epoch seconds). Checked against the ECS API reference and the SDK's schema.
import { AwsFault, appContainer, type Cluster, type FakeTask, type Instance, type Model, type TaskDef } from './model.js'

type Params = Record<string, unknown>

export interface EcsInjections {
  /** RunTask places nothing and returns these failures (one entry consumed per call). */
  runTaskFailures: Array<{ reason: string, detail?: string }>
}

// ── request checks ─────────────────────────────────────────────────────────────────────

const ser = (m: string) => new AwsFault('SerializationException', m)
const invalid = (m: string) => new AwsFault('InvalidParameterException', m)
const client = (m: string) => new AwsFault('ClientException', m)

function str (p: Params, k: string, opt: { required?: string, max?: number } = {}): string | undefined {
  const v = p[k]
  if (v === undefined || v === null) { if (opt.required) throw client(opt.required); return undefined }
  if (typeof v !== 'string') throw ser(`Expected a string for ${k}`)
  if (opt.required && v === '') throw client(opt.required)
  if (opt.max !== undefined && v.length > opt.max) throw invalid(`${k} must be ${opt.max} characters or less.`)
  return v
}

function list<T = unknown> (p: Params, k: string): T[] | undefined {
  const v = p[k]
  if (v === undefined || v === null) return undefined
  if (!Array.isArray(v)) throw ser(`Expected a list for ${k}`)
  return v as T[]
}

function int (p: Params, k: string): number | undefined {
  const v = p[k]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'number' || !Number.isInteger(v)) throw ser(`Expected an integer for ${k}`)
  return v
}

function bool (p: Params, k: string): boolean | undefined {
  const v = p[k]
  if (v === undefined || v === null) return undefined
  if (typeof v !== 'boolean') throw ser(`Expected a boolean for ${k}`)
  return v
}

function checkTags (tags: Array<{ key?: unknown, value?: unknown }>): void {
  if (tags.length > 50) throw invalid('Tags can not have more than 50 elements.')
  const seen = new Set<string>()
  for (const t of tags) {
    if (typeof t.key !== 'string' || t.key.length < 1 || t.key.length > 128) throw invalid('Tag keys must be between 1 and 128 characters.')
    if (t.value !== undefined && (typeof t.value !== 'string' || t.value.length > 256)) throw invalid('Tag values must be 256 characters or less.')
    if (/^aws:/i.test(t.key)) throw invalid('Tag keys may not begin with aws:.')
    if (seen.has(t.key)) throw invalid(`Duplicate tag key ${t.key}.`)
    seen.add(t.key)
  }
}

/** One page of a listing; the token is the offset of the next page. */
function paginate<T> (all: T[], token: string | undefined, max: number): { items: T[], nextToken?: string } {
  let start = 0
  if (token !== undefined) {
    start = Number(Buffer.from(token, 'base64url').toString('utf8'))
    if (!Number.isInteger(start) || start < 0) throw invalid('Invalid nextToken.')
  }
  const items = all.slice(start, start + max)
  return start + max < all.length ? { items, nextToken: Buffer.from(String(start + max)).toString('base64url') } : { items }
}

/** One memberOf expression of the cluster query language, in the form `attribute:NAME == VALUE` (or !=). */
function memberOf (inst: Instance, expression: string): boolean {
  const m = /^\s*attribute:([A-Za-z0-9_.-]+)\s*(==|!=)\s*([A-Za-z0-9_.:/-]+)\s*$/.exec(expression)
  if (!m) throw invalid(`fake ECS: unsupported cluster query expression "${expression}" (attribute:NAME == VALUE only)`)
  const has = inst.attributes[m[1]] === m[3]
  return m[2] === '==' ? has : !has
}

// ── response shapes ────────────────────────────────────────────────────────────────────

function taskJson (m: Model, t: FakeTask, withTags: boolean): Record<string, unknown> {
  const app = appContainer(t.td)
  const id = t.taskArn.split('/').pop()
  const containers = t.td.containerDefinitions.map(c => {
    const isApp = c === app
    const running = t.lastStatus === 'RUNNING' || t.lastStatus === 'STOPPING' || t.lastStatus === 'STOPPED'
    const out: Record<string, unknown> = {
      containerArn: m.arn(`container/${t.cluster.name}/${id}/${c.name}`),
      taskArn: t.taskArn,
      name: c.name,
      image: c.image,
      lastStatus: t.lastStatus === 'STOPPED' || t.lastStatus === 'STOPPING' ? 'STOPPED' : t.lastStatus === 'RUNNING' ? 'RUNNING' : 'PENDING',
      healthStatus: 'UNKNOWN'
    }
    if (isApp && t.exitCode !== undefined) out.exitCode = t.exitCode
    if (isApp && t.containerReason) out.reason = t.containerReason
    if (isApp && running && t.td.networkMode !== 'awsvpc') {
      out.networkBindings = [{ bindIP: '0.0.0.0', containerPort: t.containerPort, hostPort: t.port, protocol: 'tcp' }]
    }
    if (t.eni?.status === 'ATTACHED') out.networkInterfaces = [{ attachmentId: t.eni.id, privateIpv4Address: t.ip }]
    return out
  })
  const j: Record<string, unknown> = {
    taskArn: t.taskArn,
    clusterArn: t.cluster.arn,
    taskDefinitionArn: t.td.taskDefinitionArn,
    lastStatus: t.lastStatus,
    desiredStatus: t.desiredStatus,
    launchType: t.launchType,
    group: t.group,
    connectivity: 'CONNECTED',
    createdAt: t.createdAt,
    version: 1,
    containers,
    overrides: { containerOverrides: t.overrides.containerOverrides ?? [], inferenceAcceleratorOverrides: [] },
    availabilityZone: `${m.opts.region}a`,
    enableExecuteCommand: false
  }
  if (t.instance) j.containerInstanceArn = t.instance.containerInstanceArn
  if (t.capacityProviderName) j.capacityProviderName = t.capacityProviderName
  if (t.startedBy) j.startedBy = t.startedBy
  for (const k of ['pullStartedAt', 'pullStoppedAt', 'startedAt', 'stoppingAt', 'stoppedAt', 'stoppedReason', 'stopCode'] as const) {
    if (t[k] !== undefined) j[k] = t[k]
  }
  if (t.eni) {
    const details = [{ name: 'subnetId', value: 'subnet-0fake' }]
    if (t.eni.status === 'ATTACHED') details.push({ name: 'networkInterfaceId', value: t.eni.id }, { name: 'privateIPv4Address', value: t.ip })
    j.attachments = [{ id: t.eni.id.replace('eni-', 'att-'), type: 'ElasticNetworkInterface', status: t.eni.status, details }]
  }
  if (withTags) j.tags = t.tags
  return j
}

function taskDefJson (td: TaskDef): Record<string, unknown> {
  const { tags: _tags, ...rest } = td
  return { ...rest, compatibilities: td.networkMode === 'awsvpc' ? ['EC2', 'FARGATE'] : ['EC2'] }
}

function instanceJson (i: Instance): Record<string, unknown> {
  return {
    containerInstanceArn: i.containerInstanceArn,
    ec2InstanceId: i.ec2InstanceId,
    status: i.terminated ? 'INACTIVE' : 'ACTIVE',
    agentConnected: !i.terminated,
    runningTasksCount: 0,
    pendingTasksCount: 0,
    version: 1
  }
}

// ── operations ─────────────────────────────────────────────────────────────────────────

export function ecsOperations (m: Model, inject: EcsInjections): Record<string, (p: Params) => Promise<unknown> | unknown> {
  const idempotent = new Map<string, unknown>()

  return {
    async RunTask (p) {
      const tdRef = str(p, 'taskDefinition', { required: 'TaskDefinition can not be blank.' })!
      const count = int(p, 'count') ?? 1
      if (count < 1 || count > 10) throw invalid('count must be between 1 and 10.')
      // RunTask now documents 128 characters; the fake keeps the 36 StartTask and older
      // RunTask accept, which is what wakegate promises to send.
      const startedBy = str(p, 'startedBy', { max: 36 })
      if (startedBy !== undefined && !/^[A-Za-z0-9_/-]*$/.test(startedBy)) throw invalid('startedBy may contain only letters, numbers, hyphens, forward slashes and underscores.')
      const launchType = str(p, 'launchType')
      const strategy = list<{ capacityProvider?: string, weight?: number, base?: number }>(p, 'capacityProviderStrategy')
      if (launchType && strategy) throw invalid('Specifying both a launch type and capacity provider strategy is not supported. Remove one and try again.')
      if (launchType && !['EC2', 'FARGATE', 'EXTERNAL'].includes(launchType)) throw ser(`Unknown launchType ${launchType}`)
      if (strategy && (strategy.length === 0 || strategy.length > 20)) throw invalid('capacityProviderStrategy must have between 1 and 20 entries.')
      const tags = list<{ key?: unknown, value?: unknown }>(p, 'tags') ?? []
      checkTags(tags)
      const propagate = str(p, 'propagateTags')
      if (propagate === 'SERVICE') throw invalid('The SERVICE option for propagateTags is not supported when running a task.')
      if (propagate && !['TASK_DEFINITION', 'NONE'].includes(propagate)) throw ser(`Unknown propagateTags ${propagate}`)
      bool(p, 'enableECSManagedTags')
      const token = str(p, 'clientToken', { max: 64 })
      if (token !== undefined && !/^[\x21-\x7e]+$/.test(token)) throw invalid('clientToken may contain only characters 33-126.')
      const constraints = list<{ type?: unknown, expression?: unknown }>(p, 'placementConstraints') ?? []
      if (constraints.length > 10) throw invalid('placementConstraints can have at most 10 entries.')
      for (const c of constraints) {
        if (c.type !== 'memberOf' && c.type !== 'distinctInstance') throw ser(`Unknown placement constraint type ${String(c.type)}`)
        if (c.type === 'memberOf' && (typeof c.expression !== 'string' || !c.expression)) throw invalid('A memberOf placement constraint needs an expression.')
        if (c.type === 'distinctInstance' && c.expression !== undefined) throw invalid('A distinctInstance placement constraint takes no expression.')
      }
      const overrides = (p.overrides ?? {}) as FakeTask['overrides']
      if (typeof overrides !== 'object') throw ser('Expected a structure for overrides')
      if (JSON.stringify(overrides).length > 8192) throw invalid('Container Overrides length must be at most 8192')

      const cluster = m.cluster(p.cluster)
      const td = m.taskDef(tdRef)
      if (!td) throw client('TaskDefinition not found.')
      for (const o of overrides.containerOverrides ?? []) {
        if (!td.containerDefinitions.some(c => c.name === o.name)) throw invalid(`Override for container named ${o.name} is not a container in the TaskDefinition.`)
        if (o.command !== undefined && (!Array.isArray(o.command) || o.command.some(x => typeof x !== 'string'))) throw ser('Expected a list of strings for command')
      }
      const awsvpc = td.networkMode === 'awsvpc'
      const net = p.networkConfiguration as { awsvpcConfiguration?: { subnets?: unknown[], securityGroups?: unknown[], assignPublicIp?: string } } | undefined
      if (awsvpc && !net?.awsvpcConfiguration) throw invalid("Network Configuration must be provided when networkMode 'awsvpc' is specified.")
      if (!awsvpc && net) throw invalid('Network Configuration is not valid for the given networkMode of this task definition.')
      if (net?.awsvpcConfiguration) {
        const subnets = net.awsvpcConfiguration.subnets
        if (!Array.isArray(subnets) || subnets.length === 0 || subnets.length > 16) throw invalid('subnets can not be empty and can have at most 16 entries.')
        if ((net.awsvpcConfiguration.securityGroups?.length ?? 0) > 5) throw invalid('securityGroups can have at most 5 entries.')
      }

      // Which capacity: a launch type, the strategy's first weighted provider, or EC2.
      let kind = launchType ?? 'EC2'
      let providerName: string | undefined
      if (strategy) {
        const chosen = strategy.find(s => (s.weight ?? 0) > 0) ?? strategy[0]
        providerName = chosen.capacityProvider
        if (!providerName || !cluster.capacityProviders.includes(providerName)) {
          throw invalid('The specified capacity provider strategy cannot contain a capacity provider that is not associated with the cluster. Associate the capacity provider with the cluster or specify a valid capacity provider and try again.')
        }
        kind = providerName.startsWith('FARGATE') ? 'FARGATE' : 'EC2'
      }
      if (kind === 'FARGATE' && !awsvpc) throw invalid('Task definition does not support launch_type FARGATE.')
      if (kind === 'FARGATE' && constraints.length) throw invalid('Placement constraints are not supported with FARGATE launch type.')
      if (kind !== 'FARGATE' && net?.awsvpcConfiguration?.assignPublicIp === 'ENABLED') throw invalid('Assign public IP is not supported for this launch type.')

      if (token !== undefined && idempotent.has(token)) return idempotent.get(token)
      const failure = inject.runTaskFailures.shift()
      let out: unknown
      const live = cluster.instances.filter(x => !x.terminated)
      // Instances every memberOf constraint admits; the others are reported as MEMBER failures.
      const members = live.filter(inst => constraints.every(c => c.type !== 'memberOf' || memberOf(inst, c.expression as string)))
      if (failure) {
        const instance = live[0]
        out = { tasks: [], failures: [{ arn: instance?.containerInstanceArn ?? cluster.arn, ...failure }] }
      } else if (kind !== 'FARGATE' && live.length > 0 && members.length === 0) {
        out = { tasks: [], failures: live.map(inst => ({ arn: inst.containerInstanceArn, reason: 'MEMBER' })) }
      } else {
        const group = str(p, 'group', { max: 255 })
        if (kind !== 'FARGATE' && members.length === 0) throw invalid('No Container Instances were found in your cluster.')
        // distinctInstance: no two tasks of the group (this call's or earlier ones not yet
        // stopped) on one instance; tasks beyond the instances left are not placed.
        const distinct = constraints.some(c => c.type === 'distinctInstance')
        const taken = new Set<Instance>()
        if (distinct) {
          const inGroup = group ?? `family:${td.family}`
          for (const x of m.tasks.values()) if (x.cluster === cluster && x.group === inGroup && x.lastStatus !== 'STOPPED' && x.instance) taken.add(x.instance)
        }
        const tasks: FakeTask[] = []
        const failures: Array<{ arn: string, reason: string }> = []
        for (let i = 0; i < count; i++) {
          let instance: Instance | undefined
          if (kind !== 'FARGATE') {
            const free = members.filter(x => !taken.has(x))
            if (free.length === 0) {
              failures.push({ arn: members[i % members.length].containerInstanceArn, reason: 'DistinctInstance placement constraint unsatisfied.' })
              continue
            }
            instance = free[cluster.rr++ % free.length]
            if (distinct) taken.add(instance)
          }
          tasks.push(await m.launch({
            cluster,
            td,
            launchType: kind,
            capacityProviderName: providerName,
            startedBy,
            group,
            tags: tags as FakeTask['tags'],
            overrides,
            instance
          }))
        }
        out = { tasks: tasks.map(t => taskJson(m, t, true)), failures }
      }
      if (token !== undefined) idempotent.set(token, out)
      return out
    },

    DescribeTasks (p) {
      const refs = list<string>(p, 'tasks')
      if (!refs || refs.length === 0) throw client('Tasks cannot be empty.')
      if (refs.length > 100) throw invalid('Tasks cannot be longer than 100.')
      const include = list<string>(p, 'include') ?? []
      const cluster = m.cluster(p.cluster)
      const tasks: unknown[] = []
      const failures: unknown[] = []
      for (const ref of refs) {
        if (typeof ref !== 'string') throw ser('Expected strings in tasks')
        const t = m.task(cluster, ref)
        if (t) tasks.push(taskJson(m, t, include.includes('TAGS')))
        else failures.push({ arn: ref, reason: 'MISSING' })
      }
      return { tasks, failures }
    },

    StopTask (p) {
      const ref = str(p, 'task', { required: 'Task can not be blank.' })!
      const reason = str(p, 'reason', { max: 255 })
      const cluster = m.cluster(p.cluster)
      const t = m.task(cluster, ref)
      if (!t) throw invalid('The referenced task was not found.')
      m.stop(t, reason ?? 'Task stopped by user', 'UserInitiated')
      return { task: taskJson(m, t, false) }
    },

    ListTasks (p) {
      const startedBy = str(p, 'startedBy', { max: 36 })
      const filters = ['containerInstance', 'family', 'serviceName', 'desiredStatus', 'launchType'].filter(k => p[k] !== undefined)
      if (startedBy !== undefined && filters.length) throw invalid('startedBy must be the only filter when it is specified.')
      const max = int(p, 'maxResults') ?? 100
      if (max < 1 || max > 100) throw invalid('maxResults must be between 1 and 100.')
      const desired = str(p, 'desiredStatus') ?? 'RUNNING'
      const family = str(p, 'family')
      const cluster = m.cluster(p.cluster)
      const arns = [...m.tasks.values()]
        .filter(t => t.cluster === cluster && t.desiredStatus === desired)
        .filter(t => startedBy === undefined || t.startedBy === startedBy)
        .filter(t => family === undefined || t.td.family === family)
        .map(t => t.taskArn)
      const { items, nextToken } = paginate(arns, str(p, 'nextToken'), max)
      return nextToken ? { taskArns: items, nextToken } : { taskArns: items }
    },

    ListTaskDefinitions (p) {
      // familyPrefix is "the full family name" (API reference): only that family's revisions.
      const family = str(p, 'familyPrefix')
      const status = str(p, 'status') ?? 'ACTIVE'
      if (!['ACTIVE', 'INACTIVE', 'DELETE_IN_PROGRESS'].includes(status)) throw ser(`Unknown status ${status}`)
      const sort = str(p, 'sort') ?? 'ASC'
      if (!['ASC', 'DESC'].includes(sort)) throw ser(`Unknown sort ${sort}`)
      const max = int(p, 'maxResults') ?? 100
      if (max < 1 || max > 100) throw invalid('maxResults must be between 1 and 100.')
      // ASC: by family name, then revision (newest last); DESC reverses both.
      const arns = [...m.families.entries()]
        .filter(([f]) => family === undefined || f === family)
        .sort(([a], [b]) => a < b ? -1 : a > b ? 1 : 0)
        .flatMap(([, revs]) => revs.filter(r => r.status === status).map(r => r.taskDefinitionArn))
      if (sort === 'DESC') arns.reverse()
      const { items, nextToken } = paginate(arns, str(p, 'nextToken'), max)
      return nextToken ? { taskDefinitionArns: items, nextToken } : { taskDefinitionArns: items }
    },

    DescribeContainerInstances (p) {
      const refs = list<string>(p, 'containerInstances')
      if (!refs || refs.length === 0) throw client('ContainerInstances cannot be empty.')
      if (refs.length > 100) throw invalid('ContainerInstances cannot be longer than 100.')
      const cluster: Cluster = m.cluster(p.cluster)
      const containerInstances: unknown[] = []
      const failures: unknown[] = []
      for (const ref of refs) {
        const id = String(ref).split('/').pop()
        const inst = cluster.instances.find(i => i.containerInstanceArn.endsWith(`/${id}`))
        if (inst) containerInstances.push(instanceJson(inst))
        else failures.push({ arn: ref, reason: 'MISSING' })
      }
      return { containerInstances, failures }
    },

    DescribeTaskDefinition (p) {
      const ref = str(p, 'taskDefinition', { required: 'TaskDefinition can not be blank.' })!
      const td = m.taskDef(ref)
      if (!td) throw client('Unable to describe task definition.')
      const include = list<string>(p, 'include') ?? []
      return include.includes('TAGS') ? { taskDefinition: taskDefJson(td), tags: td.tags } : { taskDefinition: taskDefJson(td) }
    },

    RegisterTaskDefinition (p) {
      const family = str(p, 'family', { required: 'Family can not be blank.' })!
      if (!/^[A-Za-z0-9_-]{1,255}$/.test(family)) throw client('Family contains invalid characters.')
      const defs = list<Record<string, unknown>>(p, 'containerDefinitions')
      if (!defs || defs.length === 0) throw client('Container list cannot be empty.')
      for (const d of defs) {
        if (typeof d.name !== 'string' || !d.name) throw client('Container.name should not be null or empty.')
        if (typeof d.image !== 'string' || !d.image) throw client('Container.image should not be null or empty.')
      }
      const networkMode = str(p, 'networkMode')
      if (networkMode && !['bridge', 'host', 'awsvpc', 'none'].includes(networkMode)) throw ser(`Unknown networkMode ${networkMode}`)
      const tags = list<{ key?: unknown, value?: unknown }>(p, 'tags') ?? []
      checkTags(tags)
      const { tags: _t, family: _f, containerDefinitions: _c, networkMode: _n, ...rest } = p
      const td = m.register({ ...rest, family, networkMode, containerDefinitions: defs as TaskDef['containerDefinitions'], tags: tags as TaskDef['tags'] })
      return { taskDefinition: taskDefJson(td), tags: td.tags }
    }
  }
}

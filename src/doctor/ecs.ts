// The checks of one app on the ecs backend: its cluster, task definition and container, one
// line per IAM action it needs (actionsForApp, the policy's one source of truth), each tested
// by a real call or a harmless probe, and whether the gateway can reach a running task.
import { DescribeTasksCommand, ListTaskDefinitionsCommand, ListTasksCommand, type Task, type TaskDefinition } from '@aws-sdk/client-ecs'
import type { AppConfig } from '../config/load.js'
import type { EcsConfig } from '../backends/ecs/config.js'
import { HostResolver } from '../backends/ecs/hosts.js'
import { actionsForApp } from '../backends/ecs/iam-policy.js'
import { attempt, iamFix, type Failure, type Outcome } from './aws-call.js'
import type { AwsGroup } from './aws.js'
import { check, type Check } from './check.js'
import { PROBE_TASK_ID, probeTaskRef, runTaskProbe, stopTaskProbe, type ProbeResult } from './probe.js'
import { lookupCheck, reachCheck, runningTask } from './reach.js'
import { containerCheck, describeTaskDefinition, taskDefinitionCheck } from './taskdef.js'

/** The IAM line for an action tested by a plain call. */
function callCheck (id: string, title: string, action: string, r: Outcome<unknown>, what: string): Check {
  if (r.ok) return check(id, title, 'ok', `allowed (${what})`)
  if (r.kind === 'denied') return check(id, title, 'fail', r.text, iamFix(r.action ?? action))
  return check(id, title, 'warn', `could not tell: ${r.text}`)
}

function probeCheck (id: string, title: string, action: string, r: ProbeResult): Check {
  if (r.allowed) return check(id, title, 'ok', r.detail)
  if (r.failure.kind === 'denied') return check(id, title, 'fail', r.failure.text, iamFix(action))
  return check(id, title, 'warn', `could not tell: ${r.failure.text}`)
}

/** A task definition's family from the configured reference (family, family:revision or ARN). */
function familyOf (ref: string, td: TaskDefinition | undefined): string {
  return td?.family ?? ref.replace(/^arn:[^:]+:ecs:[^:]+:\d+:task-definition\//, '').replace(/:\d+$/, '')
}

export async function ecsAppChecks (app: AppConfig, cfg: EcsConfig, g: AwsGroup): Promise<Check[]> {
  const id = (s: string) => `ecs.${app.name}.${s}`
  const title = (s: string) => `${app.name}: ${s}`
  const actions = actionsForApp(cfg)
  const iam = new Map<string, Check>()
  const set = (action: string, c: (id: string, title: string) => Check) => { if (actions.includes(action)) iam.set(action, c(id(`iam.${action}`), title(action))) }
  const { ecs } = g.clients
  const region = await g.clients.ecs.config.region()
  // What the calls so far say about the cluster (an object: the calls below update it).
  const known: { cluster?: 'found' | 'missing' } = {}
  const seen = (r: Outcome<unknown> | Failure) => {
    if (!('kind' in r)) known.cluster ??= 'found'
    else if (r.kind === 'cluster') known.cluster = 'missing'
    else if (r.kind === 'invalid') known.cluster ??= 'found'
  }
  // Lines before the IAM ones (task definition, container) and after (reachability).
  const pre: Check[] = []
  const post: Check[] = []
  const clusterMissing = () => known.cluster === 'missing'
  const clusterCheck = () => clusterMissing()
    ? check(id('cluster'), title('cluster'), 'fail', `cluster ${cfg.cluster} not found in ${region}${g.identity ? ` (account ${g.identity.account})` : ''}`,
      'check backend.cluster and backend.region (and that the credentials are of the cluster\'s account)')
    : check(id('cluster'), title('cluster'), known.cluster === 'found' ? 'ok' : 'skip', known.cluster === 'found' ? `${cfg.cluster} in ${region}` : 'could not tell (every call was refused)')
  const ending = (skipWhy: string) => [
    clusterCheck(),
    ...pre,
    ...actions.map(a => iam.get(a) ?? check(id(`iam.${a}`), title(a), 'skip', skipWhy)),
    ...post
  ]

  // ListTasks first: it tells whether ECS answers at all and whether the cluster exists.
  const startedBy = cfg.startedBy.slice(0, 36)
  const listed = await attempt(() => ecs.send(new ListTasksCommand({ cluster: cfg.cluster, startedBy, maxResults: 100 })))
  seen(listed)
  if (!listed.ok && listed.kind === 'unreachable') {
    pre.push(check(id('api'), title('ECS API'), 'fail', `ECS did not answer: ${listed.text}`,
      `let the gateway reach ecs.${region}.amazonaws.com (a NAT gateway or an ECS VPC endpoint)${cfg.endpoint ? `, or check backend.endpoint ${cfg.endpoint}` : ''}`))
    return ending('ECS did not answer')
  }
  if (!listed.ok && listed.kind === 'credentials') {
    pre.push(check(id('api'), title('ECS API'), 'fail', `ECS refused the credentials: ${listed.text}`,
      'the access key is unknown, revoked or expired, or the clock is off: refresh the credentials (or the profile/role they come from)'))
    return ending('the credentials were refused')
  }
  if (clusterMissing()) return ending('cluster not found')
  set('ecs:ListTasks', (i, t) => callCheck(i, t, 'ecs:ListTasks', listed, `started by "${startedBy}": ${listed.ok ? listed.value.taskArns?.length ?? 0 : 0} running`))

  const described = await describeTaskDefinition(ecs, cfg)
  const td = described.ok ? described.value : undefined
  pre.push(taskDefinitionCheck(id('taskdef'), title('task definition'), cfg, described))
  pre.push(containerCheck(id('container'), title('container'), cfg, app.port, td))
  set('ecs:DescribeTaskDefinition', (i, t) => callCheck(i, t, 'ecs:DescribeTaskDefinition', described, 'read the task definition'))
  const tdMissing = !described.ok && described.kind === 'invalid'

  // DescribeTasks of what ListTasks found, or of the probe id (ECS answers MISSING).
  const arns = listed.ok ? listed.value.taskArns ?? [] : []
  const refs = arns.length ? arns.slice(0, 100) : [probeTaskRef(cfg, region, g.identity)]
  const tasks = await attempt(async () => (await ecs.send(new DescribeTasksCommand({ cluster: cfg.cluster, tasks: refs, include: ['TAGS'] }))).tasks ?? [])
  seen(tasks)
  set('ecs:DescribeTasks', (i, t) => callCheck(i, t, 'ecs:DescribeTasks', tasks, arns.length ? `described ${refs.length} task(s)` : `described the probe id ${PROBE_TASK_ID}`))
  const running: Task | undefined = tasks.ok ? runningTask(tasks.value, app.name) : undefined

  const stopped = await stopTaskProbe(ecs, cfg, probeTaskRef(cfg, region, g.identity))
  seen(stopped.allowed ? { ok: true, value: undefined } : stopped.failure)
  set('ecs:StopTask', (i, t) => probeCheck(i, t, 'ecs:StopTask', stopped))
  if (clusterMissing()) return ending('cluster not found')

  if (tdMissing) {
    for (const a of ['ecs:RunTask', 'ecs:TagResource', 'iam:PassRole']) set(a, (i, t) => check(i, t, 'skip', 'the task definition was not found'))
  } else {
    runProbeChecks(await runTaskProbe(ecs, app, cfg, td), td, set)
  }

  if (cfg.image) {
    const family = familyOf(cfg.taskDefinition, td)
    const revisions = await attempt(() => ecs.send(new ListTaskDefinitionsCommand({ familyPrefix: family, status: 'ACTIVE', sort: 'DESC', maxResults: 1 })))
    set('ecs:ListTaskDefinitions', (i, t) => callCheck(i, t, 'ecs:ListTaskDefinitions', revisions, `listed revisions of ${family}`))
    set('ecs:RegisterTaskDefinition', (i, t) => check(i, t, 'skip', 'not checked (would register a revision)'))
  }

  const noTask = !listed.ok || !tasks.ok ? 'no running task to try: the tasks could not be listed' : 'no running task to try (wake an env and run doctor again)'
  const reached = await reachCheck(id('reach'), title('gateway → task'), cfg, app.port, running, new HostResolver(ecs, g.clients.ec2, cfg.cluster), noTask)
  for (const a of ['ecs:DescribeContainerInstances', 'ec2:DescribeInstances']) {
    set(a, (i, t) => lookupCheck(i, t, a, reached.lookups.get(a), !running))
  }
  post.push(reached.reach)
  return ending('not checked by doctor')
}

/** RunTask, and what ECS checks along with it: PassRole for the task's roles, TagResource for the tags. */
function runProbeChecks ({ result, started, launchType }: Awaited<ReturnType<typeof runTaskProbe>>, td: TaskDefinition | undefined, set: (action: string, c: (id: string, title: string) => Check) => void): void {
  const roles = td ? [td.taskRoleArn, td.executionRoleArn].filter(Boolean).length : undefined
  const denied = !result.allowed && result.failure.kind === 'denied' ? result.failure.action ?? 'ecs:RunTask' : undefined
  if (started.length) {
    set('ecs:RunTask', (i, t) => check(i, t, 'fail', result.allowed ? result.detail : 'the probe started a task',
      'a container instance carries the attribute wakegate.doctor=probe: remove it, it lets the probe place tasks'))
  } else if (denied && denied !== 'ecs:RunTask') {
    // ECS authorized RunTask itself and refused what it checks next.
    set('ecs:RunTask', (i, t) => check(i, t, 'ok', `allowed (ECS went on to check ${denied})`))
  } else {
    set('ecs:RunTask', (i, t) => probeCheck(i, t, 'ecs:RunTask', result))
  }
  for (const action of ['iam:PassRole', 'ecs:TagResource']) {
    set(action, (i, t) => {
      if (action === 'iam:PassRole' && roles === 0) return check(i, t, 'skip', 'the task definition passes no role (no taskRoleArn or executionRoleArn)')
      if (denied === action && !result.allowed) return check(i, t, 'fail', result.failure.text, iamFix(action))
      if (denied) return check(i, t, 'skip', `not reached: ECS refused ${denied} first`)
      if (!result.allowed) return check(i, t, 'skip', 'the RunTask probe could not tell')
      const what = action === 'iam:PassRole' ? 'the task\'s roles' : 'wakegate\'s tags'
      return check(i, t, 'ok', `allowed: the ${launchType} RunTask probe with ${what} was not refused`)
    })
  }
}

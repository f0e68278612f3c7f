// The app's task definition as ECS has it: it exists, has the configured container, and that
// container maps the app's port (for per-SHA images, the base definition the revisions copy).
import { DescribeTaskDefinitionCommand, type ECSClient, type TaskDefinition } from '@aws-sdk/client-ecs'
import type { EcsConfig } from '../backends/ecs/config.js'
import { attempt, iamFix, type Outcome } from './aws-call.js'
import { check, type Check } from './check.js'

export function describeTaskDefinition (ecs: ECSClient, cfg: EcsConfig): Promise<Outcome<TaskDefinition | undefined>> {
  return attempt(async () => (await ecs.send(new DescribeTaskDefinitionCommand({ taskDefinition: cfg.taskDefinition }))).taskDefinition)
}

/** family:revision of a task definition. */
export function revisionName (td: TaskDefinition): string {
  return td.family && td.revision ? `${td.family}:${td.revision}` : td.taskDefinitionArn ?? '?'
}

/** The `taskdef` check: the gateway describes the task definition itself (task size, per-SHA images). */
export function taskDefinitionCheck (id: string, title: string, cfg: EcsConfig, r: Outcome<TaskDefinition | undefined>): Check {
  if (r.ok && r.value) {
    const td = r.value
    const compat = td.requiresCompatibilities?.length ? `, ${td.requiresCompatibilities.join('/')}` : ''
    return check(id, title, 'ok', `${revisionName(td)} (${td.networkMode ?? 'bridge'} networking${compat})`)
  }
  if (r.ok || r.kind === 'invalid') {
    return check(id, title, 'fail', `task definition ${cfg.taskDefinition} not found${r.ok ? '' : `: ${r.text}`}`,
      'set backend.taskDefinition to a family, family:revision or ARN that exists in this account and region')
  }
  if (r.kind === 'denied') return check(id, title, 'fail', r.text, iamFix('ecs:DescribeTaskDefinition'))
  return check(id, title, 'fail', `cannot describe ${cfg.taskDefinition}: ${r.text}`)
}

/** The `container` check: the configured container exists and maps the app's port. */
export function containerCheck (id: string, title: string, cfg: EcsConfig, port: number, td: TaskDefinition | undefined): Check {
  if (!td) return check(id, title, 'skip', 'the task definition could not be read')
  const containers = td.containerDefinitions ?? []
  const c = containers.find(x => x.name === cfg.container)
  if (!c) {
    const names = containers.map(x => x.name).join(', ') || 'none'
    return check(id, title, 'fail', `${revisionName(td)} has no container "${cfg.container}" (it has: ${names})`,
      `set backend.container to the container that listens on port ${port} (one of: ${names})`)
  }
  const mappings = c.portMappings ?? []
  const mapping = mappings.find(m => m.containerPort === port && (m.protocol ?? 'tcp') === 'tcp')
  const awsvpc = td.networkMode === 'awsvpc'
  if (!mapping) {
    const has = mappings.map(m => m.containerPort).filter(p => p !== undefined).join(', ')
    // awsvpc tasks are reached on their own address at the app port, mapped or not.
    return check(id, title, awsvpc ? 'warn' : 'fail', `container ${c.name} maps no port ${port}${has ? ` (it maps ${has})` : ''}`,
      `add a portMapping { containerPort: ${port} } to container ${c.name}, or set apps[].port to the port it listens on`)
  }
  const how = awsvpc ? 'on the task\'s own address' : td.networkMode === 'host' ? 'on the instance' : mapping.hostPort ? `on host port ${mapping.hostPort}` : 'on a dynamic host port'
  return check(id, title, 'ok', `container ${c.name} maps ${port}/tcp (${how})`)
}

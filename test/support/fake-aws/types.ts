// The shapes of the fake's world: container instances, clusters, task definitions, tasks.
import type { ChildProcess } from 'node:child_process'

export interface Delays {
  /** awsvpc: ENI being attached. */
  provisioning: number
  /** Image pull and container start, until RUNNING (half each; a pull model sets the pull's). */
  pending: number
  /** From the process exiting to STOPPED. */
  stopping: number
}

export interface Instance {
  containerInstanceArn: string
  ec2InstanceId: string
  privateIp: string
  cluster: string
  terminated: boolean
  /** What memberOf placement constraints match (`attribute:ecs.os-type == linux`). */
  attributes: Record<string, string>
  /** Images pulled onto the instance (its cache; used with a pull model). */
  images: Set<string>
  /** Pulls in progress, shared by every task that needs the image meanwhile. */
  pulling: Map<string, Promise<void>>
  /** Pulls completed on the instance. */
  pulls: number
}

export interface Cluster {
  name: string
  arn: string
  instances: Instance[]
  capacityProviders: string[]
  rr: number
}

export interface PortMapping { containerPort?: number, hostPort?: number, protocol?: string }
export interface ContainerDef {
  name: string
  image: string
  essential?: boolean
  environment?: Array<{ name: string, value: string }>
  portMappings?: PortMapping[]
  [k: string]: unknown
}
export interface TaskDef {
  family: string
  revision: number
  taskDefinitionArn: string
  status: 'ACTIVE' | 'INACTIVE'
  networkMode: string
  containerDefinitions: ContainerDef[]
  requiresCompatibilities?: string[]
  tags: Array<{ key: string, value?: string }>
  registeredAt: number
  [k: string]: unknown
}

/** What RegisterTaskDefinition takes (plus anything else, kept as given). */
export interface RegisterInput {
  family: string
  containerDefinitions: ContainerDef[]
  networkMode?: string
  tags?: TaskDef['tags']
  [k: string]: unknown
}

export interface FakeTask {
  taskArn: string
  cluster: Cluster
  td: TaskDef
  startedBy?: string
  group: string
  tags: Array<{ key: string, value?: string }>
  overrides: { containerOverrides?: Array<{ name?: string, command?: string[], environment?: Array<{ name: string, value: string }> }> }
  launchType: string
  capacityProviderName?: string
  instance?: Instance
  /** Where the app listens: the instance IP + host port (bridge) or the ENI IP + container port (awsvpc). */
  ip: string
  port: number
  containerPort: number
  eni?: { id: string, status: string }
  lastStatus: string
  desiredStatus: string
  createdAt: number
  pullStartedAt?: number
  pullStoppedAt?: number
  startedAt?: number
  stoppingAt?: number
  stoppedAt?: number
  stoppedReason?: string
  stopCode?: string
  exitCode?: number
  containerReason?: string
  child?: ChildProcess
  exited?: Promise<void>
  output: string[]
  timers: NodeJS.Timeout[]
  /** Set by crash(): the exit code and reason ECS reports instead of the process's own. */
  forcedExit?: { exitCode: number, reason?: string }
}

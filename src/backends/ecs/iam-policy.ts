// The least-privilege IAM policy of the gateway, in one place: the README prints it for an
// example (a test compares), the CloudFormation stack in deploy/ attaches it with its own
// names, and `wakegate doctor` checks the actions it lists.

export interface PolicyStatement {
  Sid: string
  Effect: 'Allow'
  Action: string | string[]
  Resource: string | string[]
  Condition?: Record<string, Record<string, string | string[]>>
}

export interface PolicyDocument {
  Version: '2012-10-17'
  Statement: PolicyStatement[]
}

export interface PolicyScope {
  partition?: string
  region: string
  account: string
  /** Cluster name (not ARN). */
  cluster: string
  /** Task definition family, or a family pattern such as `review-*`. */
  family: string
  /** Roles the review tasks run with (task role, execution role): the only ones passed. */
  passRoles: string[]
}

/**
 * What the gateway needs to run, watch, find and stop review tasks. `ec2:DescribeInstances`
 * and `ecs:DescribeContainerInstances` are used with bridge/host networking only.
 */
export function gatewayStatements (s: PolicyScope): PolicyStatement[] {
  const ecs = `arn:${s.partition ?? 'aws'}:ecs:${s.region}:${s.account}`
  const cluster = { ArnEquals: { 'ecs:cluster': `${ecs}:cluster/${s.cluster}` } }
  return [
    { Sid: 'RunReviewTasksOnTheCluster', Effect: 'Allow', Action: 'ecs:RunTask', Resource: `${ecs}:task-definition/${s.family}:*`, Condition: cluster },
    { Sid: 'TagTasksWhenRunning', Effect: 'Allow', Action: 'ecs:TagResource', Resource: `${ecs}:task/${s.cluster}/*`, Condition: { StringEquals: { 'ecs:CreateAction': 'RunTask' } } },
    { Sid: 'WatchAndStopReviewTasks', Effect: 'Allow', Action: ['ecs:DescribeTasks', 'ecs:StopTask'], Resource: `${ecs}:task/${s.cluster}/*` },
    { Sid: 'ListReviewTasks', Effect: 'Allow', Action: 'ecs:ListTasks', Resource: '*', Condition: cluster },
    { Sid: 'FindTaskAddresses', Effect: 'Allow', Action: 'ecs:DescribeContainerInstances', Resource: `${ecs}:container-instance/${s.cluster}/*` },
    { Sid: 'FindInstanceAddresses', Effect: 'Allow', Action: 'ec2:DescribeInstances', Resource: '*' },
    // The task size (CPU, memory) the cost of an env is computed from; it accepts only `*`.
    { Sid: 'ReadTaskSizes', Effect: 'Allow', Action: 'ecs:DescribeTaskDefinition', Resource: '*' },
    { Sid: 'PassTheTaskRoles', Effect: 'Allow', Action: 'iam:PassRole', Resource: s.passRoles, Condition: { StringEquals: { 'iam:PassedToService': 'ecs-tasks.amazonaws.com' } } }
  ]
}

/**
 * Per-SHA images (`image` set): revisions of the base definition's family are listed and
 * registered. ECS authorizes RegisterTaskDefinition on the family's ARN, so it is scoped
 * like RunTask; listing and describing task definitions accept only `*`.
 */
export function perShaStatements (s: PolicyScope): PolicyStatement[] {
  const ecs = `arn:${s.partition ?? 'aws'}:ecs:${s.region}:${s.account}`
  return [
    { Sid: 'ListTaskDefinitions', Effect: 'Allow', Action: 'ecs:ListTaskDefinitions', Resource: '*' },
    { Sid: 'RegisterPerShaRevisions', Effect: 'Allow', Action: 'ecs:RegisterTaskDefinition', Resource: `${ecs}:task-definition/${s.family}:*` },
    { Sid: 'TagTaskDefinitionsWhenRegistering', Effect: 'Allow', Action: 'ecs:TagResource', Resource: `${ecs}:task-definition/${s.family}:*`, Condition: { StringEquals: { 'ecs:CreateAction': 'RegisterTaskDefinition' } } }
  ]
}

export function gatewayPolicy (s: PolicyScope, opts: { perSha?: boolean } = {}): PolicyDocument {
  return { Version: '2012-10-17', Statement: [...gatewayStatements(s), ...(opts.perSha ? perShaStatements(s) : [])] }
}

/** The scope the README's example policy is written for. */
export const README_SCOPE: PolicyScope = {
  region: 'us-east-1',
  account: '123456789012',
  cluster: 'review',
  family: 'shop-review',
  passRoles: ['arn:aws:iam::123456789012:role/shop-review-task', 'arn:aws:iam::123456789012:role/shop-review-execution']
}

export function actionsOf (statements: PolicyStatement[]): string[] {
  return [...new Set(statements.flatMap(s => Array.isArray(s.Action) ? s.Action : [s.Action]))].sort()
}

/** Actions an ecs app needs, by its settings (`wakegate doctor` checks each). */
export function actionsForApp (app: { image?: string, networkConfiguration?: unknown, launchType?: string }): string[] {
  const scope: PolicyScope = { region: 'r', account: 'a', cluster: 'c', family: 'f', passRoles: [] }
  const awsvpc = app.networkConfiguration !== undefined || app.launchType === 'FARGATE'
  const base = gatewayStatements(scope).filter(s => !(awsvpc && (s.Sid === 'FindTaskAddresses' || s.Sid === 'FindInstanceAddresses')))
  return actionsOf([...base, ...(app.image ? perShaStatements(scope) : [])])
}

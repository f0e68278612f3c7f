// Gateway configs for apps on the ecs backend, pointed at a running fake.
import { exampleApp, type AppOverrides } from '../harness.js'
import type { FakeAws } from './index.js'

/** The ecs backend settings for the fake's default cluster and task definition. */
export function ecsBackend (fake: FakeAws, over: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    kind: 'ecs',
    endpoint: fake.url,
    ec2Endpoint: fake.url,
    region: 'us-east-1',
    cluster: 'review',
    taskDefinition: 'web',
    container: 'web',
    pollInterval: '50ms',
    ...over
  }
}

/** The example app (host pr-{pr}.review.test, PRs 1 and 2) running on the fake ECS. */
export function ecsApp (fake: FakeAws, over: AppOverrides = {}, backend: Record<string, unknown> = {}): Record<string, unknown> {
  return exampleApp({ backend: ecsBackend(fake, backend), ...over })
}

/** Known PRs 1..n, each on its own branch and SHA. */
export function prs (n: number): Array<{ number: number, branch: string, sha: string }> {
  return Array.from({ length: n }, (_, i) => ({ number: i + 1, branch: `feature/${i + 1}`, sha: `${(i + 1).toString(16).padStart(2, '0')}c0ffee`.slice(0, 8) }))
}

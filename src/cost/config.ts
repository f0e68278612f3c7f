// An app's cost settings resolved from the config: which price applies (from the backend
// when not given), the size when given, the currency. Checks the schema cannot express.
import type { AppCostInput, CostSectionInput } from './schema.js'
import { PRICE_KEY, type Capacity, type Price, type TaskSize } from './prices.js'

export interface AppCostConfig {
  /** undefined: not known, no cost is shown. */
  capacity?: Capacity
  price?: Price
  /** From the config; otherwise read from the task definition at run time (ecs). */
  size?: TaskSize
  currency: string
}

interface BackendLike {
  kind: string
  launchType?: string
  capacityProviderStrategy?: Array<{ capacityProvider: string, weight?: number, base?: number }>
}

/**
 * The capacity an app's tasks run on, as far as its backend settings tell. RunTask starts one
 * task a call, so a provider with a base gets it; otherwise the one with the largest weight.
 * An Auto Scaling group provider is priced as EC2 on demand (its name says nothing of spot).
 * Neither launchType nor a strategy: the cluster's default strategy, not known here.
 */
export function defaultCapacity (backend: BackendLike, hasSize: boolean): Capacity | undefined {
  if (backend.kind === 'local') return hasSize ? 'ec2' : undefined
  if (backend.launchType === 'FARGATE') return 'fargate'
  if (backend.launchType === 'EC2') return 'ec2'
  const strategy = backend.capacityProviderStrategy
  if (!strategy?.length) return undefined
  const chosen = strategy.find(p => (p.base ?? 0) > 0) ??
    strategy.reduce((best, p) => (p.weight ?? 0) > (best.weight ?? 0) ? p : best)
  if (chosen.capacityProvider === 'FARGATE') return 'fargate'
  if (chosen.capacityProvider === 'FARGATE_SPOT') return 'fargate-spot'
  return 'ec2'
}

export function resolveAppCost (app: { cost?: AppCostInput, backend: BackendLike }, section: CostSectionInput): AppCostConfig {
  const capacity = app.cost?.capacity ?? defaultCapacity(app.backend, app.cost?.size !== undefined)
  return {
    ...(capacity ? { capacity, price: section.prices[PRICE_KEY[capacity]] } : {}),
    ...(app.cost?.size ? { size: { ...app.cost.size } } : {}),
    currency: section.currency
  }
}

/** A local app has no task definition: a capacity without a size would price nothing. */
export function costProblems (apps: Array<{ cost?: AppCostInput, backend: BackendLike }>): Array<{ path: string, message: string }> {
  const problems: Array<{ path: string, message: string }> = []
  apps.forEach((app, i) => {
    if (app.backend.kind === 'local' && app.cost?.capacity && !app.cost.size) {
      problems.push({ path: `apps[${i}].cost.size`, message: 'required with cost.capacity on a local backend: there is no task definition to read the size from' })
    }
  })
  return problems
}

// What a task costs: the price table's defaults and the one formula, pure, so the gateway,
// the simulator and the tests all price a run the same way.

/** Price of one task-hour per resource. */
export interface Price {
  /** Per vCPU per hour. */
  vcpuHour: number
  /** Per GB (GiB) of memory per hour. */
  gbHour: number
}

/** What one task reserves. */
export interface TaskSize {
  vcpu: number
  memoryGb: number
}

/** Where tasks run, as `apps[].cost.capacity` names it. */
export type Capacity = 'fargate' | 'fargate-spot' | 'ec2' | 'ec2-spot'
export const CAPACITIES: readonly Capacity[] = ['fargate', 'fargate-spot', 'ec2', 'ec2-spot']

/** The keys of `cost.prices`. */
export type PriceKey = 'fargate' | 'fargateSpot' | 'ec2OnDemand' | 'ec2Spot'

export const PRICE_KEY: Record<Capacity, PriceKey> = {
  fargate: 'fargate',
  'fargate-spot': 'fargateSpot',
  ec2: 'ec2OnDemand',
  'ec2-spot': 'ec2Spot'
}

/** When the default prices were read off AWS's pricing pages. */
export const PRICES_DATE = '2026-12'

/**
 * AWS us-east-1, Linux/x86, list prices in USD (PRICES_DATE). Fargate: the "AWS Fargate
 * Pricing" page. Fargate Spot moves with supply; AWS advertises up to 70% off, taken here
 * as 0.3 × Fargate. EC2 prices a task by its reserved share of a general-purpose instance:
 * m7i.large ($0.1008 an hour on the "Amazon EC2 On-Demand Pricing" page, 2 vCPU, 8 GiB) split
 * across its vCPUs and GiB in Fargate's ratio (0.8651 × Fargate's two prices); EC2 Spot as
 * 0.35 × on-demand, the usual saving for m7i.large in us-east-1 on the "EC2 Spot Instance
 * Advisor" page. Override them with your region's, your discounts, your instance types.
 */
export const DEFAULT_PRICES: Record<PriceKey, Price> = {
  fargate: { vcpuHour: 0.04048, gbHour: 0.004445 },
  fargateSpot: { vcpuHour: 0.012144, gbHour: 0.0013335 },
  ec2OnDemand: { vcpuHour: 0.03502, gbHour: 0.003845 },
  ec2Spot: { vcpuHour: 0.01226, gbHour: 0.001346 }
}

export const DEFAULT_CURRENCY = 'USD'

const HOUR = 3_600_000

/** Price of one task of this size for one hour. */
export function hourlyCost (size: TaskSize, price: Price): number {
  return size.vcpu * price.vcpuHour + size.memoryGb * price.gbHour
}

/** What `runningMs` of task time of this size costs at this price. */
export function costOf (runningMs: number, size: TaskSize, price: Price): number {
  return (runningMs / HOUR) * hourlyCost(size, price)
}

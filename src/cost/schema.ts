// The config schema of cost: the top-level price table and each app's capacity and size.
// Part of the one schema (config/schema.ts), kept here beside the prices it defaults to.
import { Type, type Static } from '@sinclair/typebox'
import { CAPACITIES, DEFAULT_CURRENCY, DEFAULT_PRICES, PRICES_DATE, type Price } from './prices.js'

const PriceOf = (what: string, def: Price) => Type.Object({
  vcpuHour: Type.Number({ minimum: 0, default: def.vcpuHour, description: `${what}: price of one vCPU for one hour` }),
  gbHour: Type.Number({ minimum: 0, default: def.gbHour, description: `${what}: price of one GB of memory for one hour` })
}, { additionalProperties: false, default: {}, description: `Prices of ${what} tasks` })

export const CostSection = Type.Object({
  currency: Type.String({ pattern: '^[A-Z]{3}$', default: DEFAULT_CURRENCY, description: 'ISO 4217 code of the currency the prices are in; every amount is shown in it' }),
  prices: Type.Object({
    fargate: PriceOf('Fargate', DEFAULT_PRICES.fargate),
    fargateSpot: PriceOf('Fargate Spot', DEFAULT_PRICES.fargateSpot),
    ec2OnDemand: PriceOf('EC2 on-demand', DEFAULT_PRICES.ec2OnDemand),
    ec2Spot: PriceOf('EC2 Spot', DEFAULT_PRICES.ec2Spot)
  }, { additionalProperties: false, default: {}, description: `Price table per capacity. Defaults: AWS us-east-1 Linux/x86 list prices of ${PRICES_DATE}, EC2 per vCPU and GB derived from m7i.large (README, Cost)` })
}, { additionalProperties: false, default: {}, description: 'What running environments cost: shown on the dashboard, in /metrics and in the PR comment' })

export const AppCostSchema = Type.Object({
  capacity: Type.Optional(Type.Union(CAPACITIES.map(c => Type.Literal(c)), { description: 'Which price of cost.prices applies. Default for ecs: from launchType or the capacity provider the strategy places a task with (FARGATE, FARGATE_SPOT; an Auto Scaling group provider: ec2); none without either (the cluster default). Default for local: ec2 when size is given' })),
  size: Type.Optional(Type.Object({
    vcpu: Type.Number({ exclusiveMinimum: 0, maximum: 192, description: 'vCPUs one task reserves' }),
    memoryGb: Type.Number({ exclusiveMinimum: 0, maximum: 1536, description: 'GB of memory one task reserves' })
  }, { additionalProperties: false, description: 'Size of one task. Default for ecs: read from the task definition (task-level cpu/memory, else the sum over its containers); a local app has no cost without it' }))
}, { additionalProperties: false, description: "How this app's running time is priced; without a known size and capacity no cost is shown" })

export type CostSectionInput = Static<typeof CostSection>
export type AppCostInput = Static<typeof AppCostSchema>

// A task's size from its ECS task definition (pure): the task-level cpu/memory when set
// (always on Fargate), otherwise the sum over its containers (EC2 tasks may size only those).
import type { TaskSize } from './prices.js'

/** The parts of a task definition (as DescribeTaskDefinition returns it) that give a size. */
export interface SizedDefinition {
  cpu?: string
  memory?: string
  containerDefinitions?: Array<{ name?: string, cpu?: number, memory?: number, memoryReservation?: number }>
}

export type SizeAnswer = { size: TaskSize } | { problem: string }

/** "256" CPU units, or "0.25 vCPU" as RegisterTaskDefinition also takes it. */
function vcpuOf (v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(vcpu)?\s*$/i.exec(v)
  if (!m) return undefined
  const n = Number(m[1])
  return m[2] ? n : n / 1024
}

/** "512" MiB, or "1 GB" as RegisterTaskDefinition also takes it. */
function gbOf (v: string | undefined): number | undefined {
  if (v === undefined || v.trim() === '') return undefined
  const m = /^\s*(\d+(?:\.\d+)?)\s*(gb)?\s*$/i.exec(v)
  if (!m) return undefined
  const n = Number(m[1])
  return m[2] ? n : n / 1024
}

/**
 * vCPU = CPU units / 1024, GB = MiB / 1024. A size that cannot be read (no CPU reserved
 * anywhere, a container without a memory limit) is a problem, not a guess: the cost is
 * then not shown until `apps[].cost.size` gives it.
 */
export function sizeOfTaskDefinition (td: SizedDefinition): SizeAnswer {
  const containers = td.containerDefinitions ?? []
  let vcpu = vcpuOf(td.cpu)
  if (vcpu === undefined) {
    const units = containers.reduce((n, c) => n + (c.cpu ?? 0), 0)
    if (units <= 0) return { problem: 'the task definition reserves no CPU (no task-level cpu, no container cpu)' }
    vcpu = units / 1024
  }
  let memoryGb = gbOf(td.memory)
  if (memoryGb === undefined) {
    const unsized = containers.filter(c => !(c.memory ?? c.memoryReservation))
    if (containers.length === 0 || unsized.length > 0) {
      return { problem: `the task definition gives no task-level memory${unsized.length ? ` and container ${unsized.map(c => `"${c.name ?? '?'}"`).join(', ')} no memory or memoryReservation` : ''}` }
    }
    memoryGb = containers.reduce((n, c) => n + (c.memory ?? c.memoryReservation ?? 0), 0) / 1024
  }
  if (!(vcpu > 0) || !(memoryGb > 0)) return { problem: 'the task definition gives a zero size' }
  return { size: { vcpu, memoryGb } }
}

/** A backend that can tell an app's task size (the ecs backend, from its task definition). */
export interface SizedBackend {
  /** A size, or the reason the task definition gives none; rejects when it could not be read (network, access). */
  taskSize (app: string): Promise<SizeAnswer>
}

export function isSizedBackend (b: unknown): b is SizedBackend {
  return typeof (b as Partial<SizedBackend> | undefined)?.taskSize === 'function'
}

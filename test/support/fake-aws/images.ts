// Image pulls, as a container instance does them: each instance keeps the images it has
// pulled (its cache, optionally preloaded), a task whose image is cached there starts
// after only `cachedMs` (the agent's manifest check), and a task needing an image the
// instance is already pulling waits for that one pull. Fargate tasks have no instance and
// no cache: every one pulls in full.
import type { Instance } from './types.js'

export interface PullModel {
  /** ms to pull an image that is not on the instance (images not listed in `images`). */
  pullMs: number
  /** ms for an image already on the instance. Default 0. */
  cachedMs?: number
  /** Per image URI: its own pull time, or its size, pulled at `bandwidthMBps`. */
  images?: Record<string, { pullMs?: number, sizeMB?: number }>
  /** What one instance downloads per second, for images given by size. Default 100. */
  bandwidthMBps?: number
  /** On every instance from the start (baked into the AMI). */
  preloaded?: string[]
}

export class ImagePulls {
  private readonly timers = new Set<NodeJS.Timeout>()
  private closed = false

  /**
   * @param model absent: the fake's original timing, every pull takes `legacyMs()` and
   *   nothing is cached (tests written against the delays alone keep their timing)
   */
  constructor (private readonly model: PullModel | undefined, private readonly legacyMs: () => number) {}

  /** Images an instance starts with. */
  preloaded (): string[] { return [...this.model?.preloaded ?? []] }

  /** How long pulling `image` takes when it is not cached. */
  pullMs (image: string): number {
    if (!this.model) return this.legacyMs()
    const own = this.model.images?.[image]
    if (own?.pullMs !== undefined) return own.pullMs
    if (own?.sizeMB !== undefined) return Math.round(own.sizeMB / (this.model.bandwidthMBps ?? 100) * 1000)
    return this.model.pullMs
  }

  /** Resolves once `image` is on the instance (Fargate: once this task's own pull is done). */
  pull (inst: Instance | undefined, image: string): Promise<void> {
    if (!this.model || !inst) return this.wait(this.pullMs(image))
    if (inst.images.has(image)) return this.wait(this.model.cachedMs ?? 0)
    let p = inst.pulling.get(image)
    if (!p) {
      p = this.wait(this.pullMs(image)).then(() => {
        inst.pulling.delete(image)
        inst.images.add(image)
        inst.pulls++
      })
      inst.pulling.set(image, p)
    }
    return p
  }

  /** Pulls still running never finish: the fake is going away. */
  close (): void {
    this.closed = true
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
  }

  private wait (ms: number): Promise<void> {
    if (this.closed) return new Promise(() => {})
    return new Promise(resolve => {
      const t = setTimeout(() => { this.timers.delete(t); resolve() }, ms)
      this.timers.add(t)
    })
  }
}

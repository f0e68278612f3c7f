// A small seeded PRNG (mulberry32) and the distributions the simulator draws from. Every
// random choice in a simulation goes through one of these, so a seed replays exactly.

export interface Rng {
  /** Uniform in [0, 1). */
  next (): number
}

/** mulberry32: 32-bit state, good enough statistically for traces and phase samples, and tiny. */
export function mulberry32 (seed: number): Rng {
  let a = seed >>> 0
  return {
    next () {
      a = (a + 0x6d2b79f5) >>> 0
      let t = a
      t = Math.imul(t ^ (t >>> 15), t | 1)
      t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296
    }
  }
}

/** An independent stream derived from a seed and a label, so adding draws to one part does not shift another. */
export function derive (seed: number, label: string): Rng {
  let h = (seed ^ 0x9e3779b9) >>> 0
  for (let i = 0; i < label.length; i++) h = Math.imul(h ^ label.charCodeAt(i), 0x01000193) >>> 0
  return mulberry32(h)
}

export const uniform = (r: Rng, lo: number, hi: number): number => lo + (hi - lo) * r.next()
export const chance = (r: Rng, p: number): boolean => r.next() < p
export const intBetween = (r: Rng, lo: number, hi: number): number => lo + Math.floor(r.next() * (hi - lo + 1))

/** Standard normal (Box–Muller, one of the pair). */
export function normal (r: Rng): number {
  const u = 1 - r.next()
  const v = r.next()
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v)
}

/** Log-normal given its median and the sigma of its log: right-skewed durations (pulls, boots, think times). */
export const logNormal = (r: Rng, median: number, sigma: number): number => median * Math.exp(sigma * normal(r))

export const exponential = (r: Rng, mean: number): number => -mean * Math.log(1 - r.next())

/** Poisson by inversion; fine for the small means used here. */
export function poisson (r: Rng, mean: number): number {
  const l = Math.exp(-mean)
  let k = 0
  let p = r.next()
  while (p > l) { k++; p *= r.next() }
  return k
}

/** Index drawn by weight. */
export function weighted (r: Rng, weights: readonly number[]): number {
  const total = weights.reduce((a, b) => a + b, 0)
  let x = r.next() * total
  for (let i = 0; i < weights.length; i++) {
    x -= weights[i]
    if (x < 0) return i
  }
  return weights.length - 1
}

export const pick = <T>(r: Rng, items: readonly T[]): T => items[Math.floor(r.next() * items.length)]

export const clamp = (x: number, lo: number, hi: number): number => Math.min(hi, Math.max(lo, x))

// What every section gets from the runner.
import { fileURLToPath } from 'node:url'
import { dirname, join } from 'node:path'
import type { Tools } from './load.js'
import type { Pinning } from './proc.js'

export const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
export const SERVERS = join(ROOT, 'bench', 'servers')
export const HOST = 'pr-1.bench.test'

export interface Context {
  tools: Tools
  pinning: Pinning
  rounds: number
  /** seconds per load run */
  duration: number
  connections: number
  /** --quick: fewer, shorter runs (a smoke test of the suite, not numbers to quote) */
  quick: boolean
  log: (line: string) => void
  /** --baseline REV: a build of another revision, measured beside this one. */
  baseline?: import('./baseline.js').Baseline
}

export interface SectionResult {
  id: string
  title: string
  /** The printed part: a table and its verdict lines. */
  text: string
  data: Record<string, unknown>
}

// Host header → (app, PR). The parse is cached per raw Host value, so a busy env costs one
// Map lookup per request.
import { compileHostTemplate, matchTemplate, normalizeHost, type HostTemplate } from './template.js'

export interface HostMatch {
  app: string
  pr: number
  key: string
}

const CACHE_MAX = 20_000

export class HostRouter {
  readonly templates: HostTemplate[]
  private cache = new Map<string, HostMatch | null>()

  constructor (apps: Array<{ name: string, host: string }>) {
    // Longest (most specific) templates first, so pr-{pr}.{app}.x wins over pr-{pr}.x style overlaps.
    this.templates = apps.map(a => compileHostTemplate(a.host, a.name))
      .sort((a, b) => (b.prefix.length + b.suffix.length) - (a.prefix.length + a.suffix.length))
  }

  /** The env a Host header names, or null when it names none (unknown host, malformed, pr-0…). */
  match (rawHost: string | undefined): HostMatch | null {
    if (rawHost === undefined) return null
    let m = this.cache.get(rawHost)
    if (m !== undefined) return m
    m = this.parse(rawHost)
    // Random hosts must not grow memory without bound: start over when full.
    if (this.cache.size >= CACHE_MAX) this.cache.clear()
    this.cache.set(rawHost, m)
    return m
  }

  private parse (rawHost: string): HostMatch | null {
    const host = normalizeHost(rawHost)
    if (!host) return null
    for (const t of this.templates) {
      const pr = matchTemplate(t, host)
      if (pr) return { app: t.app, pr, key: `${t.app}/${pr}` }
    }
    return null
  }
}

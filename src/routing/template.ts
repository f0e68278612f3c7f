// Host templates such as `pr-{pr}.review.example.com` compiled to a prefix/suffix matcher.
// Matching is a couple of string compares, no regex, because it runs on every request.

export interface HostTemplate {
  app: string
  template: string
  prefix: string
  suffix: string
  /** Build the host of a PR (for links, comments, deployments). */
  hostFor: (pr: number) => string
}

export const MAX_PR = 2_147_483_647
const LABEL = /^[a-z0-9-.]*$/

export function compileHostTemplate (template: string, app: string): HostTemplate {
  const t = template.trim().toLowerCase().replace(/\.$/, '').split('{app}').join(app)
  const parts = t.split('{pr}')
  if (parts.length !== 2) throw new Error(`host template must contain {pr} exactly once, got "${template}"`)
  const [prefix, suffix] = parts
  if (/[{}]/.test(t.replace('{pr}', ''))) throw new Error(`unknown placeholder in "${template}" (use {pr} and {app})`)
  if (!LABEL.test(prefix) || !LABEL.test(suffix)) throw new Error(`host template may hold only letters, digits, '-' and '.', got "${template}"`)
  if (!suffix.startsWith('.') && !suffix.startsWith('-') && suffix !== '') throw new Error(`{pr} must be followed by '.' or '-' in "${template}"`)
  if (suffix === '' || !suffix.includes('.')) throw new Error(`host template needs a domain after {pr}, e.g. pr-{pr}.review.example.com, got "${template}"`)
  if (/\d$/.test(prefix)) throw new Error(`{pr} must not follow a digit in "${template}"`)
  return { app, template, prefix, suffix, hostFor: (pr: number) => `${prefix}${pr}${suffix}` }
}

/**
 * Lower-cases and strips the port and trailing dot. Returns '' for a host that cannot
 * name an env (empty, too long, IPv6 literal, characters outside a DNS name).
 */
export function normalizeHost (raw: string | undefined): string {
  if (!raw || raw.length > 260) return ''
  let host = raw
  if (host.charCodeAt(0) === 91 /* [ */) return ''
  const colon = host.indexOf(':')
  if (colon !== -1) {
    if (!validPort(host, colon + 1)) return ''
    host = host.slice(0, colon)
  }
  if (host.charCodeAt(host.length - 1) === 46 /* . */) host = host.slice(0, -1)
  if (host.length === 0 || host.length > 253) return ''
  host = host.toLowerCase()
  for (let i = 0; i < host.length; i++) {
    const c = host.charCodeAt(i)
    // a-z 0-9 - .
    if (!((c >= 97 && c <= 122) || (c >= 48 && c <= 57) || c === 45 || c === 46)) return ''
  }
  return host
}

/** Digits only, 1..65535. */
function validPort (s: string, from: number): boolean {
  const n = s.length - from
  if (n < 1 || n > 5) return false
  let v = 0
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return false
    v = v * 10 + c
  }
  return v >= 1 && v <= 65535
}

/** Parses a canonical PR number: digits, no leading zero, 1..2^31-1. Returns 0 if not one. */
export function parsePr (s: string): number {
  const n = s.length
  if (n === 0 || n > 10 || s.charCodeAt(0) === 48 /* 0 */) return 0
  let v = 0
  for (let i = 0; i < n; i++) {
    const c = s.charCodeAt(i) - 48
    if (c < 0 || c > 9) return 0
    v = v * 10 + c
  }
  return v <= MAX_PR ? v : 0
}

export function matchTemplate (t: HostTemplate, host: string): number {
  if (host.length <= t.prefix.length + t.suffix.length) return 0
  if (!host.startsWith(t.prefix) || !host.endsWith(t.suffix)) return 0
  return parsePr(host.slice(t.prefix.length, host.length - t.suffix.length))
}

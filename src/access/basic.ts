// HTTP basic auth against argon2 or bcrypt hashes. Hashing is slow by design, so verified
// (and refused) credentials are remembered for a while, keyed by a hash of the header: a
// client sending the same header on every request pays for one verification.
import { createHash } from 'node:crypto'
import { verify as argon2Verify } from '@node-rs/argon2'
import bcrypt from 'bcryptjs'
import { LRUCache } from 'lru-cache'

export class BasicAuth {
  private readonly verdicts: LRUCache<string, boolean>
  private readonly inflight = new Map<string, Promise<boolean>>()

  constructor (private readonly users: Record<string, string>, ttl: number) {
    this.verdicts = new LRUCache({ max: 10_000, ttl: Math.max(1_000, ttl) })
  }

  /** true/false when known, else a promise (the hash is checked once per distinct header). */
  check (header: string): boolean | Promise<boolean> {
    const key = createHash('sha256').update(header).digest('base64')
    const known = this.verdicts.get(key)
    if (known !== undefined) return known
    let p = this.inflight.get(key)
    if (p === undefined) {
      p = this.verify(header).then(ok => {
        this.verdicts.set(key, ok)
        this.inflight.delete(key)
        return ok
      })
      this.inflight.set(key, p)
    }
    return p
  }

  private async verify (header: string): Promise<boolean> {
    const creds = parseBasic(header)
    if (!creds) return false
    const hash = Object.hasOwn(this.users, creds.user) ? this.users[creds.user] : undefined
    if (hash === undefined) return false
    try {
      return hash.startsWith('$argon2') ? await argon2Verify(hash, creds.password) : await bcrypt.compare(creds.password, hash)
    } catch {
      return false
    }
  }
}

export function parseBasic (header: string): { user: string, password: string } | undefined {
  if (!/^basic /i.test(header)) return undefined
  const text = Buffer.from(header.slice(6).trim(), 'base64').toString('utf8')
  const i = text.indexOf(':')
  return i < 0 ? undefined : { user: text.slice(0, i), password: text.slice(i + 1) }
}

/** `wakegate hash-password`: an argon2id hash with the library's default (OWASP) parameters. */
export async function hashPassword (password: string): Promise<string> {
  const { hash } = await import('@node-rs/argon2')
  return hash(password)
}

// GitHub Actions OIDC tokens: a workflow asks GitHub for a short-lived JWT (core.getIDToken)
// and sends it as a bearer token; nothing secret is stored anywhere. The signature is
// checked against the issuer's JWKS (jose fetches and caches it), then the audience and the
// repository/ref claims. Verdicts are cached per token until it expires.
import { createRemoteJWKSet, jwtVerify, type JWTPayload } from 'jose'
import { LRUCache } from 'lru-cache'

export interface ActionsRule {
  audience: string
  repositories: string[]
  refs: RegExp[] | undefined
}

export interface ActionsVerdict { ok: boolean, reason?: string, repository?: string, ref?: string }

export class ActionsTokens {
  private readonly jwks: ReturnType<typeof createRemoteJWKSet>
  private readonly verdicts = new LRUCache<string, ActionsVerdict>({ max: 5_000, ttlAutopurge: false })

  constructor (readonly issuer: string) {
    this.jwks = createRemoteJWKSet(new URL(`${issuer.replace(/\/$/, '')}/.well-known/jwks`), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
  }

  /** The verdict for `token` under `rule`; cached per (rule, token) until the token expires. */
  check (token: string, rule: ActionsRule, ruleId: string): ActionsVerdict | Promise<ActionsVerdict> {
    const key = `${ruleId} ${token}`
    const known = this.verdicts.get(key)
    if (known !== undefined) return known
    return this.verify(token, rule).then(({ verdict, exp }) => {
      const ttl = exp === undefined ? 60_000 : exp * 1000 - Date.now()
      if (ttl > 0) this.verdicts.set(key, verdict, { ttl: Math.min(ttl, 60 * 60_000) })
      return verdict
    })
  }

  private async verify (token: string, rule: ActionsRule): Promise<{ verdict: ActionsVerdict, exp?: number }> {
    let claims: JWTPayload
    try {
      ({ payload: claims } = await jwtVerify(token, this.jwks, { issuer: this.issuer, audience: rule.audience, algorithms: ['RS256'], clockTolerance: 5 }))
    } catch (err) {
      return { verdict: { ok: false, reason: (err as Error).message } }
    }
    const repository = typeof claims.repository === 'string' ? claims.repository : ''
    const ref = typeof claims.ref === 'string' ? claims.ref : ''
    const exp = claims.exp
    if (!rule.repositories.some(r => r.toLowerCase() === repository.toLowerCase())) return { verdict: { ok: false, reason: `repository ${repository || '(none)'} is not allowed`, repository, ref }, exp }
    if (rule.refs && !rule.refs.some(re => re.test(ref))) return { verdict: { ok: false, reason: `ref ${ref || '(none)'} is not allowed`, repository, ref }, exp }
    return { verdict: { ok: true, repository, ref }, exp }
  }
}

/** `refs/pull/*` → a RegExp matching the whole ref, `*` any run of characters. */
export function refPattern (glob: string): RegExp {
  return new RegExp('^' + glob.split('*').map(s => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')).join('.*') + '$')
}

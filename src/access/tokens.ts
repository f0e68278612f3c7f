// Short signed tokens (JWS, HS256 with jose) under a key derived from the session key:
// - the one-use sign-in token the auth host hands to an env host (~30 s, audience = that host,
//   its jti spent in the store so it cannot be replayed);
// - the OAuth `state` of the auth host's own GitHub sign-in and of the callback relay.
import { randomUUID } from 'node:crypto'
import { SignJWT, jwtVerify, type JWTPayload } from 'jose'
import { derivedKey } from './keys.js'

export class Tokens {
  private readonly keys: Uint8Array[]

  constructor (sessionKeys: Buffer[], private readonly purpose: string) {
    this.keys = sessionKeys.map(k => derivedKey(k, purpose))
  }

  sign (claims: Record<string, unknown>, audience: string, ttlMs: number): Promise<string> {
    return new SignJWT(claims)
      .setProtectedHeader({ alg: 'HS256' })
      .setIssuer('wakegate')
      .setAudience(audience)
      .setJti(randomUUID())
      .setIssuedAt()
      // Rounded up: `exp` is in whole seconds, and rounding down could leave a 1 s token
      // (tokenTtl: 1s) valid for a millisecond.
      .setExpirationTime(Math.ceil((Date.now() + ttlMs) / 1000))
      .sign(this.keys[0])
  }

  /** The claims of a token signed by one of our keys for `audience`, or undefined. */
  async verify (token: string, audience: string): Promise<JWTPayload | undefined> {
    for (const key of this.keys) {
      try {
        const { payload } = await jwtVerify(token, key, { issuer: 'wakegate', audience, algorithms: ['HS256'] })
        return payload
      } catch (err) {
        // Another key may have signed it (rotation); an expired or altered token fails on all.
        if ((err as { code?: string }).code !== 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED') return undefined
      }
    }
    return undefined
  }
}

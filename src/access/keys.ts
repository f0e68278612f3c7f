// The session key(s): 32 bytes each, given as hex or base64. The first seals new cookies and
// signs tokens; all of them open cookies, so a key can be rotated without signing anyone out.
import { hkdfSync } from 'node:crypto'

export const KEY_BYTES = 32

/** A key as configured → its 32 bytes, or undefined when it is not 32 bytes of hex or base64. */
export function decodeKey (text: string): Buffer | undefined {
  const t = text.trim()
  const buf = /^[0-9a-fA-F]{64}$/.test(t) ? Buffer.from(t, 'hex') : Buffer.from(t, 'base64')
  return buf.length === KEY_BYTES ? buf : undefined
}

export function sessionKeys (config: string | string[] | undefined): Buffer[] {
  const list = config === undefined ? [] : Array.isArray(config) ? config : [config]
  return list.map(k => {
    const key = decodeKey(k)
    if (!key) throw new Error('a session key must be 32 bytes as hex or base64')
    return key
  })
}

/**
 * A key of its own for one purpose (token signing, relay state), derived from a session key:
 * a leak of one use's key does not open the others.
 */
export function derivedKey (key: Buffer, purpose: string): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', key, Buffer.alloc(0), `wakegate ${purpose}`, 32))
}

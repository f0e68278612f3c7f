// A request one replica passes whole to the leader (during a Redis outage, cold requests go
// there to be woken and proxied) was already let in by that replica's gate, which took
// wakegate's credentials off it. The leader must neither gate it again (the credentials are
// gone, and its peer is the replica, not the client) nor let anybody who reaches its
// internal listener skip the gate. So the replica vouches for it: the client's address and
// a time, with an HMAC under a key derived from the session key that every replica shares.
import { createHmac, timingSafeEqual } from 'node:crypto'
import type { IncomingMessage } from 'node:http'
import { derivedKey } from './keys.js'
import { removeHeader } from './gate.js'

export const RELAYED_HEADER = 'x-wakegate-relayed'

/** On a request whose voucher was redeemed: the client address the relaying replica vouched for. */
export const RELAYED_FROM = Symbol('wakegate.relayedFrom')
export type Relayed = IncomingMessage & { [RELAYED_FROM]?: string }
const MAX_AGE_MS = 60_000

export class RelayVouchers {
  private readonly key: Buffer | undefined

  constructor (keys: Buffer[]) {
    this.key = keys.length ? Buffer.from(derivedKey(keys[0], 'replica relay')) : undefined
  }

  /** The header value vouching for a request from `address`, or undefined without a session key. */
  vouch (address: string, now = Date.now()): string | undefined {
    if (this.key === undefined) return undefined
    const body = `${now}|${address}`
    return `${body}|${this.mac(body)}`
  }

  /** The client address a valid voucher on `req` names (the header is taken off), else undefined. */
  redeem (req: IncomingMessage, now = Date.now()): string | undefined {
    const v = req.headers[RELAYED_HEADER]
    if (v === undefined) return undefined
    removeHeader(req, RELAYED_HEADER)
    if (this.key === undefined || typeof v !== 'string') return undefined
    const last = v.lastIndexOf('|')
    const body = v.slice(0, last)
    const given = Buffer.from(v.slice(last + 1))
    const want = Buffer.from(this.mac(body))
    if (last < 0 || given.length !== want.length || !timingSafeEqual(given, want)) return undefined
    const [ts, ...addr] = body.split('|')
    if (Math.abs(now - Number(ts)) > MAX_AGE_MS) return undefined
    return addr.join('|')
  }

  private mac (body: string): string {
    return createHmac('sha256', this.key!).update(body).digest('base64url')
  }
}

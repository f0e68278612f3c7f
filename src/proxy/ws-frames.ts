// Follows frame boundaries on one side of a WebSocket tunnel. Upstream → client: so the
// gateway can end a tunnel with a proper close frame (1012 on drain, 1001 on shutdown)
// without cutting a frame in half. Both sides: to tell real traffic from keep-alive
// chatter (heartbeats.ts) — only small data frames are looked at (client frames are
// unmasked for that); larger payloads are skipped, never copied.
import { SMALL_PAYLOAD, isHeartbeatPayload } from './heartbeats.js'

export class FrameTracker {
  private need = 0 // payload bytes left in the current frame
  private header: number[] = [] // bytes of a frame header split across chunks
  /** The current small data frame's payload being gathered, and how much of it is in. */
  private payload: Buffer | null = null
  private got = 0
  private mask: number[] | null = null
  private compressed = false
  /** The previous small data payload of this direction: a repeat of it is a heartbeat. */
  private prev: Buffer | null = null
  /** Real (non-heartbeat) traffic seen since the last `takeReal()`. */
  private real = false

  /** @param classify tell real traffic from heartbeats (false: boundaries only, a machine's tunnel). */
  constructor (private readonly classify = false) {}

  /** True when the next byte starts a new frame (a close frame may be sent now). */
  get atBoundary (): boolean {
    return this.need === 0 && this.header.length === 0
  }

  /** Whether real traffic went through since the last call (and resets it). */
  takeReal (): boolean {
    const r = this.real
    this.real = false
    return r
  }

  /**
   * Consumes `chunk` (frames only: the 101 head is not fed here). With `stopAtBoundary`,
   * stops at the first frame boundary and returns its offset (bytes before it belong to
   * frames already started); otherwise returns the length.
   */
  consume (chunk: Buffer, stopAtBoundary = false): number {
    let i = 0
    const n = chunk.length
    while (i < n) {
      if (this.need > 0) {
        const take = Math.min(this.need, n - i)
        if (this.payload !== null) this.gather(chunk, i, take)
        this.need -= take
        i += take
        if (this.need === 0) {
          if (this.payload !== null) this.judge()
          if (stopAtBoundary) return i
        }
        continue
      }
      this.header.push(chunk[i++])
      const h = this.header
      if (h.length < 2) continue
      const len7 = h[1] & 0x7f
      const masked = (h[1] & 0x80) !== 0
      const size = 2 + (len7 === 126 ? 2 : len7 === 127 ? 8 : 0) + (masked ? 4 : 0)
      if (h.length < size) continue
      let len = len7
      if (len7 === 126) len = (h[2] << 8) | h[3]
      else if (len7 === 127) { len = 0; for (let k = 2; k < 10; k++) len = len * 256 + h[k] }
      if (this.classify && !this.real) this.frame(h, len, masked ? h.slice(size - 4) : null)
      this.header = []
      this.need = len
      if (len === 0 && this.payload !== null) this.judge()
      if (len === 0 && stopAtBoundary) return i
    }
    return n
  }

  /** A frame header: control frames are chatter, large or fragmented data is real, small data is gathered. */
  private frame (h: number[], len: number, mask: number[] | null): void {
    const b0 = h[0]
    const opcode = b0 & 0x0f
    if (opcode >= 0x8) return // close, ping, pong
    if (opcode === 0 || (b0 & 0x80) === 0 || len > SMALL_PAYLOAD) { this.real = true; return }
    this.payload = Buffer.allocUnsafe(len)
    this.got = 0
    this.mask = mask
    this.compressed = (b0 & 0x40) !== 0
  }

  private gather (chunk: Buffer, at: number, take: number): void {
    const p = this.payload!
    const m = this.mask
    if (m === null) chunk.copy(p, this.got, at, at + take)
    else for (let k = 0; k < take; k++) p[this.got + k] = chunk[at + k] ^ m[(this.got + k) & 3]
    this.got += take
  }

  private judge (): void {
    const p = this.payload!
    this.payload = null
    if (!isHeartbeatPayload(p, this.prev, this.compressed)) this.real = true
    this.prev = p
  }
}

/** An unmasked (server → client) close frame with a status code. */
export function closeFrame (code: number, reason = ''): Buffer {
  const r = Buffer.from(reason.slice(0, 100))
  const buf = Buffer.alloc(4 + r.length)
  buf[0] = 0x88
  buf[1] = 2 + r.length
  buf.writeUInt16BE(code, 2)
  r.copy(buf, 4)
  return buf
}

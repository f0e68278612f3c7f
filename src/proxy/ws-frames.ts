// Follows frame boundaries on the upstream → client side of a WebSocket tunnel, so the
// gateway can end a tunnel with a proper close frame (1012 on drain, 1001 on shutdown)
// without cutting a frame in half. Only headers are parsed; payloads are skipped.

export class FrameTracker {
  private need = 0 // payload bytes left in the current frame
  private header: number[] = [] // bytes of a frame header split across chunks

  /** True when the next byte starts a new frame (a close frame may be sent now). */
  get atBoundary (): boolean {
    return this.need === 0 && this.header.length === 0
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
        this.need -= take
        i += take
        if (this.need === 0 && stopAtBoundary) return i
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
      this.header = []
      this.need = len
      if (len === 0 && stopAtBoundary) return i
    }
    return n
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

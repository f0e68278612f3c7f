// Follows frame boundaries on the upstream → client side of a WebSocket tunnel, so the
// gateway can end a tunnel with a proper close frame (1012 on drain, 1001 on shutdown)
// without cutting a frame in half. Only headers are parsed; payloads are skipped.

export class FrameTracker {
  /** Still inside the HTTP handshake response. */
  private handshake = true
  /** The handshake answered 101: what follows is frames. */
  upgraded = false
  private seen = false
  private tail = 0 // how many bytes of "\r\n\r\n" matched so far
  private need = 0 // payload bytes left in the current frame
  private header: number[] = [] // bytes of a frame header split across chunks

  /** True when the next byte starts a new frame (a close frame may be sent now). */
  get atBoundary (): boolean {
    return !this.handshake && this.upgraded && this.need === 0 && this.header.length === 0
  }

  /**
   * Consumes `chunk`. With `stopAtBoundary`, stops at the first frame boundary and returns
   * its offset (bytes before it belong to frames already started); otherwise returns the length.
   */
  consume (chunk: Buffer, stopAtBoundary = false): number {
    let i = 0
    const n = chunk.length
    if (this.handshake) {
      // The status line opens the first chunk the upstream sends.
      if (!this.seen) { this.seen = true; this.upgraded = chunk.subarray(0, 12).toString('latin1') === 'HTTP/1.1 101' }
      for (; i < n; i++) {
        const c = chunk[i]
        const want = this.tail === 0 || this.tail === 2 ? 13 : 10
        this.tail = c === want ? this.tail + 1 : (c === 13 ? 1 : 0)
        if (this.tail === 4) { i++; break }
      }
      if (this.tail !== 4) return n
      this.handshake = false
      if (!this.upgraded) return n
      if (stopAtBoundary) return i
    }
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

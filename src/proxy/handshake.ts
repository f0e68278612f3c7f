// The upstream's answer to an upgrade request (WebSocket handshake). Only a 101 opens a
// tunnel; any other answer is an ordinary response, relayed to the client with its body
// framed as the upstream framed it (Content-Length, chunked, or until close), after which
// the client connection is closed. A refused upgrade must never leave a raw tunnel behind:
// the client's next request on that connection would reach the app unrouted.
import { FRAMING_CHUNKED, FRAMING_LENGTH, FRAMING_UNTIL_CLOSE, MAX_CHUNK_LINE, MAX_HEAD, NO_BODY, headEnd, parseChunkSize, parseResponseHead, type HeadEnd, type ResponseHead } from './response-head.js'

/** Still reading the answer's head. */
export const ANSWER_PENDING = 0
/** 101: `bytes` (the 101 head and what followed it) belong to the client as they are. */
export const ANSWER_UPGRADED = 1
/** A final non-101 answer: `head` is parsed, `bytes` holds the start of its body. */
export const ANSWER_RESPONSE = 2
/** Malformed, or a head over MAX_HEAD. */
export const ANSWER_BAD = 3

export class HandshakeAnswer {
  readonly head: ResponseHead = { status: 0, statusText: '', headers: [], framing: NO_BODY, length: -1, keepAlive: false }
  /** Bytes not yet accounted for (see the ANSWER_* results). */
  bytes: Buffer = Buffer.alloc(0)
  /** After ANSWER_UPGRADED: where the frames start in `bytes`. */
  headLength = 0
  error = ''

  constructor (private readonly headRequest: boolean) {}

  /** Takes the next bytes from the upstream; returns one of the ANSWER_* results. */
  feed (chunk: Buffer): number {
    this.bytes = this.bytes.length === 0 ? chunk : Buffer.concat([this.bytes, chunk])
    const end: HeadEnd = { text: 0, body: 0 }
    for (;;) {
      if (!headEnd(this.bytes, 0, end)) {
        if (this.bytes.length <= MAX_HEAD) return ANSWER_PENDING
        this.error = 'upgrade answer head too large'
        return ANSWER_BAD
      }
      if (end.body > MAX_HEAD) { this.error = 'upgrade answer head too large'; return ANSWER_BAD }
      const out = this.head
      out.status = 0
      const err = parseResponseHead(this.bytes.toString('latin1', 0, end.text), this.headRequest, out)
      if (out.status === 101) { this.headLength = end.body; return ANSWER_UPGRADED }
      if (err !== null) { this.error = err.message; return ANSWER_BAD }
      this.bytes = this.bytes.subarray(end.body)
      // 100 Continue, 103 Early Hints: not forwarded; the final answer follows.
      if (out.status >= 200) return ANSWER_RESPONSE
    }
  }
}

/** The head of a relayed non-101 answer: hop-by-hop headers dropped, and Connection: close. */
export function relayedHead (head: ResponseHead, extra: string[] | null): string {
  let s = `HTTP/1.1 ${head.status} ${head.statusText}\r\n`
  const h = head.headers
  for (let i = 0; i < h.length; i += 2) s += `${h[i]}: ${h[i + 1]}\r\n`
  if (extra !== null) for (let i = 0; i < extra.length; i += 2) s += `${extra[i]}: ${extra[i + 1]}\r\n`
  return s + 'connection: close\r\n\r\n'
}

const DATA = 0
const SIZE = 1
const DATA_END = 2
const TRAILERS = 3
const DONE = 4

/**
 * The body of a relayed non-101 answer. Content-Length bodies are passed on as they are; a
 * chunked body is decoded and sent as a body delimited by the connection's close (the head
 * has no Content-Length then, and says Connection: close). Trailers are read, not forwarded.
 */
export class AnswerBody {
  private state: number
  private left: number
  private line = ''

  constructor (private readonly head: ResponseHead) {
    this.state = head.framing === NO_BODY ? DONE : head.framing === FRAMING_CHUNKED ? SIZE : DATA
    this.left = head.framing === FRAMING_LENGTH ? head.length : -1 // -1: until close
  }

  get done (): boolean { return this.state === DONE }

  /** Whether the body is whole if the upstream closes now (a body delimited by the close is). */
  get completeAtClose (): boolean { return this.state === DONE || this.head.framing === FRAMING_UNTIL_CLOSE }

  /**
   * Passes the body bytes in `chunk` to `write`; returns false when the framing is broken
   * (the client's response is then cut).
   */
  feed (chunk: Buffer, write: (b: Buffer) => void): boolean {
    let off = 0
    while (off < chunk.length && this.state !== DONE) {
      if (this.state === DATA) {
        const take = this.left < 0 ? chunk.length - off : Math.min(this.left, chunk.length - off)
        write(chunk.subarray(off, off + take))
        off += take
        if (this.left > 0 && (this.left -= take) === 0) this.state = this.head.framing === FRAMING_CHUNKED ? DATA_END : DONE
        continue
      }
      const nl = chunk.indexOf(10, off)
      this.line += chunk.toString('latin1', off, nl === -1 ? chunk.length : nl)
      if (this.line.length > MAX_CHUNK_LINE) return false
      if (nl === -1) return true
      off = nl + 1
      const line = this.line.endsWith('\r') ? this.line.slice(0, -1) : this.line
      this.line = ''
      if (this.state === DATA_END) {
        if (line !== '') return false
        this.state = SIZE
      } else if (this.state === SIZE) {
        const size = parseChunkSize(line)
        if (size < 0) return false
        if (size === 0) this.state = TRAILERS
        else { this.left = size; this.state = DATA }
      } else if (line === '') this.state = DONE
    }
    return true
  }
}

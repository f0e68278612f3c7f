// Parsing an upstream's response head (RFC 9112): status line, header fields, framing and
// persistence. Hop-by-hop headers, and those Connection names, are dropped as the fields are
// read, into the flat [name, value, …] array ServerResponse#writeHead takes; anything that
// makes the response's length untrustworthy is an error, or ends the body with the connection.
import { upstreamError } from './exchange.js'

function statusCode (head: string): number {
  const a = head.charCodeAt(9) - 48
  const b = head.charCodeAt(10) - 48
  const c = head.charCodeAt(11) - 48
  if (a < 1 || a > 9 || b < 0 || b > 9 || c < 0 || c > 9) return -1
  if (head.length > 12 && head.charCodeAt(12) !== 32 && head.charCodeAt(12) !== 13 && head.charCodeAt(12) !== 10) return -1
  return a * 100 + b * 10 + c
}

function trimOws (s: string, from: number, to: number): string {
  while (from < to && (s.charCodeAt(from) === 32 || s.charCodeAt(from) === 9)) from++
  while (to > from && (s.charCodeAt(to - 1) === 32 || s.charCodeAt(to - 1) === 9)) to--
  return s.slice(from, to)
}

/** 1*DIGIT, no sign, no spaces; -1 when not one. */
function parseLength (v: string): number {
  if (v.length === 0 || v.length > 15) return -1
  let n = 0
  for (let i = 0; i < v.length; i++) {
    const c = v.charCodeAt(i) - 48
    if (c < 0 || c > 9) return -1
    n = n * 10 + c
  }
  return n
}

/** Significant hex digits a chunk size may have: 13 (52 bits) stays a safe integer. */
const MAX_CHUNK_DIGITS = 13

/** chunk-size [ ; chunk-ext ]; -1 when malformed. Leading zeros are allowed, any number of them. */
export function parseChunkSize (line: string): number {
  let n = 0
  let i = 0
  let digits = 0
  for (; i < line.length; i++) {
    const c = line.charCodeAt(i)
    const d = c >= 48 && c <= 57 ? c - 48 : c >= 97 && c <= 102 ? c - 87 : c >= 65 && c <= 70 ? c - 55 : -1
    if (d === -1) break
    if (n > 0 || d > 0) digits++
    if (digits > MAX_CHUNK_DIGITS) return -1
    n = n * 16 + d
  }
  if (i === 0) return -1
  if (i < line.length) {
    const c = line.charCodeAt(i)
    if (c !== 59 /* ; */ && c !== 32 && c !== 9) return -1
  }
  return n
}

function dropHeader (headers: string[], lower: string): void {
  for (let i = headers.length - 2; i >= 0; i -= 2) {
    if (headers[i].length === lower.length && headers[i].toLowerCase() === lower) headers.splice(i, 2)
  }
}

/** Response head size limit (status line + fields), whatever the TCP segments were. */
export const MAX_HEAD = 64 * 1024
/** One chunk-size line (size + extensions), and the trailer section, at most. */
export const MAX_CHUNK_LINE = 64 * 1024
export const MAX_TRAILERS = 64 * 1024

/** Where a head ends: `text` is its length without the final line end and blank line, `body` where what follows starts. */
export interface HeadEnd { text: number, body: number }

/**
 * Finds the blank line that ends a head in `buf`, searching from `from`; lines end with CRLF
 * or a bare LF (RFC 9112 §2.2). Fills `out` and returns true, or false while incomplete.
 */
export function headEnd (buf: Buffer, from: number, out: HeadEnd): boolean {
  let lf = buf.indexOf(10, from)
  while (lf !== -1) {
    const next = buf[lf + 1]
    if (next === 10 || (next === 13 && buf[lf + 2] === 10)) {
      out.text = lf > 0 && buf[lf - 1] === 13 ? lf - 1 : lf
      out.body = lf + (next === 10 ? 2 : 3)
      return true
    }
    lf = buf.indexOf(10, lf + 1)
  }
  return false
}

/** Response framing: no body (HEAD, 204, 304, Content-Length: 0). */
export const NO_BODY = -1
/** Content-Length bytes follow. */
export const FRAMING_LENGTH = 1
/** Chunked transfer coding. */
export const FRAMING_CHUNKED = 2
/** The body ends with the connection (which is then not reused). */
export const FRAMING_UNTIL_CLOSE = 3

/** What a response head says; one object per connection, filled in for every response. */
export interface ResponseHead {
  status: number
  statusText: string
  /** Flat [name, value, …], hop-by-hop headers and those Connection names dropped. */
  headers: string[]
  /** NO_BODY, FRAMING_LENGTH, FRAMING_CHUNKED or FRAMING_UNTIL_CLOSE */
  framing: number
  /** Content-Length, or -1 */
  length: number
  /** The connection may carry another request after this response. */
  keepAlive: boolean
}

/** End of the line ending at the LF at `lf`: a CR before it is part of the line terminator. */
function lineEnd (head: string, lf: number): number {
  return lf > 0 && head.charCodeAt(lf - 1) === 13 ? lf - 1 : lf
}

/**
 * Parses a response head (status line and header lines, without the blank line) into `out`.
 * Lines end with CRLF or a bare LF (RFC 9112 §2.2 lets a recipient accept LF alone).
 * Returns null, or the error that makes the response unusable (and its connection unsafe).
 */
export function parseResponseHead (head: string, headRequest: boolean, out: ResponseHead): NodeJS.ErrnoException | null {
  // Status line: HTTP/1.x SP 3DIGIT SP reason
  if (head.length < 12 || !head.startsWith('HTTP/1.') || head.charCodeAt(8) !== 32) return upstreamError('malformed status line from upstream', 'HPE_INVALID_CONSTANT')
  const http10 = head.charCodeAt(7) === 48 /* 0 */
  const status = statusCode(head)
  if (status < 0) return upstreamError('malformed status code from upstream', 'HPE_INVALID_STATUS')
  let lf = head.indexOf('\n')
  if (lf === -1) lf = head.length
  const eol = lineEnd(head, lf)
  const headers: string[] = []
  let contentLength = -1
  let te = ''
  let connection = ''
  let pos = lf + 1
  while (pos < head.length) {
    let nl = head.indexOf('\n', pos)
    if (nl === -1) nl = head.length
    const next = lineEnd(head, nl)
    const colon = head.indexOf(':', pos)
    if (colon === -1 || colon >= next || colon === pos) return upstreamError('malformed header line from upstream', 'HPE_INVALID_HEADER_TOKEN')
    const c0 = head.charCodeAt(pos)
    const cb = head.charCodeAt(colon - 1)
    // obs-fold, or whitespace before the colon (RFC 9112 §5.1): refused, as llhttp does.
    if (c0 === 32 || c0 === 9 || cb === 32 || cb === 9) return upstreamError('malformed header line from upstream', 'HPE_INVALID_HEADER_TOKEN')
    const name = head.slice(pos, colon)
    const value = trimOws(head, colon + 1, next)
    pos = nl + 1
    // Hop-by-hop and framing headers, by length first so most headers skip the lower-casing.
    if (SPECIAL_SHAPE.has(headerShape(name))) {
      switch (name.toLowerCase()) {
        case 'connection': connection = connection ? `${connection},${value}` : value; continue
        case 'keep-alive': case 'te': case 'upgrade': case 'proxy-connection': case 'proxy-authenticate': case 'proxy-authorization': continue
        case 'trailer': continue // trailers are read, not forwarded
        case 'transfer-encoding': te = te ? `${te},${value}` : value; continue
        case 'content-length': {
          const n = parseLength(value)
          if (n < 0 || (contentLength !== -1 && contentLength !== n)) return upstreamError('invalid Content-Length from upstream', 'HPE_UNEXPECTED_CONTENT_LENGTH')
          if (contentLength !== -1) continue // a repeated identical value is sent once
          contentLength = n
          break
        }
      }
    }
    headers.push(name, value)
  }
  out.status = status
  if (status < 200) {
    // 1xx (100 Continue, 103 Early Hints) are skipped; 101 is never asked for on this path.
    return status === 101 ? upstreamError('unexpected 101 from upstream', 'HPE_INVALID_STATUS') : null
  }
  out.statusText = eol > 13 ? head.slice(13, eol) : ''
  let keepAlive = !http10
  // Connection: close / keep-alive, and the headers it names as hop-by-hop.
  if (connection !== '') {
    let close = false
    let ka = false
    for (let t of connection.toLowerCase().split(',')) {
      t = t.trim()
      if (t === 'close') close = true
      else if (t === 'keep-alive') ka = true
      else if (t !== '' && t !== 'upgrade') dropHeader(headers, t)
    }
    keepAlive = !close && (!http10 || ka)
  }
  // Framing (RFC 9112 §6.3).
  let framing: number
  if (headRequest || status === 204 || status === 304) framing = NO_BODY
  else if (te !== '') {
    // Transfer-Encoding in an HTTP/1.0 response is faulty framing (RFC 9112 §6.1). A coding
    // other than chunked (gzip, chunked) would reach the client as plain content once the
    // header is dropped, so it is refused rather than relabelled.
    if (http10) return upstreamError('Transfer-Encoding in an HTTP/1.0 response from upstream', 'HPE_INVALID_TRANSFER_ENCODING')
    if (te !== 'chunked' && !/^\s*chunked\s*$/i.test(te)) return upstreamError(`unsupported Transfer-Encoding "${te.slice(0, 64)}" from upstream`, 'HPE_INVALID_TRANSFER_ENCODING')
    if (contentLength !== -1) {
      // Both: Transfer-Encoding wins, and the connection is not reused (smuggling guard).
      dropHeader(headers, 'content-length')
      keepAlive = false
    }
    framing = FRAMING_CHUNKED
  } else if (contentLength !== -1) framing = contentLength === 0 ? NO_BODY : FRAMING_LENGTH
  else { framing = FRAMING_UNTIL_CLOSE; keepAlive = false }
  out.headers = headers
  out.framing = framing
  out.length = contentLength
  out.keepAlive = keepAlive
  return null
}

/**
 * A header name's (length, first letter): a set of these tells, without lower-casing, that
 * most names cannot be one of a few special ones.
 */
export function headerShape (name: string): number { return name.length * 32 + ((name.charCodeAt(0) | 0x20) & 31) }

/** Shapes of the headers parseResponseHead handles: the rest skip the lower-casing. */
const SPECIAL_SHAPE = new Set(['connection', 'keep-alive', 'te', 'upgrade', 'proxy-connection', 'proxy-authenticate', 'proxy-authorization', 'trailer', 'transfer-encoding', 'content-length']
  .map(headerShape))

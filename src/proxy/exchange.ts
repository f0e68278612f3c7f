// What passes between the proxy and an upstream's connection pool: one request/response
// exchange, how its request body is framed, and the errors the pool reports.
import type { Readable } from 'node:stream'
import type { UpstreamConnection } from './upstream-connection.js'

/** How the request body is framed towards the upstream. */
export type BodyKind = 0 | 1 | 2
export const BODY_NONE = 0
export const BODY_LENGTH = 1
export const BODY_CHUNKED = 2

/** One request/response through the pool; the proxy's Forward implements it. */
export interface Exchange {
  /** Request line and headers, blank line included. */
  readonly head: string
  readonly bodyKind: BodyKind
  /** Where the body comes from (the client's request) when bodyKind is not None. */
  readonly source: Readable
  /** A HEAD request: the response has no body whatever its headers say. */
  readonly headRequest: boolean
  /** May be sent once more on a fresh connection when a reused one was found closed. */
  readonly replayable: boolean
  /** The connection carrying it, set by the pool when sent. */
  conn: UpstreamConnection | null
  /** When it entered the pool's queue (set by the pool). */
  queuedAt: number
  /** The final response head; `headers` is flat and hop-by-hop free. false = stop (failed). */
  onResponse (status: number, statusText: string, headers: string[], conn: UpstreamConnection): boolean
  /**
   * A slice of the body; false asks the connection to pause until conn.resume(). The slice
   * is a view of the shared read buffer, valid only during the call: copy what is kept.
   */
  onBody (chunk: Buffer): boolean
  /** The response ended (trailers are not forwarded). */
  onEnd (): void
  onFail (err: NodeJS.ErrnoException): void
}

/** The code of an exchange that waited in the queue past queueTimeout. */
export const QUEUE_TIMEOUT = 'WAKEGATE_QUEUE_TIMEOUT'

/** An error with a code; the codes follow undici's (UND_ERR_*) and llhttp's (HPE_*) names. */
export function upstreamError (message: string, code: string): NodeJS.ErrnoException {
  const err: NodeJS.ErrnoException = new Error(message)
  err.code = code
  return err
}

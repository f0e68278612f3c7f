// The one place an error becomes a response: status and message come from the catalogue,
// the form from the client — an HTML page for browsers, JSON for everything else, raw bytes
// for a refused WebSocket upgrade or a client error. Every listener (gateway, fastify routes,
// admin) answers errors through it, so a code has one status and one message everywhere.
import { STATUS_CODES } from 'node:http'
import type { FastifyReply } from 'fastify'
import { formatDuration } from '../config/duration.js'
import { catalogue, type ErrorInfo } from '../errors.js'
import { messagePage } from './pages.js'

export interface ErrorView {
  /** An HTML page rather than JSON (the client accepts text/html). */
  html: boolean
  /** A HEAD request: headers only. */
  head?: boolean
  noindex?: boolean
  /** Page heading instead of the status title (e.g. "PR #3 of web could not be started"). */
  heading?: string
}

export interface ErrorResponse {
  status: number
  headers: Record<string, string>
  body: string
}

/** Retry-After for 503s whose error does not say when a retry may succeed. */
const DEFAULT_RETRY_AFTER = 5

export function wantsHtml (accept: string | undefined): boolean {
  return accept !== undefined && accept.includes('text/html')
}

export function errorResponse (err: ErrorInfo, view: ErrorView): ErrorResponse {
  const spec = catalogue[err.code]
  const status = spec.status
  // ENV_FAILED says "in its backoff"; the failure that caused it says what went wrong.
  const message = err.cause ? `${catalogue[err.cause].message} ${spec.message}` : spec.message
  const retryAfter = err.retryAfter ?? (status === 503 ? DEFAULT_RETRY_AFTER : undefined)
  const headers: Record<string, string> = {
    'content-type': view.html ? 'text/html; charset=utf-8' : 'application/json',
    'cache-control': 'no-store',
    'x-wakegate-error': err.code
  }
  if (err.cause) headers['x-wakegate-cause'] = err.cause
  if (retryAfter !== undefined) headers['retry-after'] = String(retryAfter)
  if (view.noindex) headers['x-robots-tag'] = 'noindex, nofollow'
  let body = ''
  if (!view.head) {
    body = view.html
      ? messagePage(view.heading ?? statusTitle(status), message, err.detail, err.retryAfter !== undefined ? `Try again in ${formatDuration(err.retryAfter * 1000)}.` : undefined)
      : JSON.stringify({ error: err.code, message, ...(err.cause ? { cause: err.cause } : {}), ...(err.detail ? { detail: err.detail } : {}) }) + '\n'
  }
  return { status, headers, body }
}

/** A whole HTTP/1.1 response for a socket no HTTP response object exists for (upgrades). */
export function rawErrorResponse (err: ErrorInfo, extra?: Record<string, string>): string {
  const r = errorResponse(err, { html: false })
  let head = `HTTP/1.1 ${r.status} ${statusTitle(r.status)}\r\n`
  for (const [k, v] of Object.entries(extra ? { ...r.headers, ...extra } : r.headers)) head += `${k}: ${v}\r\n`
  return `${head}content-length: ${Buffer.byteLength(r.body)}\r\nconnection: close\r\n\r\n${r.body}`
}

/** The same for a fastify route (unknown hosts, webhooks, the admin API). */
export function replyError (reply: FastifyReply, err: ErrorInfo, accept?: string, extra?: Record<string, string>): FastifyReply {
  const r = errorResponse(err, { html: wantsHtml(accept) })
  return reply.code(r.status).headers(extra ? { ...r.headers, ...extra } : r.headers).send(r.body)
}

function statusTitle (status: number): string {
  return STATUS_CODES[status] ?? `Error ${status}`
}

// The error catalogue: one stable code per failure, the HTTP status it maps to and a
// message in plain words for pages and logs.

export interface ErrorSpec {
  status: number
  message: string
}

export const catalogue = {
  WAKEGATE_UNKNOWN_HOST: { status: 404, message: 'No review environment is served at this address.' },
  WAKEGATE_UNKNOWN_PR: { status: 404, message: 'This pull request has no review environment.' },
  WAKEGATE_UNKNOWN_APP: { status: 404, message: 'No app of this name is configured.' },
  WAKEGATE_BAD_HOST: { status: 400, message: 'The Host header is missing, repeated or malformed.' },
  WAKEGATE_BAD_TARGET: { status: 400, message: 'The request target is malformed or not served here.' },
  WAKEGATE_WAKE_TIMEOUT: { status: 504, message: 'The environment did not become ready in time.' },
  WAKEGATE_HOLD_TIMEOUT: { status: 503, message: 'The environment is still starting; retry shortly.' },
  WAKEGATE_HOLD_FULL: { status: 503, message: 'Too many requests are waiting for this environment; retry shortly.' },
  WAKEGATE_AT_CAPACITY: { status: 503, message: 'As many environments as allowed are running and all of them are in use; retry later.' },
  WAKEGATE_WAKE_RATE_LIMITED: { status: 429, message: 'Too many environments were started from this address; retry later.' },
  WAKEGATE_BACKEND_FAILED: { status: 502, message: 'The environment could not be started.' },
  WAKEGATE_TASK_EXITED: { status: 502, message: 'The environment stopped while starting.' },
  WAKEGATE_UPSTREAM_REFUSED: { status: 502, message: 'The environment refused the connection.' },
  WAKEGATE_UPSTREAM_RESET: { status: 502, message: 'The environment closed the connection unexpectedly.' },
  WAKEGATE_UPSTREAM_TIMEOUT: { status: 504, message: 'The environment took too long to answer.' },
  WAKEGATE_UPSTREAM_BAD_RESPONSE: { status: 502, message: 'The environment sent a malformed response.' },
  WAKEGATE_UPSTREAM_BUSY: { status: 503, message: 'The environment is busy with other requests; retry shortly.' },
  WAKEGATE_REQUEST_TIMEOUT: { status: 408, message: 'The request was not received in time.' },
  WAKEGATE_METHOD_NOT_ALLOWED: { status: 405, message: 'This method is not served here; wakegate is not a forward proxy.' },
  WAKEGATE_ENV_FAILED: { status: 503, message: 'The environment failed to start; it will be retried after a pause.' },
  WAKEGATE_ENV_DESTROYED: { status: 410, message: 'This pull request was closed; its environment is gone.' },
  WAKEGATE_ENV_ASLEEP: { status: 503, message: 'This environment was put to sleep; reconnecting does not start it again, opening or reloading the page does.' },
  WAKEGATE_SHUTTING_DOWN: { status: 503, message: 'The gateway is restarting; retry shortly.' },
  WAKEGATE_STORE_UNAVAILABLE: { status: 503, message: 'The gateways cannot reach their shared store to start this environment; retry shortly.' },
  WAKEGATE_PR_LOOKUP_FAILED: { status: 503, message: 'Could not confirm that this pull request is open; retry shortly.' },
  WAKEGATE_GITHUB_UNAVAILABLE: { status: 503, message: 'GitHub could not be asked what this delivery needs; nothing changed and it was not recorded, so a redelivery is handled.' },
  WAKEGATE_UNAUTHORIZED: { status: 401, message: 'Authentication required.' },
  WAKEGATE_SIGN_IN_REQUIRED: { status: 401, message: 'Sign in to open this review environment.' },
  WAKEGATE_ADDRESS_NOT_ALLOWED: { status: 403, message: 'Your address is not allowed to open this review environment.' },
  WAKEGATE_NO_ACCESS: { status: 403, message: 'You are signed in, but not allowed to open this review environment.' },
  WAKEGATE_BAD_SIGN_IN: { status: 400, message: 'This sign-in link is invalid, expired or already used; sign in again.' },
  WAKEGATE_SIGN_IN_FAILED: { status: 502, message: 'Signing in with GitHub failed.' },
  WAKEGATE_ACCESS_CHECK_FAILED: { status: 503, message: 'GitHub could not be asked whether you may open this environment; retry shortly.' },
  WAKEGATE_BAD_SIGNATURE: { status: 401, message: 'The webhook signature does not match.' },
  WAKEGATE_BAD_ADMIN_REQUEST: { status: 400, message: 'The admin API request is not valid.' },
  WAKEGATE_BAD_PAYLOAD: { status: 400, message: 'The webhook payload is not JSON.' },
  WAKEGATE_INTERNAL: { status: 500, message: 'The gateway failed while handling this request; its log says why.' }
} as const satisfies Record<string, ErrorSpec>

export type ErrorCode = keyof typeof catalogue

/** An error as it travels (IPC between processes) and is rendered: the code and its particulars. */
export interface ErrorInfo {
  code: ErrorCode
  /** Detail from the backend or upstream (AWS message, exit code, last log lines). */
  detail?: string
  /** For WAKEGATE_ENV_FAILED: the code of the failure that put the env in its backoff. */
  cause?: ErrorCode
  /** Seconds until a retry may succeed (Retry-After), when known. */
  retryAfter?: number
}

export class WakegateError extends Error {
  readonly code: ErrorCode
  readonly status: number
  readonly detail: string | undefined
  readonly causeCode: ErrorCode | undefined
  readonly retryAfter: number | undefined

  constructor (code: ErrorCode, detail?: string, options?: { cause?: unknown, causeCode?: ErrorCode, retryAfter?: number }) {
    super(detail ? `${catalogue[code].message} ${detail}` : catalogue[code].message, options)
    this.name = 'WakegateError'
    this.code = code
    this.status = catalogue[code].status
    this.detail = detail
    this.causeCode = options?.causeCode
    this.retryAfter = options?.retryAfter
  }

  static from (info: ErrorInfo): WakegateError {
    return new WakegateError(info.code, info.detail, { causeCode: info.cause, retryAfter: info.retryAfter })
  }

  info (): ErrorInfo {
    return { code: this.code, detail: this.detail, cause: this.causeCode, retryAfter: this.retryAfter }
  }
}

/** Any thrown value as an ErrorInfo; what is not a WakegateError becomes `fallback`. */
export function errorInfo (err: unknown, fallback: ErrorCode = 'WAKEGATE_BACKEND_FAILED'): ErrorInfo {
  if (err instanceof WakegateError) return err.info()
  return { code: fallback, detail: (err as Error | undefined)?.message }
}

/** Raised by config loading; `path` is the JSON pointer-ish field path (e.g. `apps[0].host`). */
export class ConfigError extends Error {
  readonly problems: Array<{ path: string, message: string }>

  constructor (problems: Array<{ path: string, message: string }>, source?: string) {
    const lines = problems.map(p => `  ${p.path || '(root)'}: ${p.message}`)
    super(`invalid configuration${source ? ` in ${source}` : ''}:\n${lines.join('\n')}`)
    this.name = 'ConfigError'
    this.problems = problems
  }
}

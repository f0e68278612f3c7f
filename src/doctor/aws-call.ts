// AWS calls made by doctor, and what their errors mean for a check: refused by IAM, a missing
// cluster, bad credentials, a request ECS rejected after authorizing it, or no answer at all.
import { BackendError } from '../backends/backend.js'
import { message } from './check.js'

export type FailureKind = 'denied' | 'cluster' | 'credentials' | 'invalid' | 'unreachable' | 'other'

export interface Failure {
  kind: FailureKind
  /** The AWS error code (AccessDeniedException, …). */
  name: string
  text: string
  /** For `denied`: the IAM action named in the message (`ecs:TagResource`), when it names one. */
  action?: string
  err: unknown
}

export type Outcome<T> = { ok: true, value: T } | ({ ok: false } & Failure)

const DENIED = new Set(['AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation'])
const CREDENTIALS = new Set([
  'CredentialsProviderError', 'UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException',
  'SignatureDoesNotMatch', 'ExpiredTokenException', 'ExpiredToken', 'MissingAuthenticationTokenException', 'AuthFailure'
])
// Rejections of the request itself. ECS authorizes before it looks at what a task would need,
// so for the probes these mean "allowed".
const INVALID = new Set([
  'InvalidParameterException', 'ClientException', 'InvalidParameterValue', 'PlatformTaskDefinitionIncompatibilityException',
  'PlatformUnknownException', 'UnsupportedFeatureException'
])

export function classify (err: unknown): Failure {
  // HostResolver wraps SDK errors in BackendErrors; the SDK's error is the cause.
  const e = (err instanceof BackendError && err.cause ? err.cause : err) as { name?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  const name = e?.name ?? 'Error'
  const text = message(e)
  const status = e?.$metadata?.httpStatusCode
  let kind: FailureKind = 'other'
  if (DENIED.has(name)) kind = 'denied'
  else if (name === 'ClusterNotFoundException') kind = 'cluster'
  else if (CREDENTIALS.has(name)) kind = 'credentials'
  else if (INVALID.has(name)) kind = 'invalid'
  // No HTTP answer (refused, timed out, DNS) or the service failing: nothing was decided.
  else if (status === undefined || status >= 500) kind = 'unreachable'
  const action = kind === 'denied' ? /perform: ([A-Za-z0-9-]+:[A-Za-z0-9*]+)/.exec(text)?.[1] : undefined
  return { kind, name, text, action, err }
}

export async function attempt<T> (work: () => Promise<T>): Promise<Outcome<T>> {
  try {
    return { ok: true, value: await work() }
  } catch (err) {
    return { ok: false, ...classify(err) }
  }
}

/** The fix of every check that found a permission missing. */
export function iamFix (action: string): string {
  return `add ${action} to the gateway's role: see README → AWS setup, or the deploy/ stack`
}

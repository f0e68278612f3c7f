// AWS errors and RunTask failures in plain words, as BackendErrors that say whether retrying
// can help. These messages reach the waking page and the logs.
import type { Failure } from '@aws-sdk/client-ecs'
import { BackendError } from '../backend.js'

/** Errors no retry will fix: permissions, configuration, bad input. */
const PERMANENT = new Set([
  'AccessDeniedException', 'AccessDenied', 'UnauthorizedOperation', 'AuthFailure',
  'UnrecognizedClientException', 'InvalidClientTokenId', 'InvalidSignatureException', 'SignatureDoesNotMatch',
  'MissingAuthenticationTokenException', 'ExpiredTokenException', 'CredentialsProviderError',
  'ClusterNotFoundException', 'InvalidParameterException', 'ClientException', 'UnsupportedFeatureException',
  'PlatformUnknownException', 'PlatformTaskDefinitionIncompatibilityException', 'BlockedException'
])

const HINTS: Record<string, string> = {
  ClusterNotFoundException: 'the ECS cluster does not exist in this account and region',
  AccessDeniedException: 'the gateway\'s IAM role may not do this (see the IAM policy in the README)',
  UnauthorizedOperation: 'the gateway\'s IAM role may not do this (see the IAM policy in the README)',
  CredentialsProviderError: 'no AWS credentials were found (environment, profile, container or instance role)'
}

/** Wraps an AWS SDK error (already retried by the SDK where retrying helps). */
export function awsError (action: string, err: unknown): BackendError {
  if (err instanceof BackendError) return err
  const e = err as { name?: string, message?: string, $metadata?: { httpStatusCode?: number } }
  const name = e?.name ?? 'Error'
  const msg = e?.message ?? String(err)
  const region = /region is missing/i.test(msg)
  const permanent = PERMANENT.has(name) || region
  const hint = region ? 'set backend.region or AWS_REGION' : HINTS[name]
  const status = e?.$metadata?.httpStatusCode
  const text = `AWS ${action} failed: ${name}: ${msg}${hint ? ` (${hint})` : ''}${!permanent && status ? ` [HTTP ${status}, after retries]` : ''}`
  return new BackendError(text, permanent, { cause: err })
}

const FAILURE_WORDS: Array<[RegExp, string]> = [
  [/^RESOURCE:MEMORY/, 'no container instance in the cluster has enough free memory for the task'],
  [/^RESOURCE:CPU/, 'no container instance in the cluster has enough free CPU for the task'],
  [/^RESOURCE:PORTS/, 'the host ports the task needs are taken on every container instance'],
  [/^RESOURCE:GPU/, 'no container instance has a free GPU for the task'],
  [/^RESOURCE:ENI/, 'no free network interface (ENI) is available for the task'],
  [/^RESOURCE/, 'the cluster lacks the resources the task needs'],
  [/^AGENT/, 'the ECS agent on the chosen container instance is disconnected'],
  [/^ATTRIBUTE/, 'no container instance has the attributes the task definition requires'],
  [/^MISSING/, 'a resource the task needs was not found'],
  [/capacity/i, 'the capacity provider has no capacity available right now']
]

/** Placement failures that will not clear up by themselves. */
const PERMANENT_FAILURE = /^(ATTRIBUTE|MISSING)/

/** One RunTask `failures[]` entry as a BackendError. */
export function runTaskFailure (failures: Failure[]): BackendError {
  const f = failures[0] ?? {}
  const reason = f.reason ?? 'unknown failure'
  const words = FAILURE_WORDS.find(([re]) => re.test(reason))?.[1]
  const detail = f.detail ? `: ${f.detail}` : ''
  const text = `ECS could not place the task: ${words ? `${words} (${reason}${detail})` : `${reason}${detail}`}`
  return new BackendError(text, PERMANENT_FAILURE.test(reason))
}

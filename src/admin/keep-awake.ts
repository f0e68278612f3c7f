// Keep awake until …: POST /api/envs/:app/:pr/keep-awake with { until: ISO-8601 } or
// { for: "2h" } keeps an env from idle and office-hours stops (waking it when asleep);
// DELETE ends it, and the usual idle timeout applies again.
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { EnvManager } from '../lifecycle/manager.js'
import type { Env } from '../lifecycle/env.js'
import { DURATION_PATTERN, parseDuration } from '../config/duration.js'
import { replyError } from '../proxy/error-response.js'

type Params = { Params: { app: string, pr: string } }
type Body = { until?: string, for?: string | number }

/** The longest keep-awake asked for at once. */
export const KEEP_AWAKE_MAX = 30 * 86_400_000

/** The instant asked for, or why the body is not acceptable. */
export function keepAwakeUntil (body: Body | undefined, now: number): number | string {
  const given = body ? (['until', 'for'] as const).filter(k => body[k] !== undefined) : []
  if (given.length !== 1) return 'give either "until" (an ISO-8601 time) or "for" (a duration such as "2h")'
  let until: number
  if (body!.until !== undefined) {
    until = /^\d{4}-\d{2}-\d{2}T/.test(body!.until) ? Date.parse(body!.until) : NaN
    if (Number.isNaN(until)) return `"until" must be an ISO-8601 time such as 2030-01-31T18:00:00Z, got ${JSON.stringify(body!.until)}`
    if (until <= now) return `"until" is in the past: ${body!.until}`
  } else {
    const f = body!.for!
    const ms = typeof f === 'number' ? f : new RegExp(DURATION_PATTERN).test(f) ? parseDuration(f) : NaN
    if (!(ms > 0)) return `"for" must be a duration such as "2h", "90m" or a number of milliseconds above 0, got ${JSON.stringify(f)}`
    until = now + ms
  }
  if (until - now > KEEP_AWAKE_MAX) return 'at most 30 days ahead'
  return until
}

export function registerKeepAwake (app: FastifyInstance, manager: EnvManager, findEnv: (req: FastifyRequest<Params>, reply: FastifyReply) => Env | undefined, view: (env: Env) => unknown): void {
  app.post<Params & { Body: Body | undefined }>('/api/envs/:app/:pr/keep-awake', {
    schema: {
      body: {
        type: ['object', 'null'],
        additionalProperties: false,
        properties: { until: { type: 'string' }, for: { anyOf: [{ type: 'number' }, { type: 'string' }] } }
      }
    }
  }, async (req, reply) => {
    const env = findEnv(req, reply)
    if (!env) return
    const until = keepAwakeUntil(req.body ?? undefined, Date.now())
    if (typeof until === 'string') return replyError(reply, { code: 'WAKEGATE_BAD_ADMIN_REQUEST', detail: until })
    manager.keepAwake(env, until, 'admin')
    return view(env)
  })

  app.delete<Params>('/api/envs/:app/:pr/keep-awake', async (req, reply) => {
    const env = findEnv(req, reply)
    if (!env) return
    manager.keepAwake(env, 0, 'admin')
    return view(env)
  })
}

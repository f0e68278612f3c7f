// Which envs a PR comment names, and whether the comment may warm them (pure). A comment
// warms an env when it names the env's host (bare or in a URL) and comes from a person with
// access to the repo, never from wakegate itself or another bot.
import { matchTemplate, type HostTemplate } from '../routing/template.js'
import { marker } from './comment.js'

/** Most envs one comment may warm: a pasted list of every preview is not a reviewer coming. */
export const MAX_MENTIONS = 5

/** GitHub's author_association values of people with access to the repo. */
const TRUSTED = new Set(['OWNER', 'MEMBER', 'COLLABORATOR'])

/** Start of the hidden marker in wakegate's comments (`<!-- wakegate:env=`). */
const OWN_MARK = marker('\0').split('\0')[0]

/** DNS-name-like runs of text; the template decides whether one is an env host. */
const HOSTISH = /[a-z0-9](?:[a-z0-9.-]{0,251}[a-z0-9])?/g

/** PR numbers whose host under `template` appears in `body`, in order, without repeats. */
export function mentionedPrs (body: string, template: HostTemplate, max = MAX_MENTIONS): number[] {
  const out: number[] = []
  for (const m of body.toLowerCase().matchAll(HOSTISH)) {
    const pr = matchTemplate(template, m[0])
    if (pr > 0 && !out.includes(pr)) out.push(pr)
    if (out.length >= max) break
  }
  return out
}

export interface CommentFacts {
  body: string
  id: number
  authorAssociation?: string
  user?: { login?: string, type?: string } | null
  sender?: { login?: string, type?: string } | null
  /** The comment id wakegate keeps for this PR's env (env.meta.commentId), when known. */
  ownCommentId?: number
}

/** Why this comment may not warm anything, or undefined when it may. */
export function commentRefusal (c: CommentFacts): string | undefined {
  // wakegate's own comment carries the URL: recognised by id, and by its marker before the id is known.
  if (c.ownCommentId !== undefined && c.id === c.ownCommentId) return "wakegate's own comment"
  if (c.body.includes(OWN_MARK)) return "wakegate's own comment"
  for (const who of [c.user, c.sender]) {
    if (who?.type === 'Bot' || who?.login?.endsWith('[bot]')) return `comment by a bot (${who.login ?? 'unknown'})`
  }
  if (!TRUSTED.has(String(c.authorAssociation ?? '').toUpperCase())) return `comment by ${c.user?.login ?? 'someone'} without access to the repo (${c.authorAssociation ?? 'no association'})`
  return undefined
}

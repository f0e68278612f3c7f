// issue_comment payloads for the GitHub fake's tests: comments on a PR (or an issue) as
// GitHub delivers them, from the real examples, with author, association and sender set.
import { example, setRepo, type FakePull } from './fake-github.js'

/** What an `issue_comment` payload says about its comment. */
export interface CommentSpec {
  body: string
  id?: number
  /** Login of the comment's author (and the delivery's sender). */
  user?: string
  /** 'Bot' for apps' and bots' comments. */
  userType?: 'User' | 'Bot'
  /** GitHub's author_association: OWNER, MEMBER, COLLABORATOR, CONTRIBUTOR, NONE… */
  association?: string
}

let commentIds = 5_000_000

/** An `issue_comment` payload from the examples, for a comment on `pull` (on a plain issue with `onIssue`). */
export function commentEvent (pull: FakePull, c: CommentSpec, action = 'created', onIssue = false): any {
  const p = example('issue_comment', action)
  p.action = action
  setRepo(p.repository, pull.repo)
  const base = `https://api.github.com/repos/${pull.repo}`
  p.issue.number = pull.number
  p.issue.title = pull.title
  p.issue.state = pull.state
  p.issue.user.login = pull.author
  if (onIssue) delete p.issue.pull_request
  else p.issue.pull_request = { url: `${base}/pulls/${pull.number}`, html_url: `https://github.com/${pull.repo}/pull/${pull.number}`, diff_url: `https://github.com/${pull.repo}/pull/${pull.number}.diff`, patch_url: `https://github.com/${pull.repo}/pull/${pull.number}.patch` }
  const login = c.user ?? 'mona'
  const user = { ...p.comment.user, login, type: c.userType ?? (login.endsWith('[bot]') ? 'Bot' : 'User') }
  p.comment.id = c.id ?? commentIds++
  p.comment.body = c.body
  p.comment.user = user
  p.comment.author_association = c.association ?? 'COLLABORATOR'
  p.comment.issue_url = `${base}/issues/${pull.number}`
  p.sender = structuredClone(user)
  return p
}

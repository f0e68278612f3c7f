// A gateway with the GitHub integration pointed at a FakeGitHub, for the github-* tests.
import type { Test } from 'tap'
import { startGateway, testConfig, exampleApp, waitFor, type Harness } from './harness.js'
import { FakeGitHub, prEvent, sendWebhook, type Delivery, type FakePull } from './fake-github.js'
import { commentEvent, type CommentSpec } from './fake-github-comment.js'
import type { GithubIntegration } from '../../src/github/index.js'

export const REPO = 'acme/web'
export const SECRET = 'webhook-secret'
export const HOOK_HOST = 'hooks.review.test'

export interface GithubGateway {
  h: Harness
  gh: FakeGitHub
  github: GithubIntegration
  /** Adds (or replaces) a PR in the fake. */
  pull (number: number, over?: Partial<FakePull>): FakePull
  /** Sends a signed webhook. */
  send (event: string, payload: unknown, opts?: { id?: string, signature?: string | null }): Promise<Delivery>
  /** Sends a pull_request webhook for `pull`. */
  pr (action: string, pull: FakePull, extra?: { label?: string, id?: string }): Promise<Delivery>
  /** Sends an issue_comment webhook (action created) for a comment on `pull`. */
  comment (pull: FakePull, c: CommentSpec): Promise<Delivery>
  /** Waits until queued PR feedback has been sent. */
  settle (): Promise<void>
  starts (): number
  close (): Promise<void>
}

export interface GithubGatewayOptions {
  /** Fields of the app's `github` policies. */
  policy?: Record<string, unknown>
  /** Other app fields. */
  app?: Record<string, unknown>
  /** Fields of the top-level `github` section. */
  github?: Record<string, unknown>
  /** Reuse a fake (a restart test). */
  fake?: FakeGitHub
}

export async function githubGateway (t: Test, opts: GithubGatewayOptions = {}): Promise<GithubGateway> {
  const gh = opts.fake ?? await new FakeGitHub().start()
  const config = testConfig({
    github: {
      auth: { token: gh.token },
      webhookSecret: SECRET,
      webhookHost: HOOK_HOST,
      apiUrl: gh.url,
      feedbackDebounce: '20ms',
      ...opts.github
    }
  }, [exampleApp({ repo: REPO, prs: [], github: { ...opts.policy }, ...opts.app })])
  const h = await startGateway(config)
  const github = h.wg.github!
  let closed = false
  const g: GithubGateway = {
    h,
    gh,
    github,
    pull: (number, over = {}) => gh.addPull({ repo: REPO, number, ...over }),
    send: (event, payload, o = {}) => sendWebhook(h.url, { event, payload, secret: SECRET, host: HOOK_HOST, ...o }),
    pr: (action, pull, extra = {}) => sendWebhook(h.url, { event: 'pull_request', payload: prEvent(action, pull, extra), secret: SECRET, host: HOOK_HOST, id: extra.id }),
    comment: (pull, c) => sendWebhook(h.url, { event: 'issue_comment', payload: commentEvent(pull, c), secret: SECRET, host: HOOK_HOST }),
    settle: () => github.feedback.settled(),
    starts: () => h.backends.get('example')!.calls.start,
    async close () {
      if (closed) return
      closed = true
      await h.close()
      if (!opts.fake) await gh.close()
    }
  }
  t.teardown(() => g.close())
  return g
}

export { waitFor }

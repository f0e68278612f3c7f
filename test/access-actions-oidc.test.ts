// GitHub Actions OIDC tokens as bearer credentials: signature against the issuer's JWKS (a
// fake issuer on a real socket), audience, repository and ref; nothing stored, never forwarded.
import t from 'tap'
import { startGateway, testConfig, exampleApp } from './support/harness.js'
import { FixedBackend } from './support/raw-upstream.js'
import { echoUpstream } from './support/echo-upstream.js'
import { FakeActionsIssuer } from './support/fake-oidc.js'

t.test('Actions OIDC: the right repo gets in; other repo, expired, wrong audience, forged → 401', async t => {
  const issuer = await new FakeActionsIssuer().start()
  const up = await echoUpstream()
  const config = testConfig({ access: { actionsIssuer: issuer.url } }, [exampleApp({
    repo: 'acme/web',
    access: { actions: { audience: 'wakegate-review', refs: ['refs/pull/*', 'refs/heads/main'] } }
  })])
  const h = await startGateway(config, { backends: new Map([['example', new FixedBackend(up.port)]]) })
  t.teardown(async () => { await h.close(); await up.close(); await issuer.close() })
  const as = async (token: string) => h.get('pr-1.review.test', '/', { authorization: `Bearer ${token}` })

  const none = await h.get('pr-1.review.test')
  t.equal(none.status, 401)
  t.equal(none.headers['www-authenticate'], 'Bearer')

  const bad = {
    'another repository': await issuer.mint({ repository: 'acme/other', aud: 'wakegate-review', ref: 'refs/pull/1/merge' }),
    'an expired token': await issuer.mint({ repository: 'acme/web', aud: 'wakegate-review', ref: 'refs/pull/1/merge' }, { expiresIn: -120 }),
    'the wrong audience': await issuer.mint({ repository: 'acme/web', aud: 'https://github.com/acme', ref: 'refs/pull/1/merge' }),
    'a key the issuer does not publish': await issuer.mint({ repository: 'acme/web', aud: 'wakegate-review', ref: 'refs/pull/1/merge' }, { key: 'untrusted' }),
    'a ref not listed': await issuer.mint({ repository: 'acme/web', aud: 'wakegate-review', ref: 'refs/heads/experiment' }),
    'another issuer': await issuer.mint({ repository: 'acme/web', aud: 'wakegate-review', ref: 'refs/pull/1/merge' }, { issuer: 'https://token.actions.example.org' })
  }
  for (const [what, token] of Object.entries(bad)) {
    const res = await as(token)
    t.equal(res.status, 401, what)
    t.equal(res.headers['www-authenticate'], 'Bearer error="invalid_token"', what)
    t.equal(JSON.parse(res.body).error, 'WAKEGATE_UNAUTHORIZED', what)
  }
  t.equal(h.backends.get('example')!.calls.start, 0, 'refused tokens start nothing')

  const good = await issuer.mint({ repository: 'acme/web', aud: 'wakegate-review', ref: 'refs/pull/1/merge' })
  const ok = await as(good)
  t.equal(ok.status, 200)
  t.notOk(JSON.parse(ok.body).headers.authorization, 'the token is not forwarded to the app')
  const fetches = issuer.jwksFetches
  for (let i = 0; i < 20; i++) t.equal((await as(good)).status, 200)
  t.equal(issuer.jwksFetches, fetches, 'a verified token is not verified again (nor the key set fetched)')
  t.equal((await as(await issuer.mint({ repository: 'ACME/web', aud: 'wakegate-review', ref: 'refs/heads/main' }))).status, 200, 'repository names compare case-insensitively')
})

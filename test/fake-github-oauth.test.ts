// The fakes behind "sign in with GitHub" and "GitHub Actions OIDC" answer the real SDKs
// (@octokit/oauth-app, @octokit/rest, jose) through real sockets as GitHub does.
import t, { type Test } from 'tap'
import { OAuthApp } from '@octokit/oauth-app'
import { Octokit } from '@octokit/rest'
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, jwtVerify } from 'jose'
import { request } from 'undici'
import { FakeGitHub } from './support/fake-github.js'
import { FakeActionsIssuer } from './support/fake-oidc.js'

const CLIENT_ID = 'Iv23liFakeClient'
const SECRET = 'fake-client-secret'
const CALLBACK = 'https://auth.review.test/__wakegate/auth/callback'
const quiet = { debug: () => {}, info: () => {}, warn: () => {}, error: () => {} }

async function github (t: Test) {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  gh.oauthClients.set(CLIENT_ID, SECRET)
  gh.oauthUser = 'hubot'
  return gh
}

// OAuthApp keeps its `baseUrl` option but never uses it: the OAuth base URL comes from the
// Octokit class's request defaults, so the fake is reached through `Octokit`.
function oauthApp (gh: FakeGitHub, clientSecret = SECRET) {
  return new OAuthApp({ clientType: 'github-app', clientId: CLIENT_ID, clientSecret, baseUrl: gh.url, Octokit: Octokit.defaults({ baseUrl: gh.url, log: quiet }) })
}

/** The browser's visit to the authorization URL: the redirect's query. */
async function visit (url: string, headers: Record<string, string> = {}) {
  const res = await request(url, { headers })
  const body = await res.body.text()
  const location = res.headers.location as string | undefined
  return { status: res.statusCode, body, type: String(res.headers['content-type']), location, query: location ? new URL(location).searchParams : new URLSearchParams() }
}

async function getUser (gh: FakeGitHub, token: string, scheme = 'token') {
  const res = await request(`${gh.url}/user`, { headers: { authorization: `${scheme} ${token}`, accept: 'application/vnd.github+json' } })
  return { status: res.statusCode, body: await res.body.json() as any }
}

t.test('OAuthApp: baseUrl alone still points at github.com (the reason oauthApp() passes Octokit)', async t => {
  const app = new OAuthApp({ clientType: 'github-app', clientId: CLIENT_ID, clientSecret: SECRET, baseUrl: 'http://127.0.0.1:9' })
  t.match(app.getWebFlowAuthorizationUrl({ state: 's' }).url, /^https:\/\/github\.com\/login\/oauth\/authorize\?/)
})

t.test('web flow: authorize redirects with code and state, createToken exchanges it, /user names the user', async t => {
  const gh = await github(t)
  const app = oauthApp(gh)
  const { url, state } = app.getWebFlowAuthorizationUrl({ state: 'st-123', redirectUrl: `${CALLBACK}?app=web` })
  t.equal(new URL(url).origin, gh.url)
  t.equal(new URL(url).pathname, '/login/oauth/authorize')
  t.equal(state, 'st-123')

  const v = await visit(url)
  t.equal(v.status, 302)
  t.ok(v.location!.startsWith(`${CALLBACK}?app=web&code=`), 'appended to the callback\'s own query')
  t.match(v.query.get('code'), /^[0-9a-f]{20}$/)
  t.equal(v.query.get('state'), 'st-123')
  t.equal(gh.authorizeCount, 1)

  const { authentication } = await app.createToken({ code: v.query.get('code')!, redirectUrl: `${CALLBACK}?app=web` })
  t.match(authentication.token, /^gho_[A-Za-z0-9]{36}$/)
  t.equal(authentication.clientType, 'github-app')
  t.equal(gh.tokenExchanges, 1)
  const exchange = gh.calls.find(c => c.path === '/login/oauth/access_token')!
  t.same(exchange.body, { client_id: CLIENT_ID, client_secret: SECRET, code: v.query.get('code'), redirect_uri: `${CALLBACK}?app=web` }, 'octokit sends a JSON body')
  t.equal(exchange.auth, '', 'and no Authorization header')

  const me = await getUser(gh, authentication.token)
  t.equal(me.status, 200)
  t.equal(me.body.login, 'hubot')
  t.equal(me.body.type, 'User')
  t.equal(me.body.id, gh.users.get('hubot')!.id)
  t.equal((await getUser(gh, authentication.token, 'Bearer')).body.login, 'hubot', 'Bearer works too')
  const octokit = new Octokit({ auth: authentication.token, baseUrl: gh.url, log: quiet })
  t.equal((await octokit.rest.users.getAuthenticated()).data.login, 'hubot', 'through octokit')

  t.equal(gh.revokeUserTokens('HUBOT'), 1)
  const revoked = await getUser(gh, authentication.token)
  t.equal(revoked.status, 401)
  t.equal(revoked.body.message, 'Bad credentials')
  t.equal((await getUser(gh, gh.token)).status, 401, 'the server token is no user token')
})

t.test('codes: one use, bound to client and redirect_uri, expire; wrong secret is refused', async t => {
  const gh = await github(t)
  const app = oauthApp(gh)
  const code = async (redirectUrl = CALLBACK) => (await visit(app.getWebFlowAuthorizationUrl({ redirectUrl }).url)).query.get('code')!

  const c1 = await code()
  await app.createToken({ code: c1 }) // redirect_uri is optional at the exchange
  await t.rejects(app.createToken({ code: c1 }), { status: 400, message: /The code passed is incorrect or expired\. \(bad_verification_code, https:/ }, 'replayed')

  const c2 = await code()
  await t.rejects(app.createToken({ code: c2, redirectUrl: 'https://evil.test/cb' }), { message: /bad_verification_code/ }, 'other redirect_uri')
  const c3 = await code()
  await t.rejects(oauthApp(gh, 'wrong').createToken({ code: c3 }), { status: 400, message: /The client_id and\/or client_secret passed are incorrect\. \(incorrect_client_credentials, https:/ }, 'wrong secret')
  t.ok((await app.createToken({ code: c3 })).authentication.token, 'a refused exchange does not use the code up')

  gh.oauthClients.set('Iv23other', 'other-secret')
  const other = new OAuthApp({ clientType: 'github-app', clientId: 'Iv23other', clientSecret: 'other-secret', Octokit: Octokit.defaults({ baseUrl: gh.url, log: quiet }) })
  await t.rejects(other.createToken({ code: await code() }), { message: /bad_verification_code/ }, 'another client\'s code')

  gh.oauthCodeTtl = 0
  await t.rejects(app.createToken({ code: await code() }), { message: /bad_verification_code/ }, 'expired')
  await t.rejects(app.createToken({ code: 'deadbeefdeadbeefdead' }), { message: /bad_verification_code/ }, 'never issued')
})

t.test('access_token answers form-encoded unless JSON is asked for, and takes form bodies', async t => {
  const gh = await github(t)
  const code = (await visit(`${gh.url}/login/oauth/authorize?client_id=${CLIENT_ID}&redirect_uri=${encodeURIComponent(CALLBACK)}&scope=read:user`)).query.get('code')!
  const form = new URLSearchParams({ client_id: CLIENT_ID, client_secret: SECRET, code, redirect_uri: CALLBACK }).toString()
  const res = await request(`${gh.url}/login/oauth/access_token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: form })
  t.match(String(res.headers['content-type']), /^application\/x-www-form-urlencoded/)
  const answer = new URLSearchParams(await res.body.text())
  t.match(answer.get('access_token'), /^gho_/)
  t.equal(answer.get('token_type'), 'bearer')
  t.equal(answer.get('scope'), 'read:user')
  const again = await request(`${gh.url}/login/oauth/access_token`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' }, body: form })
  t.equal(again.statusCode, 200, 'errors are 200s, as on GitHub')
  t.same(await again.body.json(), { error: 'bad_verification_code', error_description: 'The code passed is incorrect or expired.', error_uri: 'https://docs.github.com/apps/managing-oauth-apps/troubleshooting-oauth-app-access-token-request-errors/#bad-verification-code' })
})

t.test('authorize: unknown client, nobody signed in, denied, registered callback', async t => {
  const gh = await github(t)
  const at = (q: Record<string, string>) => visit(`${gh.url}/login/oauth/authorize?${new URLSearchParams(q)}`)

  const unknown = await at({ client_id: 'nope', redirect_uri: CALLBACK, state: 's' })
  t.equal(unknown.status, 404)
  t.match(unknown.type, /^text\/html/)

  gh.oauthUser = undefined
  const signIn = await at({ client_id: CLIENT_ID, redirect_uri: CALLBACK, state: 's' })
  t.equal(signIn.status, 200)
  t.match(signIn.body, /Sign in to GitHub/)
  t.equal(signIn.location, undefined)

  gh.oauthUser = 'hubot'
  gh.oauthDenied = true
  const denied = await at({ client_id: CLIENT_ID, redirect_uri: CALLBACK, state: 's' })
  t.equal(denied.status, 302)
  t.equal(denied.query.get('error'), 'access_denied')
  t.ok(denied.query.get('error_description'))
  t.equal(denied.query.get('state'), 's')
  t.equal(denied.query.get('code'), null)
  gh.oauthDenied = false

  gh.oauthCallbacks.set(CLIENT_ID, CALLBACK)
  const below = await at({ client_id: CLIENT_ID, redirect_uri: `${CALLBACK}/deeper?x=1`, state: 's' })
  t.ok(below.query.get('code'), 'a path below the registered callback is allowed')
  const mismatch = await at({ client_id: CLIENT_ID, redirect_uri: 'https://evil.test/__wakegate/auth/callback', state: 's' })
  t.ok(mismatch.location!.startsWith(`${CALLBACK}?error=redirect_uri_mismatch&`), 'sent to the registered callback with the error')
  const dflt = await at({ client_id: CLIENT_ID, state: 's' })
  t.ok(dflt.location!.startsWith(`${CALLBACK}?code=`), 'no redirect_uri: the registered callback')
  t.equal(gh.authorizeCount, 6)
})

t.test('access checks with the server credentials: repo permission, org and team membership; faults apply', async t => {
  const gh = await github(t)
  const octokit = new Octokit({ auth: gh.token, baseUrl: gh.url, log: quiet })
  const expected: Array<[string, string]> = [['admin', 'admin'], ['maintain', 'write'], ['write', 'write'], ['triage', 'read'], ['read', 'read']]
  for (const [role] of expected) gh.setRole('acme/web', `user-${role}`, role as any)
  for (const [role, permission] of expected) {
    const { data } = await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'web', username: `user-${role}` })
    t.equal(data.permission, permission, `${role} → ${permission}`)
    t.equal(data.role_name, role)
    t.equal(data.user?.login, `user-${role}`)
  }
  const none = (await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'web', username: 'stranger' })).data
  t.same([none.permission, none.role_name, none.user?.login], ['none', 'none', 'stranger'])
  t.equal((await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'web', username: 'USER-ADMIN' })).data.user?.login, 'user-admin', 'logins are case-insensitive')
  gh.publicRepos.add('acme/web')
  t.equal((await octokit.rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'web', username: 'stranger' })).data.permission, 'read', 'public repo: read for all')

  gh.orgMembers.set('acme', new Set(['hubot']))
  t.equal((await octokit.rest.orgs.checkMembershipForUser({ org: 'acme', username: 'hubot' })).status, 204)
  await t.rejects(octokit.rest.orgs.checkMembershipForUser({ org: 'acme', username: 'stranger' }), { name: 'HttpError', status: 404 })
  await t.rejects(octokit.rest.orgs.checkMembershipForUser({ org: 'other', username: 'hubot' }), { name: 'HttpError', status: 404 })

  gh.teams.set('acme/reviewers', new Set(['hubot']))
  t.equal((await octokit.rest.teams.getMembershipForUserInOrg({ org: 'acme', team_slug: 'reviewers', username: 'hubot' })).data.state, 'active')
  await t.rejects(octokit.rest.teams.getMembershipForUserInOrg({ org: 'acme', team_slug: 'reviewers', username: 'stranger' }), { name: 'HttpError', status: 404 })

  await t.rejects(new Octokit({ auth: 'gho_notissued', baseUrl: gh.url, log: quiet }).rest.orgs.checkMembershipForUser({ org: 'acme', username: 'hubot' }), { name: 'HttpError', status: 401 }, 'needs the server credentials')

  gh.fail('GET', /\/collaborators\/[^/]+\/permission$/, { status: 502 })
  await t.rejects(octokit.rest.repos.getCollaboratorPermissionLevel({ owner: 'acme', repo: 'web', username: 'user-admin' }), { name: 'HttpError', status: 502 })
  gh.fail('POST', /^\/login\/oauth\/access_token$/, { status: 503 })
  await t.rejects(oauthApp(gh).createToken({ code: 'x' }), { name: 'HttpError', status: 503 })
  gh.fail('GET', /^\/user$/, { status: 500 })
  t.equal((await getUser(gh, 'x')).status, 500)
})

t.test('Actions OIDC issuer: discovery, JWKS and tokens jose verifies or rejects', async t => {
  const issuer = await new FakeActionsIssuer().start()
  t.teardown(() => issuer.close())
  const config = await (await request(`${issuer.url}/.well-known/openid-configuration`)).body.json() as any
  t.equal(config.issuer, issuer.url)
  t.equal(config.jwks_uri, `${issuer.url}/.well-known/jwks`)
  t.same(config.id_token_signing_alg_values_supported, ['RS256'])
  t.same(config.response_types_supported, ['id_token'])
  t.ok(config.claims_supported.includes('job_workflow_ref'))

  const jwks = createRemoteJWKSet(new URL(config.jwks_uri))
  const verify = (token: string, audience = 'wakegate') => jwtVerify(token, jwks, { issuer: issuer.url, audience, algorithms: ['RS256'] })

  const token = await issuer.mint({ repository: 'acme/web', ref: 'refs/heads/feature/x', aud: 'wakegate' })
  const { payload, protectedHeader } = await verify(token)
  t.equal(protectedHeader.kid, issuer.kid)
  t.equal(protectedHeader.typ, 'JWT')
  t.match(payload, {
    iss: issuer.url, aud: 'wakegate', sub: 'repo:acme/web:ref:refs/heads/feature/x', repository: 'acme/web', repository_owner: 'acme',
    ref: 'refs/heads/feature/x', ref_type: 'branch', event_name: 'push', job_workflow_ref: /^acme\/web\/\.github\/workflows\/.+@refs\/heads\/feature\/x$/,
    repository_id: /^\d+$/, run_id: /^\d+$/, actor: 'octocat', sha: /^[0-9a-f]{40}$/, jti: String
  })
  t.equal(payload.exp! - payload.iat!, 300)
  t.equal(issuer.jwksFetches, 1)
  t.equal(decodeJwt(await issuer.mint({ repository: 'acme/web' })).aud, 'https://github.com/acme', 'GitHub\'s default audience')
  t.equal(decodeJwt(await issuer.mint({ repository: 'acme/web', environment: 'preview' })).sub, 'repo:acme/web:environment:preview')
  t.equal(decodeJwt(await issuer.mint({ repository: 'acme/web' })).repository_id, payload.repository_id, 'a repo keeps its id')

  await t.rejects(verify(await issuer.mint({ repository: 'acme/web', aud: 'wakegate' }, { expiresIn: -60 })), { code: 'ERR_JWT_EXPIRED' })
  await t.rejects(verify(await issuer.mint({ repository: 'acme/web', aud: 'wakegate' }, { key: 'untrusted' })), { code: 'ERR_JWS_SIGNATURE_VERIFICATION_FAILED' })
  await t.rejects(verify(await issuer.mint({ repository: 'acme/web', aud: 'someone-else' })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'aud' })
  await t.rejects(verify(await issuer.mint({ repository: 'acme/web', aud: 'wakegate' }, { issuer: 'https://token.actions.githubusercontent.com' })), { code: 'ERR_JWT_CLAIM_VALIDATION_FAILED', claim: 'iss' })
  await t.rejects(verify(await issuer.mint({ repository: 'acme/web', aud: 'wakegate' }, { alg: 'HS256' })), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' })
  await t.rejects(verify(await issuer.mint({ repository: 'acme/web', aud: 'wakegate' }, { alg: 'none' })), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' })
  await t.rejects(verify(await issuer.mint({ repository: 'acme/web', aud: 'wakegate' }, { alg: 'PS256' })), { code: 'ERR_JOSE_ALG_NOT_ALLOWED' })
  t.equal(issuer.jwksFetches, 1, 'the key set is cached')

  // Rotation: the new kid is unknown to the cached set; jose refetches once its cooldown
  // (30 s by default) has passed, here at once.
  const fresh = createRemoteJWKSet(new URL(config.jwks_uri), { cooldownDuration: 0 })
  await jwtVerify(token, fresh, { issuer: issuer.url, audience: 'wakegate' })
  const oldKid = issuer.kid
  const newKid = issuer.rotateKey()
  t.not(newKid, oldKid)
  const rotated = await issuer.mint({ repository: 'acme/web', aud: 'wakegate' })
  t.equal(decodeProtectedHeader(rotated).kid, newKid)
  t.equal((await jwtVerify(rotated, fresh, { issuer: issuer.url, audience: 'wakegate' })).payload.repository, 'acme/web')
  t.equal((await jwtVerify(token, fresh, { issuer: issuer.url, audience: 'wakegate' })).payload.repository, 'acme/web', 'old key still published')
  t.equal(issuer.jwksFetches, 3)
  t.same((await (await request(config.jwks_uri)).body.json() as any).keys.map((k: any) => k.kid), [oldKid, newKid])

  issuer.fail(/jwks$/, { status: 503 })
  t.equal((await request(config.jwks_uri)).statusCode, 503)
})

t.test('Actions OIDC issuer under a base path (GitHub Enterprise Server)', async t => {
  const issuer = await new FakeActionsIssuer({ basePath: '/_services/token' }).start()
  t.teardown(() => issuer.close())
  t.match(issuer.url, /^http:\/\/127\.0\.0\.1:\d+\/_services\/token$/)
  const jwks = createRemoteJWKSet(new URL(`${issuer.url}/.well-known/jwks`))
  const { payload } = await jwtVerify(await issuer.mint({ repository: 'acme/web', aud: 'wakegate' }), jwks, { issuer: issuer.url, audience: 'wakegate' })
  t.equal(payload.iss, issuer.url)
})

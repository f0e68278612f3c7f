import t from 'tap'
import { generateKeyPairSync } from 'node:crypto'
import { FakeGitHub } from './support/fake-github.js'
import { githubGateway, REPO } from './support/fake-github-gateway.js'

function appKeys () {
  // GitHub hands out PKCS#1 PEM keys ("BEGIN RSA PRIVATE KEY").
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  return {
    privateKey: privateKey.export({ type: 'pkcs1', format: 'pem' }).toString(),
    publicKey: publicKey.export({ type: 'spki', format: 'pem' }).toString()
  }
}

t.test('GitHub App auth: the installation is found per repo and its token is used for the API', async t => {
  const keys = appKeys()
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  gh.app = { id: 4242, publicKey: keys.publicKey, installations: new Map([[REPO, 77]]) }
  const g = await githubGateway(t, { fake: gh, github: { auth: { appId: 4242, privateKey: keys.privateKey } } })

  const pull = g.pull(121)
  const payload = (await import('./support/fake-github.js')).prEvent('opened', pull)
  delete payload.installation // found through GET /repos/{owner}/{repo}/installation
  await g.send('pull_request', payload)
  await g.h.get('pr-121.review.test', '/info')
  await g.settle()

  t.equal(gh.comments.length, 1, 'comment posted with the installation token')
  t.equal(gh.count('GET', /^\/repos\/acme\/web\/installation$/), 1, 'installation looked up once')
  t.equal(gh.count('POST', /^\/app\/installations\/77\/access_tokens$/), 1, 'one installation token, reused')
  const apiCalls = gh.calls.filter(c => c.path.startsWith('/repos/acme/web/') && !c.path.endsWith('/installation'))
  t.ok(apiCalls.length >= 4)
  t.ok(apiCalls.every(c => c.auth.startsWith('token ghs_') && c.status < 400), 'repo calls carry the installation token')
  t.equal(gh.calls.filter(c => c.status === 401).length, 0)
})

t.test('GitHub App auth with installationId from config (or the webhook payload) skips the lookup', async t => {
  const keys = appKeys()
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  gh.app = { id: 4243, publicKey: keys.publicKey, installations: new Map() }
  const g = await githubGateway(t, { fake: gh, github: { auth: { appId: '4243', privateKey: keys.privateKey.replace(/\n/g, '\\n'), installationId: 88 } } })
  await g.pr('opened', g.pull(122))
  await g.settle()
  t.equal(gh.comments.length, 1)
  t.equal(gh.count('GET', /\/installation$/), 0)
  t.equal(gh.count('POST', /^\/app\/installations\/88\/access_tokens$/), 1)
})

t.test('a wrong key is refused by GitHub: feedback fails, the proxy does not', async t => {
  const gh = await new FakeGitHub().start()
  t.teardown(() => gh.close())
  gh.app = { id: 4244, publicKey: appKeys().publicKey, installations: new Map([[REPO, 99]]) }
  const g = await githubGateway(t, { fake: gh, github: { auth: { appId: 4244, privateKey: appKeys().privateKey } } })
  await g.pr('opened', g.pull(123))
  t.equal((await g.h.get('pr-123.review.test', '/info')).status, 200)
  await g.settle()
  t.equal(gh.comments.length, 0)
  t.ok(g.github.feedback.counters.errors >= 1)
  t.ok(gh.calls.some(c => c.status === 401))
})

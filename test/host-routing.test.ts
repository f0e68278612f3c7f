import t from 'tap'
import { compileHostTemplate, normalizeHost, parsePr } from '../src/routing/template.js'
import { HostRouter } from '../src/routing/router.js'

t.test('templates compile and reject bad shapes', async t => {
  const tpl = compileHostTemplate('pr-{pr}.Review.Example.com.', 'web')
  t.equal(tpl.hostFor(12), 'pr-12.review.example.com')
  t.equal(compileHostTemplate('pr-{pr}.{app}.review.example.com', 'api').hostFor(3), 'pr-3.api.review.example.com')
  t.throws(() => compileHostTemplate('review.example.com', 'x'), /exactly once/)
  t.throws(() => compileHostTemplate('pr-{pr}-{pr}.x.com', 'x'), /exactly once/)
  t.throws(() => compileHostTemplate('pr-{pr}.{env}.x.com', 'x'), /unknown placeholder/)
  t.throws(() => compileHostTemplate('pr-{pr}', 'x'), /domain after/)
  t.throws(() => compileHostTemplate('pr_{pr}.x.com', 'x'), /only letters/)
  t.throws(() => compileHostTemplate('pr1{pr}.x.com', 'x'), /must not follow a digit/)
})

t.test('hosts normalize: case, port, trailing dot; junk is empty', async t => {
  t.equal(normalizeHost('PR-1.Example.COM:8080'), 'pr-1.example.com')
  t.equal(normalizeHost('pr-1.example.com.'), 'pr-1.example.com')
  t.equal(normalizeHost('pr-1.example.com.:443'), 'pr-1.example.com')
  for (const bad of ['', '[::1]:80', 'a b', 'pr-1.example.com:', 'pr-1.example.com:0', 'pr-1.example.com:70000', 'x'.repeat(300), 'é.com']) {
    t.equal(normalizeHost(bad), '', JSON.stringify(bad))
  }
})

t.test('PR numbers are canonical positive 31-bit integers', async t => {
  t.equal(parsePr('1'), 1)
  t.equal(parsePr('2147483647'), 2147483647)
  for (const bad of ['', '0', '01', '-1', '2147483648', '99999999999999999999', '1e3', '1.0', ' 1']) t.equal(parsePr(bad), 0, bad)
})

t.test('the router maps hosts of several apps and caches answers', async t => {
  const r = new HostRouter([
    { name: 'web', host: 'pr-{pr}.review.example.com' },
    { name: 'api', host: 'pr-{pr}.api.review.example.com' }
  ])
  t.same(r.match('pr-5.review.example.com'), { app: 'web', pr: 5, key: 'web/5' })
  t.same(r.match('PR-5.API.review.example.com:443'), { app: 'api', pr: 5, key: 'api/5' }, 'the more specific template wins')
  t.equal(r.match('pr-5.other.example.com'), null)
  t.equal(r.match(undefined), null)
  t.equal(r.match('pr-5.review.example.com'), r.match('pr-5.review.example.com'), 'cached object returned')
})

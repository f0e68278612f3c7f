// Micro-benchmark of host routing (beside host-routing.test.ts): Host header → env key, the
// first thing every request does. Run: npx tsx test/route-lookup.bench.ts (or npm run bench).
import { HostRouter } from '../src/routing/router.js'
import { normalizeHost, compileHostTemplate, matchTemplate } from '../src/routing/template.js'
import { bench, report } from '../bench/lib/micro.js'

const apps = [
  { name: 'web', host: 'pr-{pr}.review.example.com' },
  { name: 'api', host: 'pr-{pr}.{app}.review.example.com' },
  { name: 'docs', host: '{pr}-docs.preview.example.org' }
]
const router = new HostRouter(apps)
const N = 10_000
const hosts = Array.from({ length: N }, (_, i) => `pr-${i + 1}.review.example.com`)
const withPort = Array.from({ length: N }, (_, i) => `PR-${i + 1}.api.review.example.com:8443`)
const unknown = Array.from({ length: N }, (_, i) => `u${i}.somewhere-else.example.net`)
const envs = new Map(hosts.map((h, i) => [`web/${i + 1}`, { i }]))
const template = compileHostTemplate('pr-{pr}.review.example.com', 'web')
let coldRouter = new HostRouter(apps)

const results = [
  bench('match, cached, one busy env', () => router.match('pr-42.review.example.com')),
  bench('match + env map, 10k envs round-robin', i => { const m = router.match(hosts[i % N]); return m && envs.get(m.key) }),
  bench('match, host:port and upper case, cached', i => router.match(withPort[i % N])),
  bench('match, unknown hosts, cached as misses', i => router.match(unknown[i % N])),
  bench('parse one host: normalize + template match', i => {
    const h = normalizeHost(withPort[i % N])
    return matchTemplate(template, h) || 0
  }),
  bench('cold router: parse and cache 10k hosts', i => {
    const r = i % N === 0 ? (coldRouter = new HostRouter(apps)) : coldRouter
    return r.match(hosts[i % N])
  }, N * 10)
]
report('test/route-lookup.bench.ts', results)

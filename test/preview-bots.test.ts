import t from 'tap'
import { startGateway, testConfig } from './support/harness.js'

const BOTS = [
  'Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)',
  'facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)',
  'Twitterbot/1.0',
  'Mozilla/5.0 (compatible; Discordbot/2.0; +https://discordapp.com)',
  'LinkedInBot/1.0 (compatible; Mozilla/5.0; Apache-HttpClient +http://www.linkedin.com)',
  'github-camo (876de43e)',
  'Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)',
  'TelegramBot (like TwitterBot)',
  'WhatsApp/2.23.20.0'
]

t.test('link-preview bots and crawlers get a preview page and never start a task', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  for (const ua of BOTS) {
    const res = await h.get('pr-1.review.test', '/some/page', { 'user-agent': ua, accept: 'text/html' })
    t.equal(res.status, 200, ua)
    t.match(res.body, /<meta property="og:title" content="PR #1 · example review environment">/)
    t.equal(res.headers['x-robots-tag'], 'noindex, nofollow')
  }
  t.equal(h.backends.get('example')!.calls.start, 0, 'zero task starts')
  t.equal(h.wg.manager.envs.get('example/1')!.state, 'asleep')
})

t.test('/robots.txt of an asleep env is answered by the gateway', async t => {
  const h = await startGateway(testConfig())
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/robots.txt')
  t.equal(res.status, 200)
  t.equal(res.body, 'User-agent: *\nDisallow: /\n')
  t.equal(h.backends.get('example')!.calls.start, 0)
})

t.test('extra bot user agents come from config; a running env serves bots normally with noindex', async t => {
  const h = await startGateway(testConfig({ proxy: { previewBots: ['AcmeUnfurler'] } }))
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/', { 'user-agent': 'AcmeUnfurler/3' })
  t.match(res.body, /og:title/)
  t.equal(h.backends.get('example')!.calls.start, 0)
  await h.get('pr-1.review.test', '/info')
  const running = await h.get('pr-1.review.test', '/info', { 'user-agent': 'AcmeUnfurler/3' })
  t.equal(JSON.parse(running.body).pr, '1', 'proxied once running')
  t.equal(running.headers['x-robots-tag'], 'noindex, nofollow')
})

t.test('noindex can be turned off', async t => {
  const h = await startGateway(testConfig({ proxy: { noindex: false } }))
  t.teardown(() => h.close())
  const res = await h.get('pr-1.review.test', '/info')
  t.equal(res.headers['x-robots-tag'], undefined)
})

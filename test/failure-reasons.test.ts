// Failure reasons a reviewer can act on: the line that names the error survives a long stack
// trace and the output after it, and a start timeout says what was probed, which PORT the
// app was given and what the app printed.
import t from 'tap'
import { startGateway, testConfig, exampleApp } from './support/harness.js'

const nav = { accept: 'text/html', 'sec-fetch-mode': 'navigate' }

// A Node app whose dependency is missing: a 40-frame stack trace, then a wrapper script
// (npm, a dev server) that prints more before it exits.
const MISSING_MODULE = 'node --stack-trace-limit=60 -e "function load (n) { return n === 0 ? require(\'pg\') : load(n - 1) } console.log(\'starting api\'); load(40)"; ' +
  'i=0; while [ $i -lt 25 ]; do echo "cleanup step $i"; i=$((i+1)); done; exit 1'

t.test('a crash keeps the line naming the error above a long stack and later output, bounded in size', async t => {
  const app = exampleApp({ backend: { kind: 'local', command: MISSING_MODULE }, failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())

  const held = await h.get('pr-1.review.test', '/api/users')
  t.equal(held.status, 502)
  const err = JSON.parse(held.body)
  t.equal(err.error, 'WAKEGATE_TASK_EXITED')
  t.match(err.detail, /process exited with code 1/)
  t.match(err.detail, /^Error: Cannot find module 'pg'$/m, 'the error line is kept')
  t.match(err.detail, /cleanup step 24/, 'and the last output lines')
  t.notMatch(err.detail, /cleanup step 5\b/, 'not everything in between')
  t.ok(err.detail.length < 2000, `bounded (${err.detail.length} chars)`)

  const page = await h.get('pr-1.review.test', '/', nav)
  t.equal(page.status, 503)
  t.equal(page.headers['x-wakegate-error'], 'WAKEGATE_ENV_FAILED')
  t.match(page.body, /Error: Cannot find module &#39;pg&#39;/, 'the failed page shows it')
})

t.test('a start timeout names the probed address, the PORT the app was given and its output', async t => {
  // A dev server that ignores $PORT and listens on a port of its own (the banner comes first,
  // from the shell, so it is there however slowly node starts on a busy machine).
  const command = 'echo "dev server: port taken from its own config"; ' +
    'exec node -e "const s = require(\'http\').createServer((q, r) => r.end(\'ok\')); s.listen(0, \'127.0.0.1\', () => console.log(\'  Local:   http://127.0.0.1:\' + s.address().port + \'/\'))"'
  const app = exampleApp({ backend: { kind: 'local', command }, startTimeout: '1s', failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())

  const held = await h.get('pr-1.review.test', '/info')
  t.equal(held.status, 504)
  const err = JSON.parse(held.body)
  t.equal(err.error, 'WAKEGATE_WAKE_TIMEOUT')
  const probed = /health check \(GET http:\/\/127\.0\.0\.1:(\d+)\/healthz with Host pr-1\.review\.test\) did not pass before the start timeout \(last: ECONNREFUSED\)/.exec(err.detail)
  t.ok(probed, `the probed address and path are named: ${err.detail}`)
  t.match(err.detail, new RegExp(`PORT=${probed?.[1]}\\b`), 'so is the PORT the app was given: the same port')
  t.match(err.detail, /dev server: port taken from its own config/, 'and the app\'s last output')
  t.equal(h.wg.manager.envs.get('example/1')!.m.reason, err.detail, 'the env keeps the same reason')
})

t.test('a TCP probe that never connects is named as such', async t => {
  const app = exampleApp({ backend: { kind: 'local', command: 'echo "compiling…"; exec sleep 30' }, health: { tcp: true }, startTimeout: '600ms', failureBackoff: '1m' })
  const h = await startGateway(testConfig({}, [app]))
  t.teardown(() => h.close())
  const err = JSON.parse((await h.get('pr-1.review.test', '/info')).body)
  t.equal(err.error, 'WAKEGATE_WAKE_TIMEOUT')
  const probed = /health check \(TCP connect to 127\.0\.0\.1:(\d+)\) did not pass/.exec(err.detail)
  t.ok(probed, `a TCP connect to the task's port: ${err.detail}`)
  t.match(err.detail, new RegExp(`PORT=${probed?.[1]}\\b`))
  t.match(err.detail, /compiling…/)
})

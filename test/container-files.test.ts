import t from 'tap'
import { readFileSync, existsSync } from 'node:fs'
import { join } from 'node:path'
import { parse } from 'yaml'
import { ROOT } from './support/harness.js'

// No Docker engine runs the tests, so the files are checked for what they must guarantee.
const lines = readFileSync(join(ROOT, 'Dockerfile'), 'utf8').split('\n').map(l => l.trim()).filter(l => l && !l.startsWith('#'))
const instructions = lines.map(l => l.split(/\s+/)[0].toUpperCase())

t.test('Dockerfile: multi-stage on Node 22, non-root, runs the quick-start config', async t => {
  const froms = lines.filter(l => /^FROM /i.test(l))
  t.ok(froms.length >= 2, 'multi-stage')
  t.ok(froms.every(f => /node:22/.test(f)), 'Node 22 everywhere')
  const known = new Set(['FROM', 'WORKDIR', 'COPY', 'RUN', 'ENV', 'USER', 'EXPOSE', 'HEALTHCHECK', 'STOPSIGNAL', 'ENTRYPOINT', 'CMD', 'ARG', 'LABEL'])
  const continued = new Set<number>()
  lines.forEach((l, i) => { if (l.endsWith('\\')) continued.add(i + 1) })
  instructions.forEach((ins, i) => { if (!continued.has(i)) t.ok(known.has(ins), `known instruction ${ins}`) })
  const lastFrom = instructions.lastIndexOf('FROM')
  const user = lines.slice(lastFrom).find(l => /^USER /.test(l))
  t.ok(user && !/root|^USER 0/.test(user.slice(5)), 'final stage runs as a non-root user')
  t.ok(lines.slice(lastFrom).some(l => /ENTRYPOINT \["node", "dist\/cli\.js"\]/.test(l)))
  t.match(lines.join('\n'), /WAKEGATE_CONFIG=\/app\/examples\/wakegate\.yaml/)
  for (const l of lines.filter(x => /^COPY /.test(x) && !/--from/.test(x))) {
    for (const src of l.split(/\s+/).slice(1, -1)) t.ok(existsSync(join(ROOT, src)), `COPY source ${src} exists`)
  }
  t.ok(lines.some(l => /npm ci --omit=dev/.test(l)), 'runtime has production dependencies only')
})

t.test('docker-compose.yml publishes the gateway on 8080', async t => {
  const doc = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'))
  const svc = doc.services.wakegate
  t.same(svc.ports, ['8080:8080'])
  t.equal(svc.build, '.')
  t.equal(svc.environment.WAKEGATE_LISTEN_HOST, '0.0.0.0')
})

t.test('docker-compose.yml: the replicas profile runs Redis and two replicas of the redis-store example', async t => {
  const doc = parse(readFileSync(join(ROOT, 'docker-compose.yml'), 'utf8'), { merge: true })
  const { redis, 'replica-a': a, 'replica-b': b } = doc.services
  for (const s of [redis, a, b]) t.same(s.profiles, ['replicas'], 'only with --profile replicas')
  t.match(redis.image, /^redis:/)
  for (const s of [a, b]) {
    t.equal(s.environment.WAKEGATE_CONFIG, '/app/examples/wakegate.replicas.yaml')
    t.equal(s.environment.WAKEGATE_REDIS_URL, 'redis://redis:6379')
    t.same(s.volumes, ['tasks:/tmp/wakegate-tasks'], 'the local task dir is shared')
  }
  t.not(a.environment.WAKEGATE_LISTEN_PORT, b.environment.WAKEGATE_LISTEN_PORT, 'distinct ports in the shared network namespace')
  t.same(a.ports, ['8081:8081', '8082:8082'])
  t.equal(b.network_mode, 'service:replica-a')
  t.equal(b.pid, 'service:replica-a', 'a new leader can check and stop task processes the other started')
  const example = parse(readFileSync(join(ROOT, 'examples', 'wakegate.replicas.yaml'), 'utf8'))
  t.equal(example.store.kind, 'redis')
  t.equal(example.apps[0].backend.taskDir, '/tmp/wakegate-tasks/example')
})

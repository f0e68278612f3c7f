// SIGTERM while requests are held for a wake: they count as in flight during
// proxy.shutdownGrace, and if the env is still not ready they are answered 503
// WAKEGATE_SHUTTING_DOWN with Retry-After and Connection: close — never a reset — in the
// single-process gateway and in worker processes.
import t, { type Test } from 'tap'
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { request } from 'undici'
import WebSocket from 'ws'
import { EXAMPLE_COMMAND, spawnServe, sleep } from './support/harness.js'

function configFile (workers: number): string {
  const dir = mkdtempSync(join(tmpdir(), 'wakegate-shutdown-held-'))
  const file = join(dir, 'wakegate.yaml')
  // The app's health check fails for a minute: every request to it is held.
  writeFileSync(file, `
listen: { host: 127.0.0.1, port: 0 }
admin: { enabled: false }
workers: ${workers}
proxy: { shutdownGrace: 1s }
apps:
  - name: example
    host: pr-{pr}.review.test
    health: { path: /healthz }
    anyPr: true
    holdTimeout: 60s
    startTimeout: 2m
    env: { READY_AFTER_MS: "60000" }
    backend: { kind: local, command: ${JSON.stringify(EXAMPLE_COMMAND)}, stopGrace: 2s }
`)
  return file
}

/** The response a held upgrade ends with, or the error it fails with. */
function heldUpgrade (url: string): Promise<{ status: number, headers: Record<string, unknown> } | Error> {
  return new Promise(resolve => {
    const ws = new WebSocket(`${url.replace('http', 'ws')}/ws`, { headers: { host: 'pr-1.review.test' } })
    ws.once('unexpected-response', (_req, res) => { resolve({ status: res.statusCode ?? 0, headers: res.headers }); res.resume(); ws.terminate() })
    ws.once('open', () => { resolve(new Error('upgraded')); ws.terminate() })
    ws.once('error', err => resolve(err))
  })
}

async function shedOnSigterm (t: Test, workers: number) {
  const m = workers > 1 ? `${workers} workers: ` : ''
  const listening = workers > 1 ? /"url":"(http:\/\/[^"]+)","workers"/ : undefined
  const { child, exited, url } = await spawnServe(configFile(workers), listening)
  const held = Promise.all([1, 2].map(() => request(`${url}/info`, { headers: { host: 'pr-1.review.test' } })
    .then(async r => ({ status: r.statusCode, headers: r.headers, body: await r.body.text() }), (err: Error) => err)))
  const upgrade = heldUpgrade(url)
  await sleep(500) // the requests arrive and are held
  child.kill('SIGTERM')
  for (const res of await held) {
    if (res instanceof Error) { t.fail(`${m}held request failed: ${res.message}`); continue }
    t.equal(res.status, 503, `${m}held request: 503`)
    t.equal(res.headers['x-wakegate-error'], 'WAKEGATE_SHUTTING_DOWN', `${m}held request: code`)
    t.ok(Number(res.headers['retry-after']) > 0, `${m}held request: Retry-After`)
    t.equal(res.headers.connection, 'close', `${m}held request: Connection: close`)
  }
  const up = await upgrade
  if (up instanceof Error) t.fail(`${m}held upgrade failed: ${up.message}`)
  else {
    t.equal(up.status, 503, `${m}held upgrade: 503`)
    t.equal(up.headers['x-wakegate-error'], 'WAKEGATE_SHUTTING_DOWN', `${m}held upgrade: code`)
    t.ok(Number(up.headers['retry-after']) > 0, `${m}held upgrade: Retry-After`)
  }
  t.equal(await exited, 0, `${m}exit code 0`)
}

// One gateway process, and one with two workers (their own shutdown path), side by side.
t.test('SIGTERM: held requests and upgrades get 503 WAKEGATE_SHUTTING_DOWN, not a reset', t =>
  Promise.all([shedOnSigterm(t, 1), shedOnSigterm(t, 2)]))

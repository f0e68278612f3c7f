// A real Vite dev server as a review app on the local backend (test/fixtures/vite-app), with
// its HMR client pinging every `hmrTimeout` ms, plus helpers to watch it in Chromium.
import { request } from 'undici'
import type { Page } from 'playwright-core'
import { ROOT, exampleApp } from './harness.js'

export const VITE_SERVE = `${ROOT}/test/fixtures/vite-app/serve.mjs`

/** The vite app on `pr-{pr}.localhost` (Chromium resolves *.localhost to loopback). */
export function viteApp (over: Record<string, unknown> = {}, hmrTimeout = 300): Record<string, unknown> {
  return exampleApp({
    host: 'pr-{pr}.localhost',
    health: { path: '/' },
    startTimeout: '30s',
    env: { HMR_TIMEOUT_MS: String(hmrTimeout) },
    backend: { kind: 'local', command: `exec node ${JSON.stringify(VITE_SERVE)}`, stopGrace: '2s' },
    ...over
  })
}

/** Counts the keep-alive pings and other messages the page sends on its WebSockets (the HMR socket). */
export function watchFrames (page: Page): { pings: () => number, others: () => number } {
  let pings = 0
  let others = 0
  page.on('websocket', ws => {
    ws.on('framesent', f => { if (f.payload === '{"type":"ping"}') pings++; else others++ })
  })
  return { pings: () => pings, others: () => others }
}

/** One counter of the admin /metrics, by its full series text (name and labels). */
export async function metric (adminUrl: string, token: string, series: string): Promise<number> {
  const text = await (await request(`${adminUrl}/metrics`, { headers: { authorization: `Bearer ${token}` } })).body.text()
  const line = text.split('\n').find(l => l.startsWith(`${series} `))
  return line === undefined ? 0 : Number(line.slice(series.length + 1))
}

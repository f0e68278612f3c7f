// Micro-benchmark of what the hot path adds to tell people from machines and real traffic from
// heartbeats (beside heartbeat-classifier.test.ts and machine-requests.test.ts): the user-agent
// verdict per request, and frame following per chunk of a person's tunnel.
// Run: npx tsx test/heartbeat-classifier.bench.ts (or npm run bench).
import type { IncomingMessage } from 'node:http'
import { ClientClassifier, DEFAULT_PREVIEW_BOTS } from '../src/proxy/clients.js'
import { FrameTracker } from '../src/proxy/ws-frames.js'
import { SseScanner } from '../src/proxy/heartbeats.js'
import { bench, report } from '../bench/lib/micro.js'

const BROWSER = 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36'
const req = (ua: string) => ({ headers: { 'user-agent': ua } }) as unknown as IncomingMessage
const browser = req(BROWSER)
const bot = req('Mozilla/5.0 (compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)')
const many = Array.from({ length: 5000 }, (_, i) => req(`${BROWSER} build/${i}`))
const clients = new ClientClassifier()

function frames (payload: Buffer, count: number): Buffer {
  const one = Buffer.concat([Buffer.from([0x82, 126, payload.length >> 8, payload.length & 255]), payload])
  return Buffer.concat(Array.from({ length: count }, () => one))
}
const bulk = frames(Buffer.alloc(16_000, 7), 4) // 64 KB of 16 KB binary frames
const pings = Buffer.concat(Array.from({ length: 64 }, () => Buffer.from([0x81, 1, 0x32]))) // 64 "2" frames
const classify = new FrameTracker(true)
const boundaries = new FrameTracker(false)
const sse = Buffer.from(': ping\n\ndata: {"n":1,"text":"an update of some size for a dashboard"}\n\n')
const scanner = new SseScanner()

const results = [
  bench('isMachine, a browser (cached verdict)', () => clients.isMachine(browser)),
  bench('isMachine, a bot (cached verdict)', () => clients.isMachine(bot)),
  bench('isMachine, 5000 distinct user agents (cache churn)', i => clients.isMachine(many[i % 5000]), 200_000),
  bench('uncached: lower case + substring scan (what a miss costs)', () => {
    const lower = BROWSER.toLowerCase()
    for (const b of DEFAULT_PREVIEW_BOTS) if (lower.includes(b)) return true
    return false
  }, 200_000),
  bench('64 KB of 16 KB frames, classified', () => { classify.consume(bulk); return classify.takeReal() }, 200_000),
  bench('64 KB of 16 KB frames, boundaries only', () => boundaries.consume(bulk), 200_000),
  bench('64 heartbeat frames in one chunk, classified', () => { classify.consume(pings); return classify.takeReal() }, 200_000),
  bench('SSE chunk: a comment and a data event', () => scanner.feed(sse))
]
report('test/heartbeat-classifier.bench.ts', results)

// Micro-benchmark of header rewriting (beside http-forwarding.test.ts): the request head
// sent upstream and the response head parsed back, per proxied request.
// Run: npx tsx test/header-rewrite.bench.ts (or npm run bench).
import { requestHead, forwardRequestHeaders, type HeadInfo } from '../src/proxy/headers.js'
import { parseResponseHead, type ResponseHead } from '../src/proxy/response-head.js'
import { bench, report } from '../bench/lib/micro.js'

const browser = [
  'Host', 'pr-123.review.example.com',
  'Connection', 'keep-alive',
  'sec-ch-ua', '"Chromium";v="130", "Not?A_Brand";v="99"',
  'sec-ch-ua-mobile', '?0',
  'sec-ch-ua-platform', '"Linux"',
  'Upgrade-Insecure-Requests', '1',
  'User-Agent', 'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/130.0.0.0 Safari/537.36',
  'Accept', 'text/html,application/xhtml+xml,application/xml;q=0.9,image/avif,image/webp,*/*;q=0.8',
  'Sec-Fetch-Site', 'none',
  'Sec-Fetch-Mode', 'navigate',
  'Sec-Fetch-User', '?1',
  'Sec-Fetch-Dest', 'document',
  'Accept-Encoding', 'gzip, deflate, br, zstd',
  'Accept-Language', 'en-US,en;q=0.9',
  'Cookie', 'session=0123456789abcdef; theme=dark'
]
const minimal = ['Host', 'pr-1.bench.test']
const hopByHop = ['Host', 'pr-1.bench.test', 'Connection', 'keep-alive, x-private', 'X-Private', '1', 'Keep-Alive', 'timeout=5', 'TE', 'trailers', 'X-Forwarded-For', '6.6.6.6']
const info = { remoteAddress: '10.0.3.7', proto: 'https' as const, host: 'pr-123.review.example.com', append: false }
const out: HeadInfo = { bodyKind: 0 }

const typicalResponse = 'HTTP/1.1 200 OK\r\nContent-Type: text/html; charset=utf-8\r\nContent-Length: 5120\r\nDate: Mon, 23 Nov 2026 09:00:00 GMT\r\nETag: "abc123"\r\nCache-Control: no-cache\r\nSet-Cookie: session=0123456789abcdef; Path=/; HttpOnly\r\nVary: Accept-Encoding\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5'
const chunkedResponse = 'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: keep-alive'
const head: ResponseHead = { status: 0, statusText: '', headers: [], framing: 0, length: -1, keepAlive: true }

const results = [
  bench('request head, wrk-like (Host only)', () => requestHead('GET', '/', minimal, info, out)),
  bench('request head, browser navigation (15 headers)', () => requestHead('GET', '/app/page?q=1', browser, info, out)),
  bench('request head, Connection-listed + X-Forwarded-For', () => requestHead('GET', '/', hopByHop, info, out), 300_000),
  bench('request head, append mode', () => requestHead('GET', '/', hopByHop, { ...info, append: true }, out), 300_000),
  bench('upgrade headers (array form, WebSocket path)', () => forwardRequestHeaders(browser, info, true)),
  bench('response head, typical page (9 headers)', () => parseResponseHead(typicalResponse, false, head) ?? head.headers),
  bench('response head, chunked JSON', () => parseResponseHead(chunkedResponse, false, head) ?? head.headers)
]
report('test/header-rewrite.bench.ts', results)

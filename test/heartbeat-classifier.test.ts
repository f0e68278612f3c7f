// What counts as real traffic on a long-lived stream and what is keep-alive chatter: the
// frame follower of WebSocket tunnels (both directions, masked client frames, frames split
// across chunks) and the event-stream line scanner. Pure modules, fed the bytes the wire carries.
import t from 'tap'
import { randomBytes } from 'node:crypto'
import { FrameTracker } from '../src/proxy/ws-frames.js'
import { SseScanner, isHeartbeatPayload } from '../src/proxy/heartbeats.js'

function frame (opcode: number, data: string | Buffer, opts: { mask?: boolean, fin?: boolean, rsv1?: boolean } = {}): Buffer {
  const payload = typeof data === 'string' ? Buffer.from(data) : data
  const len = payload.length
  const head: number[] = [(opts.fin === false ? 0 : 0x80) | (opts.rsv1 ? 0x40 : 0) | opcode]
  const m = opts.mask ? 0x80 : 0
  if (len < 126) head.push(m | len)
  else if (len < 65536) head.push(m | 126, len >> 8, len & 255)
  else { head.push(m | 127); for (let k = 7; k >= 0; k--) head.push(Math.floor(len / 2 ** (8 * k)) & 255) }
  if (!opts.mask) return Buffer.concat([Buffer.from(head), payload])
  const key = randomBytes(4)
  const body = Buffer.from(payload)
  for (let i = 0; i < len; i++) body[i] ^= key[i & 3]
  return Buffer.concat([Buffer.from(head), key, body])
}

/** Feeds `bytes` in pieces of `size` and says whether any real traffic was seen. */
function real (tracker: FrameTracker, bytes: Buffer, size = bytes.length): boolean {
  let seen = false
  for (let i = 0; i < bytes.length; i += size) {
    tracker.consume(bytes.subarray(i, i + size))
    if (tracker.takeReal()) seen = true
  }
  return seen
}

t.test('keep-alive messages of common stacks are heartbeats, in either direction', async t => {
  const chatter = ['2', '3', '2probe', '3probe', '{"type":"ping"}', '{"type":"pong"}', '{"type":"connected"}', '{"type":"ka"}',
    '{"type":"ping","message":1700000000}', '[null,"12","phoenix","heartbeat",{}]', '{"topic":"phoenix","event":"heartbeat","payload":{},"ref":"3"}', '']
  for (const mask of [false, true]) {
    for (const msg of chatter) t.notOk(real(new FrameTracker(true), frame(1, msg, { mask })), `${mask ? 'client' : 'server'} ${JSON.stringify(msg)}`)
    t.notOk(real(new FrameTracker(true), frame(0x9, 'x', { mask })), 'ping control frame')
    t.notOk(real(new FrameTracker(true), frame(0xA, 'x', { mask })), 'pong control frame')
  }
})

t.test('messages with content are real traffic; a repeat of the previous small one is not', async t => {
  const c = new FrameTracker(true)
  t.ok(real(c, frame(1, '42["edit",{"line":3}]', { mask: true })), 'a socket.io event')
  t.notOk(real(c, frame(1, '42["edit",{"line":3}]', { mask: true })), 'the same payload again: a periodic repeat')
  t.ok(real(c, frame(1, '42["edit",{"line":4}]', { mask: true })), 'a different one')
  t.ok(real(c, frame(1, '{"type":"custom","event":"review:edit","data":{"n":1}}', { mask: true })), 'a Vite custom event')
  t.ok(real(c, frame(2, randomBytes(40000), { mask: true })), 'a large binary message (not copied, not compared)')
  t.ok(real(c, frame(1, 'part one', { mask: true, fin: false })), 'a fragmented message')
  t.ok(real(new FrameTracker(true), frame(1, '{"type":"update","path":"/src/App.tsx"}')), 'an HMR update from the server')
  t.notOk(real(new FrameTracker(false), frame(1, 'a real message')), 'a tracker that does not classify (a machine\'s tunnel) reports nothing')
})

t.test('frames split across chunks at every byte are followed, masked or not', async t => {
  for (const mask of [false, true]) {
    const stream = Buffer.concat([frame(1, '2', { mask }), frame(0x9, '', { mask }), frame(1, '{"type":"ping"}', { mask }), frame(1, '2', { mask })])
    t.notOk(real(new FrameTracker(true), stream, 1), `heartbeats byte by byte (${mask ? 'masked' : 'unmasked'})`)
    const tracker = new FrameTracker(true)
    t.notOk(real(tracker, stream, 3))
    t.ok(real(tracker, Buffer.concat([frame(1, '{"type":"update","n":7}', { mask }), frame(1, '3', { mask })]), 2), 'then a real message among them')
    t.ok(tracker.atBoundary, 'ends at a frame boundary')
  }
  const big = frame(2, randomBytes(70000), { mask: true })
  const tracker = new FrameTracker(true)
  t.ok(real(tracker, big, 4096), 'a 64-bit length frame in 4 KiB reads')
  t.ok(tracker.atBoundary)
})

t.test('compressed messages are judged by repetition only', async t => {
  const c = new FrameTracker(true)
  t.ok(real(c, frame(1, Buffer.from([0x32, 0x02, 0x00]), { rsv1: true })), 'a compressed message is real the first time')
  t.notOk(real(c, frame(1, Buffer.from([0x32, 0x02, 0x00]), { rsv1: true })), 'its exact repeat is a heartbeat')
})

t.test('isHeartbeatPayload on its own', async t => {
  t.ok(isHeartbeatPayload(Buffer.alloc(0), null))
  t.ok(isHeartbeatPayload(Buffer.from('ping'), null))
  t.notOk(isHeartbeatPayload(Buffer.from('hello'), null))
  t.ok(isHeartbeatPayload(Buffer.from('hello'), Buffer.from('hello')))
  t.notOk(isHeartbeatPayload(Buffer.from('{"type":"ping"'), null), 'broken JSON is not a known heartbeat')
  t.notOk(isHeartbeatPayload(Buffer.from('{"type":"message","text":"ping"}'), null))
})

t.test('event streams: data events are real; comments, empty data and other fields are not', async t => {
  const s = new SseScanner()
  t.notOk(s.feed(Buffer.from(': ping\n\n')), 'a comment')
  t.notOk(s.feed(Buffer.from('data:\n\ndata: \n\n')), 'empty data')
  t.notOk(s.feed(Buffer.from('event: keepalive\nid: 3\nretry: 1000\n\n')), 'fields without data')
  t.notOk(s.feed(Buffer.from('datum: x\n\n')), 'a field that only starts like data')
  t.ok(s.feed(Buffer.from('data: {"sha":"abc"}\n\n')), 'a data event')
  t.ok(s.feed(Buffer.from(': ping\n\ndata:x\n\n')), 'data after a comment in one chunk')
  t.ok(s.feed(Buffer.from('id: 4\r\ndata: crlf\r\n\r\n')), 'CRLF lines')
  // A data line split across reads.
  t.notOk(s.feed(Buffer.from(': p\n\nda')))
  t.notOk(s.feed(Buffer.from('ta')))
  t.ok(s.feed(Buffer.from(': value\n\n')), 'the value arrives in the next read')
  t.notOk(s.feed(Buffer.alloc(0)), 'an empty read')
  t.ok(s.feed(Buffer.from('data: first\n\ndata')), 'real, ending mid-line')
  t.notOk(s.feed(Buffer.from('\n\n')), 'that line had no value')
})

// Keep-alive chatter versus real traffic on long-lived streams. A forgotten tab keeps its
// WebSocket or event stream open for ever, and its only traffic is periodic heartbeats
// (engine.io "2"/"3", Vite's {"type":"ping"}, SSE comments); a reviewer's use sends
// something else. Only real traffic keeps an env awake past streamQuietTimeout.

/** Payloads up to this size are looked at; anything larger is real traffic. */
export const SMALL_PAYLOAD = 256

/** Whole messages that are heartbeats: engine.io/socket.io ping/pong and probes, and the plain words. */
const HEARTBEAT_TEXT = new Set(['2', '3', '2probe', '3probe', 'ping', 'pong', 'PING', 'PONG', 'heartbeat', 'keepalive'])

/** `type` or `event` of a small JSON message that is keep-alive: Vite HMR, graphql-ws, Action Cable, Phoenix and the like. */
const HEARTBEAT_TYPES = new Set(['ping', 'pong', 'connected', 'ka', 'connection_ack', 'heartbeat', 'keepalive', 'keep-alive', 'keep_alive', 'hb', 'welcome'])

/** JSON is parsed only for messages this small (the keep-alive ones are tiny). */
const JSON_MAX = 128

/**
 * Is this small message keep-alive chatter? Known heartbeats, empty messages, and a message
 * identical to the previous small one in the same direction (a periodic repeat).
 */
export function isHeartbeatPayload (payload: Buffer, prev: Buffer | null, compressed = false): boolean {
  const n = payload.length
  if (n === 0) return true
  if (prev !== null && prev.length === n && prev.equals(payload)) return true
  if (compressed) return false
  if (n <= 10 && HEARTBEAT_TEXT.has(payload.toString('latin1'))) return true
  const first = payload[0]
  if (n <= JSON_MAX && (first === 0x7b /* { */ || first === 0x5b /* [ */)) return isHeartbeatJson(payload)
  return false
}

function isHeartbeatJson (payload: Buffer): boolean {
  let v: unknown
  try { v = JSON.parse(payload.toString('utf8')) } catch { return false }
  if (Array.isArray(v)) {
    // Phoenix (serializer 2.0): [join_ref, ref, "phoenix", "heartbeat" | "phx_reply", payload]
    return v[2] === 'phoenix'
  }
  if (v === null || typeof v !== 'object') return false
  const o = v as Record<string, unknown>
  if (o.topic === 'phoenix') return true
  const kind = typeof o.type === 'string' ? o.type : typeof o.event === 'string' ? o.event : undefined
  return kind !== undefined && HEARTBEAT_TYPES.has(kind)
}

// SSE line states: at a line start, matched 1–4 bytes of "data", after "data:", after
// "data: " (the one optional space), or in the rest of a line that does not matter.
const LINE_START = 0
const AFTER_COLON = 5
const AFTER_SPACE = 6
const SKIP = 7
const DATA = [0x64, 0x61, 0x74, 0x61] // "data"

/**
 * Follows an event stream's lines across chunks: a `data` line with a value is real traffic;
 * comments (`: ping`), empty data, `event:`/`id:`/`retry:` lines alone are heartbeats.
 */
export class SseScanner {
  private st = LINE_START

  /** True when `chunk` carries real traffic. */
  feed (chunk: Buffer): boolean {
    let st = this.st
    let real = false
    const n = chunk.length
    for (let i = 0; i < n; i++) {
      const c = chunk[i]
      if (c === 10 || c === 13) { st = LINE_START; continue }
      if (st < 4) st = c === DATA[st] ? st + 1 : SKIP
      else if (st === 4) st = c === 0x3a /* : */ ? AFTER_COLON : SKIP
      else if (st === AFTER_COLON && c === 0x20) st = AFTER_SPACE
      else if (st === AFTER_COLON || st === AFTER_SPACE) {
        // A value: real. Only the state at the chunk's end matters now: on to its last line.
        real = true
        st = SKIP
        const last = Math.max(chunk.lastIndexOf(10), chunk.lastIndexOf(13))
        if (last <= i) break
        i = last
        st = LINE_START
      }
    }
    this.st = st
    return real
  }
}

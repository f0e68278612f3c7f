// Streams a client's request body to an upstream connection, with backpressure both ways,
// re-chunking it when it arrived chunked (its length is unknown).
import type { Socket } from 'node:net'
import type { Readable } from 'node:stream'

/** Bytes an upload may have waiting in the upstream socket before the client is paused. */
const UPLOAD_SLACK = 128 * 1024
const CHUNK_END = Buffer.from('\r\n', 'latin1')
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1')

/**
 * Pipes `src` into `sock` until the body ends (`done(false)`) or the client goes away
 * first (`done(true)`: the upstream got a truncated request). Returns a function that stops
 * the pipe without calling `done`.
 */
export function pumpBody (src: Readable, sock: Socket, chunked: boolean, done: (aborted: boolean) => void): () => void {
  // Chunks read in the same tick go out in one writev.
  let corked = false
  const uncork = () => { corked = false; sock.uncork() }
  const onData = (c: Buffer) => {
    if (c.length === 0) return
    if (!corked) {
      corked = true
      sock.cork()
      process.nextTick(uncork)
    }
    let ok: boolean
    if (chunked) {
      sock.write(c.length.toString(16) + '\r\n', 'latin1')
      sock.write(c)
      ok = sock.write(CHUNK_END)
    } else ok = sock.write(c)
    // As for responses (forward.ts): pause the client only past some slack, not at every
    // "full" a 16 KiB high-water mark reports after each large chunk.
    if (!ok && sock.writableLength >= UPLOAD_SLACK) src.pause()
  }
  const onDrain = () => { if (src.isPaused()) src.resume() }
  const onEnd = () => {
    stop()
    if (chunked) sock.write(LAST_CHUNK)
    done(false)
  }
  const onGone = () => {
    if ((src as { complete?: boolean }).complete) return
    stop()
    done(true)
  }
  const stop = () => {
    src.removeListener('data', onData)
    src.removeListener('end', onEnd)
    src.removeListener('close', onGone)
    src.removeListener('error', onGone)
    sock.removeListener('drain', onDrain)
  }
  src.on('data', onData)
  src.once('end', onEnd)
  src.once('close', onGone)
  src.once('error', onGone)
  sock.on('drain', onDrain)
  src.resume()
  return stop
}

// A worker process of `--workers N`: serves the shared public listener with its own
// Gateway (hot path unchanged, no IPC per request) over a mirror of the primary's envs.
// Cold requests ask the primary to wake (one start, whichever worker asked); non-env hosts
// (webhooks, 404 pages) are passed to the primary's internal listener.
import { createLogger } from '../log.js'
import { MirrorGateway } from './mirror-gateway.js'
import type { Send } from './mirror.js'
import type { ToWorker } from './protocol.js'

/** Runs this process as a worker until the primary says to stop (or goes away). */
export async function runWorker (): Promise<void> {
  const send: Send = msg => { if (process.connected) process.send!(msg) }
  const init = await new Promise<Extract<ToWorker, { t: 'init' }>>(resolve => {
    // The primary answers 'hello' with 'init' before anything else.
    const onMessage = (msg: ToWorker) => {
      if (msg.t === 'init') { process.removeListener('message', onMessage); resolve(msg) }
    }
    process.on('message', onMessage)
    send({ t: 'hello' })
  })
  const config = init.config
  const log = createLogger(config.log.level).child({ worker: process.pid })
  const mg = new MirrorGateway(config, log, send)
  mg.deliver(init)

  const stop = () => { void mg.stop().then(() => process.exit(0)) }
  process.on('message', (msg: ToWorker) => { if (msg.t === 'shutdown') stop(); else mg.deliver(msg) })
  process.on('disconnect', stop)
  process.on('SIGTERM', stop) // the primary signals the group; it also says 'shutdown'
  process.on('SIGINT', () => {})

  const a = await mg.listen(config.listen.host, config.listen.port)
  const certs = mg.listener.certs
  // The primary's metrics show the certificate the workers serve.
  if (certs) certs.onApplied = () => send({ t: 'tls', certExpiry: certs.notAfter })
  send({ t: 'ready', port: a.port, address: a.address, certExpiry: certs?.notAfter })
}

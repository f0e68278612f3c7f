// The ceiling for any proxy in Node on this machine: a TCP relay that pipes each client
// connection to its own upstream connection, bytes only (no HTTP parsed, nothing rewritten).
//   node tcp-relay.mjs <upstream port>
import { createServer, connect } from 'node:net'

const port = Number(process.argv[2])
const server = createServer(client => {
  const upstream = connect({ host: '127.0.0.1', port })
  client.setNoDelay(true)
  upstream.setNoDelay(true)
  client.pipe(upstream)
  upstream.pipe(client)
  const close = () => { client.destroy(); upstream.destroy() }
  client.on('error', close)
  upstream.on('error', close)
  client.on('close', close)
  upstream.on('close', close)
})
server.listen(0, '127.0.0.1', () => {
  process.send?.({ ready: true, port: server.address().port, pid: process.pid })
})
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))

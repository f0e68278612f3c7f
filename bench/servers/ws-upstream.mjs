// WebSocket echo upstream (the `ws` package) for the WebSocket benchmark.
import { createServer } from 'node:http'
import { WebSocketServer } from 'ws'

const server = createServer((req, res) => {
  res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '2' })
  res.end('ok')
})
const wss = new WebSocketServer({ server, perMessageDeflate: false })
wss.on('connection', ws => {
  ws.on('message', (data, binary) => ws.send(data, { binary }))
})
server.listen(0, '127.0.0.1', () => {
  process.send?.({ ready: true, port: server.address().port, pid: process.pid })
})
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))

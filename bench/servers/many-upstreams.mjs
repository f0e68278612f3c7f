// N small upstreams in one process (one HTTP server per port), standing in for the running
// tasks of the scale benchmark: what is measured there is the gateway's memory per running
// env, not the apps'.
//   node many-upstreams.mjs 200   → reports { ready, ports } over IPC
import { createServer } from 'node:http'

const n = Number(process.argv[2] || 200)
const body = Buffer.alloc(200, 'u')
const ports = []
for (let i = 0; i < n; i++) {
  const server = createServer((req, res) => {
    res.writeHead(200, { 'content-type': 'text/plain', 'content-length': '200' })
    res.end(body)
  })
  await new Promise(resolve => server.listen(0, '127.0.0.1', resolve))
  ports.push(server.address().port)
}
process.send?.({ ready: true, port: ports[0], ports, pid: process.pid })
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))

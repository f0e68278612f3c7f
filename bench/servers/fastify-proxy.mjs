// The comparison proxy: a plain fastify server with @fastify/http-proxy and a fixed upstream.
//   node fastify-proxy.mjs <upstream port>
import Fastify from 'fastify'
import proxy from '@fastify/http-proxy'

const upstream = `http://127.0.0.1:${process.argv[2]}`
const app = Fastify({ logger: false })
await app.register(proxy, { upstream, http2: false })
await app.listen({ host: '127.0.0.1', port: 0 })
process.send?.({ ready: true, port: app.server.address().port, pid: process.pid })
process.on('SIGTERM', () => process.exit(0))
process.on('disconnect', () => process.exit(0))

// Upstreams for tests on a real socket: `upstreamServer` listens with a request handler and a
// WebSocket handler and closes everything it accepted; `echoUpstream` answers every request
// with the request head it received (method, path, headers as JSON) and, on a WebSocket, sends
// the handshake's headers and then echoes: for checking what reaches the app.
import { createServer, type RequestListener, type Server, type IncomingMessage } from 'node:http'
import type { Socket } from 'node:net'
import { WebSocketServer, type WebSocket } from 'ws'

export interface TestUpstream { port: number, server: Server, close (): Promise<void> }
export type EchoUpstream = TestUpstream

export async function upstreamServer (onRequest: RequestListener, onSocket: (ws: WebSocket, req: IncomingMessage) => void): Promise<TestUpstream> {
  const sockets = new Set<Socket>()
  const server = createServer(onRequest)
  server.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  const wss = new WebSocketServer({ server })
  wss.on('connection', onSocket)
  await new Promise<void>(resolve => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as { port: number }).port,
    server,
    close: () => new Promise<void>(resolve => {
      for (const c of wss.clients) c.terminate()
      wss.close()
      for (const s of sockets) s.destroy()
      server.close(() => resolve())
    })
  }
}

export function echoUpstream (): Promise<EchoUpstream> {
  return upstreamServer((req, res) => {
    const body = JSON.stringify({ method: req.method, path: req.url, headers: req.headers })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  }, (ws, req) => {
    ws.send(JSON.stringify({ headers: req.headers }))
    ws.on('message', m => ws.send(m))
  })
}

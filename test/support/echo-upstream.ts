// An upstream that answers every request with the request head it received (method, path,
// headers as JSON) and echoes WebSocket messages: for checking what reaches the app.
import { createServer, type Server } from 'node:http'
import type { Socket } from 'node:net'
import { WebSocketServer } from 'ws'

export interface EchoUpstream { port: number, server: Server, close (): Promise<void> }

export async function echoUpstream (): Promise<EchoUpstream> {
  const sockets = new Set<Socket>()
  const server = createServer((req, res) => {
    const body = JSON.stringify({ method: req.method, path: req.url, headers: req.headers })
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
    res.end(body)
  })
  server.on('connection', s => { sockets.add(s); s.once('close', () => sockets.delete(s)) })
  const wss = new WebSocketServer({ server })
  wss.on('connection', (ws, req) => {
    ws.send(JSON.stringify({ headers: req.headers }))
    ws.on('message', m => ws.send(m))
  })
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

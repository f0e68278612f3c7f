// Loopback ports for the fake's task processes: never one handed out before, so two
// launches never share one even when the kernel offers a port again before its task binds it.
import { createServer } from 'node:net'

/** Ports already given to a task of the fake (ip:port). */
const handedOut = new Set<string>()

/** A free TCP port on this loopback address, never one a task of the fake was given. */
export async function freePortOn (ip: string): Promise<number> {
  for (;;) {
    const port = await new Promise<number>((resolve, reject) => {
      const srv = createServer()
      srv.unref()
      srv.on('error', reject)
      srv.listen(0, ip, () => {
        const a = srv.address()
        const p = typeof a === 'object' && a ? a.port : 0
        srv.close(() => resolve(p))
      })
    })
    if (!handedOut.has(`${ip}:${port}`)) { handedOut.add(`${ip}:${port}`); return port }
  }
}

export function portFreeOn (ip: string, port: number): Promise<boolean> {
  return new Promise(resolve => {
    const srv = createServer()
    srv.unref()
    srv.once('error', () => resolve(false))
    srv.listen(port, ip, () => srv.close(() => resolve(true)))
  })
}

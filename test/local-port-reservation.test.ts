// The local backend gives each task a port the kernel called free. The kernel offers a
// port again as soon as it is closed, before the task's app has bound it, so two wakes in
// a row could share one and one env would be served by another env's app. Ports handed out
// stay reserved until their task exits.
import t from 'tap'
import { freePort, releasePort } from '../src/backends/local.js'

t.test('ports handed to tasks are never handed out again while reserved', async t => {
  const ports: number[] = []
  for (let i = 0; i < 500; i++) ports.push(await freePort())
  t.equal(new Set(ports).size, ports.length, '500 ports in a row, all different')
  for (const p of ports) releasePort(p)
})

t.test('concurrent starts get different ports', async t => {
  const ports = await Promise.all(Array.from({ length: 200 }, () => freePort()))
  t.equal(new Set(ports).size, ports.length)
  for (const p of ports) releasePort(p)
})

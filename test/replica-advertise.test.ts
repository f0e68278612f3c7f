import t from 'tap'
import { hostname, networkInterfaces } from 'node:os'
import { advertisedHost } from '../src/replicas/replica.js'

t.test('the address other replicas reach the leader at', async t => {
  t.equal(advertisedHost('127.0.0.1'), '127.0.0.1', 'a specific listen address is used as it is')
  t.equal(advertisedHost('10.1.2.3'), '10.1.2.3')
  const own = Object.values(networkInterfaces()).flat().find(a => a?.family === 'IPv4' && !a.internal)?.address
  for (const wildcard of ['0.0.0.0', '::', '[::]']) {
    t.equal(advertisedHost(wildcard), own ?? hostname(), `${wildcard}: this machine's own IPv4 address, never a wildcard or loopback`)
  }
})

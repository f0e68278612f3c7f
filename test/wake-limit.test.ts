// WakeLimiter: a token bucket per client address (burst, then wakesPerMinute), kept in a
// bounded LRU whose entries go once their bucket would be full again.
import t from 'tap'
import { WakeLimiter, MAX_ADDRESSES, addressKey, startsWake } from '../src/access/wake-limit.js'
import type { Env } from '../src/lifecycle/env.js'

const T0 = 1_000_000

t.test('burst: wakeBurst wakes at once, then none until a token comes back', async t => {
  const l = new WakeLimiter(6, 3) // a token every 10 s
  t.equal(l.take('10.0.0.1', T0), true)
  t.equal(l.take('10.0.0.1', T0), true)
  t.equal(l.take('10.0.0.1', T0), true)
  t.equal(l.take('10.0.0.1', T0), false, 'the fourth at once is refused')
  t.equal(l.take('10.0.0.1', T0 + 5_000), false, 'half a token is not a token')
  t.equal(l.retryAfter('10.0.0.1', T0), 10, 'Retry-After: the time to the next token')
  t.equal(l.retryAfter('10.0.0.1', T0 + 5_000), 5)
  t.equal(l.retryAfter('10.0.0.1', T0 + 9_001), 1, 'never 0 while empty')
  t.equal(l.take('10.0.0.2', T0), true, 'another address has its own bucket')
  t.equal(l.retryAfter('10.0.0.2', T0), 0, 'an address with tokens left may retry now')
})

t.test('refill: wakesPerMinute, continuous, never above the burst', async t => {
  const l = new WakeLimiter(6, 3)
  for (let i = 0; i < 3; i++) l.take('a', T0)
  t.equal(l.take('a', T0 + 10_000), true, 'one token after 10 s')
  t.equal(l.take('a', T0 + 10_000), false)
  t.equal(l.take('a', T0 + 25_000), true, '1.5 tokens at 25 s: one')
  t.equal(l.take('a', T0 + 25_000), false)
  // A long pause fills the bucket to the burst, not beyond.
  const later = T0 + 3_600_000
  t.equal([1, 2, 3, 4].map(() => l.take('a', later)).filter(Boolean).length, 3)
  t.equal(l.retryAfter('a', later), 10)
})

t.test('a clock that goes back refills nothing and takes nothing extra', async t => {
  const l = new WakeLimiter(60, 1)
  t.equal(l.take('a', T0), true)
  t.equal(l.take('a', T0 - 5_000), false)
  t.equal(l.take('a', T0 + 1_000), true)
})

t.test('giveBack: a wake that started nothing costs nothing', async t => {
  const l = new WakeLimiter(1, 2)
  t.equal(l.take('a', T0), true)
  t.equal(l.take('a', T0), true)
  t.equal(l.take('a', T0), false)
  l.giveBack('a', T0)
  t.equal(l.take('a', T0), true)
  l.giveBack('b', T0)
  t.equal(l.size, 1, 'giving back to a full bucket keeps no record')
})

t.test('LRU bound: at most MAX_ADDRESSES buckets; the address not seen longest starts over full', async t => {
  t.equal(MAX_ADDRESSES, 50_000)
  const l = new WakeLimiter(1, 1)
  t.equal(l.take('first', T0), true)
  t.equal(l.take('first', T0), false)
  for (let i = 0; i < MAX_ADDRESSES; i++) l.take(`10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, T0)
  t.equal(l.size, MAX_ADDRESSES, 'bounded')
  t.equal(l.take('first', T0), true, 'evicted: a full bucket again')
  const small = new WakeLimiter(1, 1, 3)
  for (const a of ['a', 'b', 'c', 'd']) small.take(a, T0)
  t.equal(small.size, 3)
})

t.test('entries go once their bucket is full again', async t => {
  const l = new WakeLimiter(60, 2) // a token a second
  l.take('a', T0)
  l.take('a', T0)
  l.take('b', T0)
  t.equal(l.size, 2)
  t.equal(l.retryAfter('b', T0 + 1_001), 0)
  t.equal(l.retryAfter('a', T0 + 1_500), 0)
  t.equal(l.size, 1, 'b is full again after 1 s: its entry is gone')
  t.equal(l.retryAfter('a', T0 + 2_001), 0)
  t.equal(l.size, 0, 'a after 2 s')
  t.equal(l.take('a', T0 + 2_001), true)
})

t.test('wakesPerMinute 0: no limit', async t => {
  const l = new WakeLimiter(0, 1)
  for (let i = 0; i < 100; i++) t.equal(l.take('a', T0), true, `take ${i}`)
  t.equal(l.retryAfter('a', T0), 0)
  t.equal(l.size, 0)
})

t.test('addresses: IPv4-mapped as IPv4, IPv6 by its /64', async t => {
  t.equal(addressKey('192.0.2.7'), '192.0.2.7')
  t.equal(addressKey('::ffff:192.0.2.7'), '192.0.2.7')
  t.equal(addressKey('2001:db8:1:2:aaaa::1'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:0db8:0001:0002:ffff:0:0:9'), '2001:db8:1:2::/64')
  t.equal(addressKey('2001:db8::1'), '2001:db8:0:0::/64')
  t.equal(addressKey('fe80::1%eth0'), 'fe80:0:0:0::/64')
  t.equal(addressKey('::1'), '0:0:0:0::/64')
  const l = new WakeLimiter(1, 1)
  t.equal(l.take('2001:db8:1:2::1', T0), true)
  t.equal(l.take('2001:db8:1:2::2', T0), false, 'the same /64 shares a bucket')
  t.equal(l.take('2001:db8:1:3::1', T0), true)
})

t.test('startsWake: only a wake that would start counts', async t => {
  const env = (state: string, extra: Record<string, unknown> = {}) => ({
    state, wake: null, m: { failedAt: T0, wakeAfterStop: false }, app: { config: { failureBackoff: 30_000 } }, ...extra
  }) as unknown as Env
  t.equal(startsWake(env('asleep'), T0), true)
  t.equal(startsWake(env('failed'), T0 + 30_000), true, 'failed, backoff over')
  t.equal(startsWake(env('failed'), T0 + 1_000), false, 'inside the backoff: answered with the failure')
  t.equal(startsWake(env('stopping'), T0), true)
  t.equal(startsWake(env('stopping', { m: { wakeAfterStop: true } }), T0), false, 'a start already asked for')
  t.equal(startsWake(env('waking'), T0), false)
  t.equal(startsWake(env('running'), T0), false)
  t.equal(startsWake(env('destroyed'), T0), false)
  t.equal(startsWake(env('asleep', { wake: {} }), T0), false, 'a wake this process already asked for')
})

// The replicas' shared store: Redis answers PING, with a short timeout and no retries, and is
// recent enough. Messages name host:port only: the URL may carry a password.
import { Redis } from 'ioredis'
import type { StoreConfig } from '../config/load.js'
import { check, message, withTimeout, type Check } from './check.js'

type RedisStore = Extract<StoreConfig, { kind: 'redis' }>

const TIMEOUT = 3_000

/** host:port of the URL, or the sentinels; never the credentials. */
export function redisWhere (store: RedisStore): string {
  if (store.sentinels) return `sentinels ${store.sentinels.map(x => `${x.host}:${x.port}`).join(', ')} (primary "${store.sentinelName}")`
  try {
    const u = new URL(store.url)
    return `${u.hostname}:${u.port || 6379}`
  } catch {
    return '(unparsable store.url)'
  }
}

/** Redis ≥ 6.2, as the README asks (the store's scripts and commands). */
function tooOld (version: string): boolean {
  const [major, minor] = version.split('.').map(Number)
  return major < 6 || (major === 6 && minor < 2)
}

export async function redisCheck (store: RedisStore): Promise<Check> {
  const id = 'store.redis'
  const title = 'Redis store'
  const where = redisWhere(store)
  let password = ''
  try { password = decodeURIComponent(new URL(store.url).password) } catch {}
  const scrub = (text: string) => password ? text.split(password).join('***') : text
  const redis = new Redis(store.url, {
    lazyConnect: true,
    ...(store.sentinels ? { sentinels: store.sentinels, name: store.sentinelName, sentinelRetryStrategy: () => null } : {}),
    tls: store.tls ? {} : undefined,
    connectTimeout: TIMEOUT,
    commandTimeout: TIMEOUT,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null,
    enableOfflineQueue: false
  })
  // Without a listener ioredis prints errors. The socket's own error (ECONNREFUSED, a TLS
  // failure) arrives here; the failed call only says "Connection is closed".
  let socketError: unknown
  redis.on('error', err => { socketError = err })
  try {
    await withTimeout(`Redis at ${where}`, TIMEOUT * 2, redis.connect())
    await redis.ping()
    const info = await redis.info('server')
    const version = /redis_version:([\d.]+)/.exec(info)?.[1] ?? 'unknown'
    if (version !== 'unknown' && tooOld(version)) {
      return check(id, title, 'warn', `${where} answers PING, but runs Redis ${version}`, 'use Redis 6.2 or later (README → Several replicas)')
    }
    return check(id, title, 'ok', `${where} answers PING (Redis ${version})`)
  } catch (err) {
    const text = scrub(message(socketError ?? err))
    const auth = /NOAUTH|WRONGPASS|invalid password|invalid username/i.test(text)
    return check(id, title, 'fail', `cannot use Redis at ${where}: ${text}`, auth
      ? `Redis at ${where} refused the credentials: check the user and password in store.url (WAKEGATE_REDIS_URL)`
      : `let the gateway reach ${where}: check store.url (WAKEGATE_REDIS_URL), that Redis runs, the security group/firewall, and TLS (rediss:// or store.tls)`)
  } finally {
    redis.disconnect()
  }
}

// Loads YAML (+ ${VAR} substitution and WAKEGATE_* overrides), validates it against the
// schema and returns a resolved config with durations in milliseconds.
import { readFileSync } from 'node:fs'
import { dirname, resolve } from 'node:path'
import { parse as parseYaml, YAMLParseError } from 'yaml'
import { Value } from '@sinclair/typebox/value'
import type { TSchema } from '@sinclair/typebox'
import { ConfigError } from '../errors.js'
import { Config, LocalBackend, EcsBackend, MemoryStore, RedisStore, type ConfigInput, type AppInput, type LocalBackendConfig, type EcsBackendConfig, type KnownPrConfig, type RedisStoreInput, type ListenTlsInput } from './schema.js'
import { parseDuration } from './duration.js'
import { compileHostTemplate } from '../routing/template.js'
import { githubProblems } from '../github/config.js'
import { accessProblems, resolveAccess, type AccessConfig } from '../access/config.js'
import { tlsProblems } from '../proxy/tls.js'
import { idleProblems, resolveIdle, resolveSchedule, type IdleConfig, type ScheduleConfig } from './idle.js'
import { costProblems, resolveAppCost, type AppCostConfig } from '../cost/config.js'
import type { WarmUpConfig } from '../lifecycle/warmup.js'
import { prewarmProblems, resolvePrewarm, type PrewarmConfig } from '../backends/ecs/prewarm-config.js'

type Problem = { path: string, message: string }

/** The proxy section's durations, resolved to milliseconds. */
const PROXY_DURATIONS = ['queueTimeout', 'headersTimeout', 'upstreamIdleTimeout', 'clientHeaderTimeout', 'clientBodyTimeout', 'keepAliveTimeout', 'shutdownGrace'] as const
type ProxyDuration = typeof PROXY_DURATIONS[number]

export interface AppConfig extends Omit<AppInput, 'idleTimeout' | 'streamQuietTimeout' | 'holdTimeout' | 'startTimeout' | 'failureBackoff' | 'drainTimeout' | 'drainRequestTimeout' | 'backend' | 'prs' | 'idle' | 'schedule'> {
  idleTimeout: number
  streamQuietTimeout: number
  drainTimeout: number
  drainRequestTimeout: number
  holdTimeout: number
  startTimeout: number
  failureBackoff: number
  prs: KnownPrConfig[]
  /** Adaptive idle timeout; absent: the fixed idleTimeout. */
  idle?: IdleConfig
  /** Office hours; absent: none. */
  schedule?: ScheduleConfig
  /** Which price applies, the size when configured, the currency. */
  cost: AppCostConfig
  /** Predictive warm-up; absent: off. */
  warmup?: WarmUpConfig
  backend: (Omit<LocalBackendConfig, 'stopGrace'> & { stopGrace: number }) |
  (Omit<EcsBackendConfig, 'pollInterval' | 'reconcileInterval' | 'prewarm'> & { pollInterval: number, reconcileInterval: number, prewarm?: PrewarmConfig })
}

export type StoreConfig = { kind: 'memory' } | (Omit<RedisStoreInput, 'leaseTtl' | 'resyncInterval'> & { leaseTtl: number, resyncInterval: number })

/** `listen.tls` with absolute file paths and durations in milliseconds. */
export interface TlsConfig extends Omit<ListenTlsInput, 'hsts' | 'reloadInterval'> {
  hsts?: { maxAge: number, includeSubDomains: boolean, preload: boolean }
  reloadInterval: number
}

export interface ListenConfig {
  host: string
  port: number
  /** The public listener serves HTTPS (absent: plain HTTP, e.g. behind a load balancer). */
  tls?: TlsConfig
}

export interface ResolvedConfig extends Omit<ConfigInput, 'apps' | 'proxy' | 'store' | 'access' | 'listen'> {
  listen: ListenConfig
  store: StoreConfig
  access: AccessConfig
  proxy: Omit<ConfigInput['proxy'], ProxyDuration> & Record<ProxyDuration, number>
  apps: AppConfig[]
  /** Directory relative paths in the config are resolved against. */
  baseDir: string
}

/** `/apps/0/backend/kind` → `apps[0].backend.kind` */
export function fieldPath (pointer: string): string {
  return pointer.split('/').filter(Boolean).map(s => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .reduce((acc, seg) => /^\d+$/.test(seg) ? `${acc}[${seg}]` : acc ? `${acc}.${seg}` : seg, '')
}

const VAR = /\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}/g

function substitute (node: unknown, env: NodeJS.ProcessEnv, path: string, problems: Problem[]): unknown {
  if (typeof node === 'string') {
    return node.replace(VAR, (_m, name: string, def: string | undefined) => {
      const v = env[name]
      if (v !== undefined && v !== '') return v
      if (def !== undefined) return def
      problems.push({ path, message: `environment variable ${name} is not set` })
      return ''
    })
  }
  if (Array.isArray(node)) return node.map((v, i) => substitute(v, env, `${path}[${i}]`, problems))
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {}
    for (const [k, v] of Object.entries(node)) out[k] = substitute(v, env, path ? `${path}.${k}` : k, problems)
    return out
  }
  return node
}

function setIn (obj: Record<string, any>, keys: string[], value: unknown): void {
  let o = obj
  for (const k of keys.slice(0, -1)) {
    if (o[k] === undefined || o[k] === null || typeof o[k] !== 'object') o[k] = {}
    o = o[k]
  }
  o[keys[keys.length - 1]] = value
}

/** Secrets and deployment specifics come from the environment rather than the file. */
function applyEnvOverrides (raw: Record<string, any>, env: NodeJS.ProcessEnv): void {
  const num = (v: string) => /^\d+$/.test(v) ? Number(v) : v
  const map: Array<[string, string[], (v: string) => unknown]> = [
    ['WAKEGATE_LISTEN_HOST', ['listen', 'host'], String],
    ['WAKEGATE_LISTEN_PORT', ['listen', 'port'], num],
    ['WAKEGATE_ADMIN_HOST', ['admin', 'host'], String],
    ['WAKEGATE_ADMIN_PORT', ['admin', 'port'], num],
    ['WAKEGATE_ADMIN_TOKEN', ['admin', 'token'], String],
    ['WAKEGATE_LOG_LEVEL', ['log', 'level'], String],
    ['WAKEGATE_GITHUB_TOKEN', ['github', 'auth', 'token'], String],
    ['WAKEGATE_GITHUB_APP_ID', ['github', 'auth', 'appId'], num],
    ['WAKEGATE_GITHUB_PRIVATE_KEY', ['github', 'auth', 'privateKey'], String],
    ['WAKEGATE_GITHUB_PRIVATE_KEY_FILE', ['github', 'auth', 'privateKeyFile'], String],
    ['WAKEGATE_GITHUB_INSTALLATION_ID', ['github', 'auth', 'installationId'], num],
    ['WAKEGATE_GITHUB_WEBHOOK_SECRET', ['github', 'webhookSecret'], String],
    ['WAKEGATE_GITHUB_API_URL', ['github', 'apiUrl'], String],
    ['WAKEGATE_SESSION_KEY', ['access', 'sessionKey'], String],
    ['WAKEGATE_GITHUB_CLIENT_ID', ['access', 'github', 'clientId'], String],
    ['WAKEGATE_GITHUB_CLIENT_SECRET', ['access', 'github', 'clientSecret'], String]
  ]
  for (const [name, keys, conv] of map) {
    const v = env[name]
    if (v !== undefined && v !== '') setIn(raw, keys, conv(v))
  }
  // The Redis URL may carry a password: it can come from the environment alone.
  const url = env.WAKEGATE_REDIS_URL
  if (url && raw.store?.kind === 'redis') raw.store.url = url
}

function schemaProblems (schema: TSchema, value: unknown, prefix: string): Problem[] {
  const seen = new Set<string>()
  const problems: Problem[] = []
  for (const e of Value.Errors(schema, value)) {
    const path = fieldPath(prefix + e.path)
    if (seen.has(path)) continue
    seen.add(path)
    problems.push({ path, message: describe(e.schema, e.message, e.value) })
  }
  return problems
}

function describe (schema: TSchema, message: string, value: unknown): string {
  const got = value === undefined ? 'nothing' : JSON.stringify(value)?.slice(0, 60)
  if (schema.anyOf && schema.anyOf.every((s: TSchema) => s.const !== undefined)) {
    return `expected one of ${schema.anyOf.map((s: TSchema) => JSON.stringify(s.const)).join(', ')}, got ${got}`
  }
  if (schema.description && /duration|milliseconds/.test(schema.description)) return `expected a duration such as "30s" or a number of milliseconds, got ${got}`
  return `${message.toLowerCase()}, got ${got}`
}

export function validateConfig (input: unknown, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd(), source?: string): ResolvedConfig {
  const problems: Problem[] = []
  if (!input || typeof input !== 'object' || Array.isArray(input)) throw new ConfigError([{ path: '', message: 'expected a mapping at the top level' }], source)
  const raw = substitute(input, env, '', problems) as Record<string, any>
  if (problems.length) throw new ConfigError(problems, source)
  applyEnvOverrides(raw, env)

  // The backend union gives poor errors; validate it by its kind first, then the rest.
  const apps = Array.isArray(raw.apps) ? raw.apps : []
  const checked = new Set<string>()
  apps.forEach((app: any, i: number) => {
    const b = app?.backend
    if (!b || typeof b !== 'object' || Array.isArray(b)) return
    checked.add(`apps[${i}].backend`)
    const schema = b.kind === 'local' ? LocalBackend : b.kind === 'ecs' ? EcsBackend : undefined
    if (!schema) {
      problems.push({ path: `apps[${i}].backend.kind`, message: `expected one of "local", "ecs", got ${JSON.stringify(b.kind) ?? 'nothing'}` })
      return
    }
    problems.push(...schemaProblems(schema, Value.Default(schema, structuredClone(b)), `/apps/${i}/backend`))
  })
  const st = raw.store
  if (st && typeof st === 'object' && !Array.isArray(st)) {
    checked.add('store')
    const schema = st.kind === 'memory' ? MemoryStore : st.kind === 'redis' ? RedisStore : undefined
    if (schema) problems.push(...schemaProblems(schema, Value.Default(schema, structuredClone(st)), '/store'))
    else problems.push({ path: 'store.kind', message: `expected one of "memory", "redis", got ${JSON.stringify(st.kind) ?? 'nothing'}` })
  }
  const withDefaults = Value.Default(Config, structuredClone(raw))
  problems.push(...schemaProblems(Config, withDefaults, '').filter(p => !checked.has(/^apps\[\d+\]\.backend|^store/.exec(p.path)?.[0] ?? '')))
  if (problems.length) throw new ConfigError(problems, source)
  const cfg = withDefaults as ConfigInput

  // Checks the schema cannot express.
  const names = new Set<string>()
  cfg.apps.forEach((app, i) => {
    if (names.has(app.name)) problems.push({ path: `apps[${i}].name`, message: `duplicate app name "${app.name}"` })
    names.add(app.name)
    try { compileHostTemplate(app.host, app.name) } catch (err) { problems.push({ path: `apps[${i}].host`, message: (err as Error).message }) }
    if (app.backend.kind === 'ecs' && app.backend.launchType && app.backend.capacityProviderStrategy) {
      problems.push({ path: `apps[${i}].backend.capacityProviderStrategy`, message: 'use either launchType or capacityProviderStrategy, not both' })
    }
    if (app.health.path && app.health.tcp) problems.push({ path: `apps[${i}].health`, message: 'use either path or tcp, not both' })
    problems.push(...idleProblems(app, i))
    if (app.backend.kind === 'ecs') problems.push(...prewarmProblems(app.backend, `apps[${i}].backend`))
    if (app.warmup && parseDuration(app.warmup.usedWithin) === 0) problems.push({ path: `apps[${i}].warmup.usedWithin`, message: 'must be more than 0: a warm-up keeps the environment awake this long' })
    const prs = new Set<number>()
    app.prs.forEach((pr, j) => {
      if (prs.has(pr.number)) problems.push({ path: `apps[${i}].prs[${j}].number`, message: `duplicate PR ${pr.number}` })
      prs.add(pr.number)
    })
  })
  const hosts = new Map<string, number>()
  cfg.apps.forEach((app, i) => {
    const key = app.host.toLowerCase().replace('{app}', app.name)
    if (hosts.has(key)) problems.push({ path: `apps[${i}].host`, message: `same host template as apps[${hosts.get(key)}]` })
    hosts.set(key, i)
  })
  const loopback = /^(127\.|::1$|localhost$)/.test(cfg.admin.host)
  if (cfg.admin.enabled && !loopback && !cfg.admin.token && !cfg.admin.github) {
    problems.push({ path: 'admin.token', message: `required when the admin listener binds to ${cfg.admin.host} (set WAKEGATE_ADMIN_TOKEN), unless admin.github signs people in` })
  }
  if (cfg.store.kind === 'redis' && cfg.store.sentinels && !cfg.store.sentinelName) problems.push({ path: 'store.sentinelName', message: 'required with sentinels: the name of the monitored primary' })
  problems.push(...githubProblems(cfg, baseDir))
  problems.push(...costProblems(cfg.apps))
  problems.push(...accessProblems(cfg))
  const tls = cfg.listen.tls && resolveTls(cfg.listen.tls, baseDir)
  if (tls) problems.push(...tlsProblems(tls, cfg.listen.port))
  if (problems.length) throw new ConfigError(problems, source)

  return {
    ...cfg,
    baseDir,
    listen: { host: cfg.listen.host, port: cfg.listen.port, ...(tls ? { tls } : {}) },
    access: resolveAccess(cfg.access),
    store: cfg.store.kind === 'redis' ? { ...cfg.store, leaseTtl: parseDuration(cfg.store.leaseTtl), resyncInterval: parseDuration(cfg.store.resyncInterval) } : cfg.store,
    proxy: { ...cfg.proxy, ...Object.fromEntries(PROXY_DURATIONS.map(k => [k, parseDuration(cfg.proxy[k])])) as Record<ProxyDuration, number> },
    apps: cfg.apps.map(app => ({
      ...app,
      idleTimeout: parseDuration(app.idleTimeout),
      streamQuietTimeout: parseDuration(app.streamQuietTimeout),
      holdTimeout: parseDuration(app.holdTimeout),
      startTimeout: parseDuration(app.startTimeout),
      failureBackoff: parseDuration(app.failureBackoff),
      drainTimeout: parseDuration(app.drainTimeout),
      drainRequestTimeout: parseDuration(app.drainRequestTimeout),
      idle: resolveIdle(app),
      schedule: resolveSchedule(app),
      cost: resolveAppCost(app, cfg.cost),
      warmup: app.warmup && { ...app.warmup, pushVisitedWithin: parseDuration(app.warmup.pushVisitedWithin), usedWithin: parseDuration(app.warmup.usedWithin) },
      // HTTP GET / unless a path or a TCP probe is asked for.
      health: app.health.tcp ? { tcp: true } : { path: app.health.path ?? '/' },
      backend: app.backend.kind === 'local'
        ? { ...app.backend, cwd: resolve(baseDir, app.backend.cwd ?? '.'), ...(app.backend.taskDir ? { taskDir: resolve(baseDir, app.backend.taskDir) } : {}), stopGrace: parseDuration(app.backend.stopGrace) }
        : { ...app.backend, pollInterval: parseDuration(app.backend.pollInterval), reconcileInterval: parseDuration(app.backend.reconcileInterval), prewarm: resolvePrewarm(app.backend) }
    }))
  }
}

/** File paths relative to the config file, as for a local backend's cwd. */
function resolveTls (tls: ListenTlsInput, baseDir: string): TlsConfig {
  const { hsts, reloadInterval, ...rest } = tls
  return {
    ...rest,
    certFile: resolve(baseDir, tls.certFile),
    keyFile: resolve(baseDir, tls.keyFile),
    ...(tls.caFile !== undefined ? { caFile: resolve(baseDir, tls.caFile) } : {}),
    ...(hsts ? { hsts: { ...hsts, maxAge: parseDuration(hsts.maxAge) } } : {}),
    reloadInterval: parseDuration(reloadInterval)
  }
}

export function parseConfigText (text: string, env: NodeJS.ProcessEnv = process.env, baseDir = process.cwd(), source?: string): ResolvedConfig {
  let doc: unknown
  try {
    doc = parseYaml(text, { prettyErrors: true })
  } catch (err) {
    if (err instanceof YAMLParseError) {
      const pos = err.linePos?.[0]
      throw new ConfigError([{ path: pos ? `line ${pos.line}, column ${pos.col}` : '', message: err.message.split('\n')[0] }], source)
    }
    throw err
  }
  return validateConfig(doc, env, baseDir, source)
}

export function loadConfigFile (file: string, env: NodeJS.ProcessEnv = process.env): ResolvedConfig {
  let text: string
  try {
    text = readFileSync(file, 'utf8')
  } catch (err) {
    throw new ConfigError([{ path: '', message: `cannot read ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}` }])
  }
  return parseConfigText(text, env, dirname(resolve(file)), file)
}

export { Config as ConfigSchema }

// `wakegate doctor`: checks what a newcomer to a deployment gets wrong — the config, AWS
// credentials and every IAM action the config needs, the cluster, task definition and
// container port, whether the gateway reaches its tasks, GitHub credentials, installation and
// webhook deliveries, Redis — and says for each failure what to do. Nothing is started or
// changed: the two ECS actions that change things are probed with calls ECS cannot carry out
// (probe.ts).
import { statSync } from 'node:fs'
import type { ResolvedConfig } from '../config/load.js'
import { ConfigError } from '../errors.js'
import { check, message, type Check } from './check.js'
import { failed, json, table } from './report.js'

export type { Check } from './check.js'

export interface DoctorOptions {
  /** Loads and validates the configuration (throws ConfigError). */
  load: () => ResolvedConfig
  /** Where it comes from, for the config check's line. */
  source: string
}

function configCheck (opts: DoctorOptions): { config?: ResolvedConfig, check: Check } {
  try {
    const config = opts.load()
    const kinds = config.apps.map(a => a.backend.kind)
    const count = (k: string) => kinds.filter(x => x === k).length
    const backends = ['ecs', 'local'].filter(k => count(k)).map(k => `${count(k)} on ${k}`).join(', ')
    return { config, check: check('config', 'configuration', 'ok', `${opts.source}: ${config.apps.length} app(s), ${backends}${config.github ? ', github' : ''}, ${config.store.kind} store`) }
  } catch (err) {
    if (!(err instanceof ConfigError)) return { check: check('config', 'configuration', 'fail', `${opts.source}: ${message(err)}`) }
    const fields = err.problems.map(p => `${p.path || '(root)'}: ${p.message}`).join('; ')
    return { check: check('config', 'configuration', 'fail', `${opts.source} is invalid: ${fields}`, 'correct the fields named (the configuration reference: docs/configuration.md); `wakegate check-config` shows the same') }
  }
}

/** Local backend: the command's working directory must exist. */
function localChecks (config: ResolvedConfig): Check[] {
  return config.apps.flatMap(app => {
    const b = app.backend
    if (b.kind !== 'local') return []
    let dir = false
    try { dir = statSync(b.cwd!).isDirectory() } catch {}
    return [dir
      ? check(`local.${app.name}.cwd`, `${app.name}: working directory`, 'ok', b.cwd!)
      : check(`local.${app.name}.cwd`, `${app.name}: working directory`, 'fail', `${b.cwd} is not a directory`, 'set backend.cwd to an existing directory (relative to the config file)')]
  })
}

async function awsChecks (config: ResolvedConfig): Promise<Check[]> {
  if (!config.apps.some(a => a.backend.kind === 'ecs')) return []
  // The AWS SDK, octokit and ioredis load only when the config uses them: doctor starts fast.
  const { awsGroups, closeGroups, identityChecks } = await import('./aws.js')
  const { ecsAppChecks } = await import('./ecs.js')
  const groups = awsGroups(config.apps)
  try {
    // Groups and apps run side by side; each keeps its lines in order.
    const parts = await Promise.all(groups.map(async g => {
      const identity = await identityChecks(g)
      const apps = await Promise.all(g.apps.map(({ app, cfg }) => g.usable
        ? ecsAppChecks(app, cfg, g)
        : Promise.resolve([check(`ecs.${app.name}`, `${app.name}: ECS`, 'skip', 'not checked: AWS region or credentials missing')])))
      return [...identity, ...apps.flat()]
    }))
    return parts.flat()
  } finally {
    closeGroups(groups)
  }
}

export async function runDoctor (opts: DoctorOptions): Promise<Check[]> {
  const first = configCheck(opts)
  const config = first.config
  if (!config) return [first.check]
  const store = config.store
  const [aws, github, redis] = await Promise.all([
    awsChecks(config),
    config.github
      ? import('./github.js').then(m => m.githubChecks(config)).catch(err => [check('github', 'GitHub', 'fail', message(err))])
      : Promise.resolve([]),
    store.kind === 'redis' ? import('./redis.js').then(m => m.redisCheck(store)).then(c => [c]) : Promise.resolve([])
  ])
  return [first.check, ...aws, ...localChecks(config), ...github, ...redis]
}

/** Prints the results; exit code 0 when nothing failed (warnings and skips allowed), else 1. */
export async function doctorCommand (opts: DoctorOptions & { json: boolean }, out: (s: string) => unknown = s => process.stdout.write(s)): Promise<number> {
  const checks = await runDoctor(opts)
  out(opts.json ? json(checks) : table(checks))
  return failed(checks) ? 1 : 0
}

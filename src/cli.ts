#!/usr/bin/env node
// wakegate serve | check-config | doctor | envs — command-line entry point.
import { parseArgs } from 'node:util'
import type { Logger } from 'pino'
import { loadConfigFile, parseConfigText, type ResolvedConfig } from './config/load.js'
import { ConfigError } from './errors.js'

const USAGE = `usage: wakegate <command> [options]

commands:
  serve              run the gateway
  check-config       validate the configuration and print a summary
  doctor [--json]    check the deployment: config, AWS credentials and IAM actions,
                     cluster and task definition, reaching tasks, GitHub, Redis;
                     exit 1 when a check fails (nothing is started or changed)
  envs               list environments of a running gateway (admin API)
  hash-password [--bcrypt]
                     read a password on stdin, print its argon2id (or bcrypt) hash
                     for access.basic.users
  session-key        print a new random access.sessionKey (32 bytes, hex)
  github register --repo OWNER/NAME --url PUBLIC_URL [--dry-run] [--update-secret]
                     create or update the repo webhook (events pull_request,
                     check_suite, status; content type json; the configured secret)

options:
  -c, --config FILE  configuration file (default: $WAKEGATE_CONFIG or wakegate.yaml;
                     $WAKEGATE_CONFIG_YAML holds the whole configuration instead of a file)
  --workers N        serve: N processes share the public listener (default: config \`workers\`, 1)
  --json             doctor: print the results as JSON
  -h, --help         show this help
`

export async function main (argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    allowPositionals: true,
    strict: false,
    options: {
      config: { type: 'string', short: 'c' },
      help: { type: 'boolean', short: 'h' },
      admin: { type: 'string' },
      token: { type: 'string' },
      repo: { type: 'string' },
      url: { type: 'string' },
      'dry-run': { type: 'boolean' },
      'update-secret': { type: 'boolean' },
      workers: { type: 'string' },
      bcrypt: { type: 'boolean' },
      json: { type: 'boolean' }
    }
  })
  const command = positionals[0]
  if (values.help || !command) {
    process.stdout.write(USAGE)
    return command || values.help ? 0 : 2
  }
  if (command === 'hash-password') return hashPasswordCommand(values.bcrypt === true)
  if (command === 'session-key') {
    process.stdout.write((await import('node:crypto')).randomBytes(32).toString('hex') + '\n')
    return 0
  }
  // A container can be given its whole configuration in WAKEGATE_CONFIG_YAML (the AWS stack
  // injects it from SSM Parameter Store); --config still wins.
  const inline = values.config === undefined ? process.env.WAKEGATE_CONFIG_YAML : undefined
  const file = inline ? 'WAKEGATE_CONFIG_YAML' : (values.config as string | undefined) ?? process.env.WAKEGATE_CONFIG ?? 'wakegate.yaml'

  const load = () => inline ? parseConfigText(inline, process.env, process.cwd(), file) : loadConfigFile(file)
  if (command === 'doctor') {
    // An invalid config is one of doctor's findings (exit 1), not a usage error.
    if (positionals.length > 1) { process.stderr.write(`wakegate: doctor takes no arguments\n${USAGE}`); return 2 }
    const { doctorCommand } = await import('./doctor/index.js')
    return doctorCommand({ load, source: file, json: values.json === true })
  }

  let config: ResolvedConfig
  try {
    config = load()
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`wakegate: ${err.message}\n`)
      return 2
    }
    throw err
  }

  switch (command) {
    case 'check-config': {
      process.stdout.write(`${file}: ok\n`)
      for (const app of config.apps) {
        process.stdout.write(`  app ${app.name}: ${app.host} → ${app.backend.kind} backend, port ${app.port}, idle ${app.idleTimeout / 1000}s, ${app.prs.length} known PRs${app.anyPr ? ' (any PR)' : ''}\n`)
      }
      const tls = config.listen.tls
      if (tls) {
        // Already read and checked while loading; shown so a renewal can be confirmed.
        const { loadKeyPair, describeCert } = await import('./proxy/tls.js')
        const c = describeCert(loadKeyPair(tls).cert)
        process.stdout.write(`  tls: ${c.subject} (${c.names}), expires ${c.notAfter}${tls.redirectPort !== undefined ? `, http → https on port ${tls.redirectPort}` : ''}${tls.hsts ? ', HSTS on' : ''}\n`)
      }
      if (config.github) {
        const { githubSummary } = await import('./github/cli.js')
        process.stdout.write(githubSummary(config))
      }
      return 0
    }
    case 'serve': {
      const workers = values.workers === undefined ? config.workers : Number(values.workers)
      if (!Number.isInteger(workers) || workers < 1 || workers > 256) {
        process.stderr.write('wakegate: --workers must be a whole number from 1 to 256\n')
        return 2
      }
      if (config.store.kind === 'redis') {
        // Several replicas share the envs through Redis; one of them leads the lifecycle.
        if (workers > 1) process.stderr.write('wakegate: workers are not used with the redis store; run more replicas instead\n')
        const { startReplica } = await import('./replicas/replica.js')
        const r = await startReplica(config)
        stopOnSignals(r.log, () => r.close())
        return -1
      }
      if (workers > 1) {
        // The primary owns the lifecycle; the workers serve the public listener.
        const { startCluster } = await import('./cluster/primary.js')
        const c = await startCluster(config, { workers })
        stopOnSignals(c.wg.log, () => c.close())
        c.wg.log.info({ url: c.url, workers }, 'workers listening')
        return -1
      }
      const { createWakegate } = await import('./server.js')
      const wg = await createWakegate(config)
      stopOnSignals(wg.log, () => wg.close())
      await wg.listen()
      return -1 // keep running
    }
    case 'envs': {
      const admin = (values.admin as string | undefined) ?? `http://${config.admin.host}:${config.admin.port}`
      const token = (values.token as string | undefined) ?? config.admin.token
      const res = await fetch(`${admin}/api/envs`, { headers: token ? { authorization: `Bearer ${token}` } : {} })
      if (!res.ok) { process.stderr.write(`wakegate: admin API answered ${res.status}\n`); return 1 }
      const { envs } = await res.json() as { envs: Array<Record<string, unknown>> }
      for (const e of envs) process.stdout.write(`${String(e.key).padEnd(24)} ${String(e.state).padEnd(9)} ${String(e.sha).slice(0, 8)}  ${e.url}\n`)
      return 0
    }
    case 'github': {
      const { githubCommand } = await import('./github/cli.js')
      return githubCommand(config, positionals.slice(1), values)
    }
    default:
      process.stderr.write(`wakegate: unknown command "${command}"\n${USAGE}`)
      return 2
  }
}

/**
 * SIGTERM/SIGINT: one graceful stop, then exit 0 (1 if it failed). A stray rejection is
 * logged rather than taking the gateway (and every env it serves) down.
 */
function stopOnSignals (log: Logger, close: () => Promise<void>): void {
  let stopping = false
  const stop = (signal: string) => {
    if (stopping) return
    stopping = true
    log.info({ signal }, 'signal received')
    close().then(() => process.exit(0), err => { log.error({ err }, 'shutdown failed'); process.exit(1) })
  }
  process.on('SIGINT', () => stop('SIGINT'))
  process.on('SIGTERM', () => stop('SIGTERM'))
  process.on('unhandledRejection', err => { log.error({ err }, 'unhandled rejection') })
}

main(process.argv.slice(2)).then(code => { if (code >= 0) process.exitCode = code }, err => {
  process.stderr.write(`wakegate: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})

/** The password comes on stdin, never argv (shell history, `ps`). */
async function hashPasswordCommand (bcrypt: boolean): Promise<number> {
  if (process.stdin.isTTY) process.stderr.write('password (then Enter, Ctrl-D): ')
  const chunks: Buffer[] = []
  for await (const c of process.stdin) chunks.push(c as Buffer)
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
  if (password === '') {
    process.stderr.write('wakegate: no password on stdin (e.g. printf %s "$PASSWORD" | wakegate hash-password)\n')
    return 2
  }
  const { hashPassword } = await import('./access/basic.js')
  const hash = bcrypt ? await (await import('bcryptjs')).default.hash(password, 12) : await hashPassword(password)
  process.stdout.write(hash + '\n')
  return 0
}

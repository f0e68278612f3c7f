// Builds the backend an app's config asks for.
import type { Logger } from 'pino'
import type { AppConfig } from '../config/load.js'
import type { Backend } from './backend.js'
import { LocalBackend } from './local.js'

export async function createBackend (app: AppConfig, log: Logger): Promise<Backend> {
  const b = app.backend
  if (b.kind === 'local') {
    return new LocalBackend({ app: app.name, command: b.command, cwd: b.cwd ?? process.cwd(), stopGrace: b.stopGrace, logDir: b.logDir })
  }
  const { EcsBackend } = await import('./ecs.js')
  return new EcsBackend({ app: app.name, port: app.port, config: b, log: log.child({ backend: 'ecs', app: app.name }) })
}

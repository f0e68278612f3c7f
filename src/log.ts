// The process logger: JSON lines (pino), env key and request id carried as fields.
import { pino, type Logger } from 'pino'

export function createLogger (level: string): Logger {
  return pino({ level, base: { service: 'wakegate' }, timestamp: pino.stdTimeFunctions.isoTime })
}

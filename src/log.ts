// The process logger: JSON lines (pino), env key and request id carried as fields.
import { pino, type Logger } from 'pino'

export function createLogger (level: string): Logger {
  return pino({
    level,
    base: { service: 'wakegate' },
    timestamp: pino.stdTimeFunctions.isoTime,
    // Credentials never reach the log, whatever object a line carries.
    redact: {
      paths: ['req.headers.authorization', 'req.headers.cookie', 'req.headers["x-wakegate-bypass"]', 'headers.authorization', 'headers.cookie', 'headers["x-wakegate-bypass"]', 'token', 'clientSecret', 'sessionKey', 'password', 'secret', '*.token', '*.clientSecret', '*.sessionKey', '*.password', '*.secret'],
      censor: '[redacted]'
    }
  })
}

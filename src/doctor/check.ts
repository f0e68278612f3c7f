// One result of `wakegate doctor`, and the small helpers every group of checks shares.

export type Status = 'ok' | 'warn' | 'fail' | 'skip'

export interface Check {
  /** Stable, machine-readable: `ecs.web.iam.ecs:ListTasks`, `github.acme/web.webhook`, `store.redis`. */
  id: string
  title: string
  status: Status
  detail: string
  /** What to do about it, in plain words (failures and warnings). */
  fix?: string
}

export function check (id: string, title: string, status: Status, detail: string, fix?: string): Check {
  return fix ? { id, title, status, detail, fix } : { id, title, status, detail }
}

/** Rejects after `ms` with a message naming what took too long; the work itself is not cancelled. */
export function withTimeout<T> (what: string, ms: number, work: Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} did not answer within ${ms / 1000}s`)), ms)
    timer.unref()
  })
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer))
}

/** An error's message, one line. */
export function message (err: unknown): string {
  const e = err as { name?: string, message?: string }
  const text = e?.message ?? String(err)
  const name = e?.name && e.name !== 'Error' && !text.startsWith(e.name) ? `${e.name}: ` : ''
  return `${name}${text}`.replace(/\s+/g, ' ').trim()
}

// Entry point of a worker process forked by `wakegate serve --workers N`.
import { runWorker } from './worker.js'

runWorker().catch(err => {
  process.stderr.write(`wakegate worker: ${(err as Error).stack ?? String(err)}\n`)
  process.exit(1)
})

// GET /api/cost on the admin listener: totals per app and per PR author (behind its auth).
import type { FastifyInstance } from 'fastify'
import type { CostTracker } from './tracker.js'

export function registerCostApi (app: FastifyInstance, tracker: CostTracker): void {
  app.get('/api/cost', async () => {
    const now = Date.now()
    const { currency, total, apps, authors } = tracker.totals(now)
    return { currency, at: new Date(now).toISOString(), total, apps, authors }
  })
}

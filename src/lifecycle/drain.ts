// Drains an old generation after a switch: its pool takes no new requests and finishes the
// in-flight ones; WebSockets and event streams get until drainTimeout, then are told to
// reconnect (hooks.timeout); HTTP requests still running get drainRequestTimeout more, then
// are cut. Once nothing is left (or that time is up) the task is stopped.
import type { TaskRef } from '../backends/backend.js'
import type { Upstream } from '../proxy/upstream.js'
import type { Env, EnvEvent } from './env.js'

export interface DrainHooks {
  /** drainTimeout passed with streams still open: close them (1012, clean SSE end). */
  timeout: () => void
  stop: (ref: TaskRef) => void
  emit: (e: EnvEvent) => void
}

export function drainGeneration (env: Env, upstream: Upstream, task: TaskRef | undefined, hooks: DrainHooks): void {
  const d = { upstream, task, since: Date.now(), generation: upstream.generation }
  env.draining.add(d)
  hooks.emit(env.emit({ type: 'info', message: `draining generation ${upstream.generation}`, generation: upstream.generation }))
  void upstream.close() // resolves once in-flight requests are done
  const { drainTimeout, drainRequestTimeout } = env.app.config
  const deadline = d.since + drainTimeout
  let notified = false
  const tick = () => {
    const idle = upstream.inflight === 0 && upstream.streams === 0
    const now = Date.now()
    if (!idle && now < deadline) return
    if (!idle && !notified) {
      notified = true
      hooks.timeout()
      if (upstream.inflight > 0 || upstream.streams > 0) return
    }
    if (upstream.inflight > 0 && now < deadline + drainRequestTimeout) return
    clearInterval(timer)
    // Requests past drainRequestTimeout are cut here, not left to however the task dies.
    if (upstream.inflight > 0) void upstream.destroy()
    env.draining.delete(d)
    if (task) hooks.stop(task)
    hooks.emit(env.emit({ type: 'info', message: `generation ${upstream.generation} drained and stopped`, generation: upstream.generation }))
  }
  const timer = setInterval(tick, 100)
  timer.unref()
}

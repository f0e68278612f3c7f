// 3. WebSocket: echo round trips per second through wakegate vs direct to a `ws` server,
// with 50 connections each keeping one 64-byte message in flight.
import { join } from 'node:path'
import WebSocket from 'ws'
import { cpuMs, sleep, startNode, type Server } from '../lib/proc.js'
import { startNginx } from '../lib/nginx.js'
import { undisturbed } from '../lib/quiet.js'
import { summarize, table, fmtInt, round, type Summary } from '../lib/stats.js'
import { SERVERS, type Context, type SectionResult } from '../lib/context.js'

const WS_HOST = 'pr-2.bench.test'

function open (url: string, host: string): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers: { host }, perMessageDeflate: false })
    ws.once('open', () => resolve(ws))
    ws.once('error', reject)
  })
}

/** Messages echoed per second over `seconds`, each connection ping-ponging one message. */
export async function echoRate (port: number, host: string, connections: number, seconds: number): Promise<{ perSec: number, messages: number, errors: number }> {
  const sockets = await Promise.all(Array.from({ length: connections }, () => open(`ws://127.0.0.1:${port}/ws`, host)))
  const payload = Buffer.alloc(64, 'w')
  let messages = 0
  let errors = 0
  let running = true
  for (const ws of sockets) {
    ws.on('message', () => {
      messages++
      if (running) ws.send(payload)
    })
    ws.on('error', () => { errors++ })
    ws.send(payload)
  }
  const started = performance.now()
  await sleep(seconds * 1000)
  running = false
  const elapsed = (performance.now() - started) / 1000
  const counted = messages
  await Promise.all(sockets.map(ws => new Promise<void>(resolve => {
    ws.once('close', () => resolve())
    ws.close()
    setTimeout(() => { ws.terminate(); resolve() }, 2000).unref()
  })))
  return { perSec: counted / elapsed, messages: counted, errors }
}

export async function websocket (ctx: Context): Promise<SectionResult> {
  const servers: Server[] = []
  try {
    const up = await startNode('ws upstream', join(SERVERS, 'ws-upstream.mjs'))
    servers.push(up)
    const wg = await startNode('wakegate', join(SERVERS, 'wakegate.mjs'), [JSON.stringify({ backend: 'fixed', routes: { 2: up.port }, prs: [2], wake: [2] })])
    servers.push(wg)
    const targets = [{ name: 'direct', server: up }, { name: 'wakegate', server: wg }]
    if (ctx.tools.nginx) {
      // For reference: a C proxy relaying the same frames on the same CPU.
      const nginx = await startNginx(ctx.tools.nginx, up.port, { websocket: true })
      servers.push(nginx)
      targets.push({ name: 'nginx', server: nginx })
    }
    for (const t of targets) await echoRate(t.server.port, WS_HOST, ctx.connections, 1)
    const rates = new Map<string, number[]>(targets.map(t => [t.name, []]))
    const cpu = new Map<string, number[]>(targets.map(t => [t.name, []]))
    let errors = 0
    for (let r = 1; r <= ctx.rounds; r++) {
      for (const t of targets) {
        let used = 0
        const res = await undisturbed(ctx.duration, async () => {
          const before = cpuMs(t.server.pid)
          const r = await echoRate(t.server.port, WS_HOST, ctx.connections, ctx.duration)
          used = cpuMs(t.server.pid) - before
          return r
        }, ctx.log)
        cpu.get(t.name)!.push(1000 * used / Math.max(1, res.messages))
        rates.get(t.name)!.push(res.perSec)
        errors += res.errors
        ctx.log(`  round ${r}/${ctx.rounds} ${t.name.padEnd(10)} ${fmtInt(res.perSec)} messages/s`)
      }
    }
    const d = summarize(rates.get('direct')!)
    const w = summarize(rates.get('wakegate')!)
    const ratio: Summary = summarize(w.runs.map((x, i) => x / d.runs[i]))
    const n = rates.has('nginx') ? summarize(rates.get('nginx')!) : undefined
    const text = [
      table([
        [`echo, -c${ctx.connections}, 64 B`, 'messages/s median (range)', 'server CPU µs/msg'],
        ['direct (ws server)', `${fmtInt(d.median)} (${fmtInt(d.min)}–${fmtInt(d.max)})`, summarize(cpu.get('direct')!).median.toFixed(1)],
        ['wakegate → ws server', `${fmtInt(w.median)} (${fmtInt(w.min)}–${fmtInt(w.max)})`, summarize(cpu.get('wakegate')!).median.toFixed(1)],
        ...(n ? [['nginx → ws server', `${fmtInt(n.median)} (${fmtInt(n.min)}–${fmtInt(n.max)})`, summarize(cpu.get('nginx')!).median.toFixed(1)]] : [])
      ]),
      '',
      `wakegate/direct ${ratio.median.toFixed(2)} (${ratio.min.toFixed(2)}–${ratio.max.toFixed(2)})${n ? `, nginx/direct ${(n.median / d.median).toFixed(2)}` : ''}; errors ${errors}`
    ].join('\n')
    return {
      id: 'websocket',
      title: '3. WebSocket echo through wakegate vs direct',
      text,
      data: { direct: d, wakegate: w, nginx: n, ratio: round(ratio.median, 3), ratioRange: ratio, cpuUsPerMessage: { direct: summarize(cpu.get('direct')!), wakegate: summarize(cpu.get('wakegate')!) }, errors }
    }
  } finally {
    for (const s of servers.reverse()) await s.stop()
  }
}

// Who is asking: a browser navigation (gets the waking page), a machine — link-preview bot,
// crawler, scanner or uptime monitor (gets a preview page, never wakes anything and never
// keeps an env awake) — or any other client (held until ready).
import type { IncomingMessage } from 'node:http'

/** User-agent substrings of link unfurlers, crawlers, scanners and uptime monitors (lower case). */
export const DEFAULT_PREVIEW_BOTS = [
  'slackbot', 'slack-imgproxy', 'facebookexternalhit', 'facebot', 'twitterbot', 'discordbot', 'linkedinbot',
  'github-camo', 'camo asset proxy', 'whatsapp', 'telegrambot', 'skypeuripreview', 'microsoftpreview',
  'mattermost', 'rocket.chat', 'zulip', 'embedly', 'iframely', 'pinterest', 'redditbot', 'vkshare', 'applebot',
  'googlebot', 'google-inspectiontool', 'adsbot-google', 'bingbot', 'duckduckbot', 'yandexbot', 'baiduspider',
  'petalbot', 'semrushbot', 'ahrefsbot', 'mj12bot', 'bytespider', 'gptbot', 'ccbot', 'claudebot', 'perplexitybot',
  'uptimerobot', 'pingdom', 'statuscake', 'site24x7', 'betteruptime', 'datadog synthetics', 'elb-healthchecker',
  'googlehc', 'uptime-kuma', 'checkly', 'newrelicpinger', 'zgrab', 'masscan', 'nmap scripting engine', 'nuclei',
  'nikto', 'sqlmap', 'wpscan', 'censysinspect', 'bot.html', 'crawler', 'spider'
]

/** Requests per client kind, and reconnects refused because their env was put to sleep: per app, read by /metrics. */
export interface ClientCounts { human: number, machine: number, asleepRefused: number }

export function clientCounts (): ClientCounts { return { human: 0, machine: 0, asleepRefused: 0 } }

/** The verdict of a request the cold path counted already (a forward after its wake must not count it again). */
const kClient = Symbol('wakegate.client')
type Marked = IncomingMessage & { [kClient]?: boolean }

/** User agents remembered (each a verdict); beyond it the oldest is forgotten. */
const CACHE_SIZE = 1024
/** Longer user agents are classified every time rather than kept. */
const CACHE_UA_MAX = 512

export class ClientClassifier {
  private readonly bots: string[]
  /** Verdict by exact user-agent string: a page load sends the same one dozens of times. */
  private readonly seen = new Map<string, boolean>()

  constructor (extra: string[] = []) {
    this.bots = [...DEFAULT_PREVIEW_BOTS, ...extra.map(s => s.toLowerCase())]
  }

  /** A machine (unfurler, crawler, scanner, monitor): never wakes an env nor keeps one awake. */
  isMachine (req: IncomingMessage): boolean {
    const ua = req.headers['user-agent']
    if (ua === undefined || ua === '') return false
    const known = this.seen.get(ua)
    if (known !== undefined) return known
    const lower = ua.toLowerCase()
    let bot = false
    for (const b of this.bots) if (lower.includes(b)) { bot = true; break }
    if (ua.length <= CACHE_UA_MAX) {
      if (this.seen.size >= CACHE_SIZE) this.seen.delete(this.seen.keys().next().value!)
      this.seen.set(ua, bot)
    }
    return bot
  }

  /** isMachine, counted in `counts` (the request's app). */
  count (req: IncomingMessage, counts: ClientCounts): boolean {
    const machine = this.isMachine(req)
    if (machine) counts.machine++
    else counts.human++
    return machine
  }

  /** count, remembering on the request that it was counted (the cold path: a forward may follow). */
  countOnce (req: IncomingMessage, counts: ClientCounts): boolean {
    const seen = (req as Marked)[kClient]
    if (seen !== undefined) return seen
    return ((req as Marked)[kClient] = this.count(req, counts))
  }
}

/** The verdict countOnce left on `req`, or undefined when it was not counted yet. */
export function countedMachine (req: IncomingMessage): boolean | undefined {
  return (req as Marked)[kClient]
}

/** A top-level page load in a browser: gets the waking page rather than being held. */
export function isNavigation (req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false
  const mode = req.headers['sec-fetch-mode']
  if (mode !== undefined) return mode === 'navigate' && req.headers['sec-fetch-dest'] !== 'iframe'
  const accept = req.headers.accept
  return accept !== undefined && accept.includes('text/html')
}

/**
 * A request an open tab makes by itself to find its server again: an EventSource
 * reconnecting (Accept: text/event-stream) or Vite's dev-server ping (Accept:
 * text/x-vite-ping). Such a request does not wake an env that was put to sleep.
 */
export function isReconnectProbe (req: IncomingMessage): boolean {
  const accept = req.headers.accept
  return accept !== undefined && (accept.includes('text/event-stream') || accept.includes('text/x-vite-ping'))
}

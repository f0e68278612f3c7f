// Who is asking: a browser navigation (gets the waking page), a link-preview bot or crawler
// (gets a preview page and never wakes anything), or any other client (held until ready).
import type { IncomingMessage } from 'node:http'

/** User-agent substrings of link unfurlers, crawlers and uptime monitors (lower case). */
export const DEFAULT_PREVIEW_BOTS = [
  'slackbot', 'slack-imgproxy', 'facebookexternalhit', 'facebot', 'twitterbot', 'discordbot', 'linkedinbot',
  'github-camo', 'camo asset proxy', 'whatsapp', 'telegrambot', 'skypeuripreview', 'microsoftpreview',
  'mattermost', 'rocket.chat', 'zulip', 'embedly', 'iframely', 'pinterest', 'redditbot', 'vkshare', 'applebot',
  'googlebot', 'google-inspectiontool', 'adsbot-google', 'bingbot', 'duckduckbot', 'yandexbot', 'baiduspider',
  'petalbot', 'semrushbot', 'ahrefsbot', 'mj12bot', 'bytespider', 'gptbot', 'ccbot', 'claudebot', 'perplexitybot',
  'uptimerobot', 'pingdom', 'statuscake', 'site24x7', 'betteruptime', 'datadog synthetics', 'bot.html', 'crawler', 'spider'
]

export class ClientClassifier {
  private readonly bots: string[]
  constructor (extra: string[] = []) {
    this.bots = [...DEFAULT_PREVIEW_BOTS, ...extra.map(s => s.toLowerCase())]
  }

  isPreviewBot (req: IncomingMessage): boolean {
    const ua = req.headers['user-agent']
    if (!ua) return false
    const lower = ua.toLowerCase()
    for (const b of this.bots) if (lower.includes(b)) return true
    return false
  }
}

/** A top-level page load in a browser: gets the waking page rather than being held. */
export function isNavigation (req: IncomingMessage): boolean {
  if (req.method !== 'GET' && req.method !== 'HEAD') return false
  const mode = req.headers['sec-fetch-mode']
  if (mode !== undefined) return mode === 'navigate' && req.headers['sec-fetch-dest'] !== 'iframe'
  const accept = req.headers.accept
  return accept !== undefined && accept.includes('text/html')
}

// The small HTML pages the gateway answers with itself: waking, not found, failed, preview.
import { formatDuration } from '../config/duration.js'

export function escapeHtml (s: string): string {
  return s.replace(/[&<>"']/g, c => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!)
}

const STYLE = `body{font:16px/1.5 system-ui,-apple-system,Segoe UI,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}
main{max-width:40rem;margin:12vh auto;padding:2rem;background:#fff;border:1px solid #d0d7de;border-radius:12px}
h1{font-size:1.35rem;margin:0 0 .5rem}p{margin:.5rem 0}code,pre{font:13px ui-monospace,monospace;background:#f0f2f4;border-radius:6px}
code{padding:.1rem .3rem}pre{padding:.75rem;white-space:pre-wrap;word-break:break-word;max-height:16rem;overflow:auto}
ol{padding-left:1.2rem}li{color:#8c959f}li.done{color:#1a7f37}li.now{color:#1f2328;font-weight:600}.typ{font-weight:400;font-size:.85rem;color:#656d76;margin-left:.4rem}
.bar{height:6px;background:#eaeef2;border-radius:3px;overflow:hidden;margin:1rem 0}.bar>div{height:100%;width:0;background:#0969da;transition:width .3s}
.muted{color:#656d76;font-size:.9rem}.err{color:#cf222e}`

function page (title: string, body: string, head = ''): string {
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">` +
    `<meta name="robots" content="noindex"><title>${escapeHtml(title)}</title>${head}<style>${STYLE}</style></head><body><main>${body}</main></body></html>`
}

export interface WakingInfo {
  app: string
  pr: number
  branch: string
  sha: string
  state: string
  phase: string
  /** The wake's finer phase now (placement, pull, start, …), when known. */
  step?: string
  /** The app's backend kind: which steps a wake has (local: no image pull). */
  backend: string
  /** Typical (median) ms of each wake phase of this app, from its recent wakes. */
  typical: Partial<Record<string, number>>
  typicalWake: number
  startTimeout: number
  eventsPath: string
}

/** A step of the waking page and the wake phases it stands for. */
interface Step { id: string, label: string, covers: string[] }

/** The steps a wake on this backend goes through; time wakegate itself spends is shown in the step it belongs to. */
export function wakingSteps (backend: string): Step[] {
  const health: Step = { id: 'health', label: 'Health check', covers: ['detect', 'health'] }
  if (backend === 'ecs') {
    return [
      { id: 'placement', label: 'Placing the task', covers: ['queue', 'placement'] },
      { id: 'pull', label: 'Pulling image', covers: ['pull'] },
      { id: 'start', label: 'Starting container', covers: ['start'] },
      health
    ]
  }
  return [{ id: 'start', label: backend === 'local' ? 'Starting process' : 'Starting task', covers: ['queue', 'placement', 'pull', 'start'] }, health]
}

/** A step's typical ms: the sum of its phases' medians (undefined before the app's first wake). */
function typicalOf (step: Step, typical: WakingInfo['typical']): number | undefined {
  const known = step.covers.map(p => typical[p]).filter((ms): ms is number => ms !== undefined)
  return known.length ? known.reduce((a, b) => a + b, 0) : undefined
}

/** The page a browser sees while its env wakes; follows progress over SSE and reloads when ready. */
export function wakingPage (w: WakingInfo): string {
  const typical = w.typicalWake ? `usually takes about ${formatDuration(w.typicalWake)}` : 'first start of this app'
  const steps = [...wakingSteps(w.backend), { id: 'ready', label: 'Ready', covers: ['ready'] }]
  const item = (s: Step) => {
    const ms = typicalOf(s, w.typical)
    return `<li data-step="${s.id}">${s.label}${ms === undefined ? '' : `<span class="typ">usually ${formatDuration(ms)}</span>`}</li>`
  }
  const body = `<h1>Waking up PR #${w.pr} of ${escapeHtml(w.app)}</h1>
<p class="muted">Branch <code>${escapeHtml(w.branch)}</code> at <code>${escapeHtml(w.sha.slice(0, 12))}</code> — ${typical}. This page reloads by itself.</p>
<div class="bar"><div id="bar"></div></div>
<ol id="steps">${steps.map(item).join('')}</ol>
<p id="detail" class="muted"></p><pre id="reason" class="err" hidden></pre>
<script>
(function(){
  var covers=${JSON.stringify(steps.map(s => s.covers))}, typical=${w.typicalWake || 0}, started=Date.now();
  // Events from before steps were reported name only the coarse phase.
  var coarse={queued:'queue',starting:'queue',pulling:'pull',health:'health',ready:'ready'};
  var detail=document.getElementById('detail'), bar=document.getElementById('bar'), reason=document.getElementById('reason');
  function mark(p){var i=-1;covers.forEach(function(c,j){if(c.indexOf(p)>=0)i=j;});if(i<0)return;[].forEach.call(document.querySelectorAll('#steps li'),function(li,j){li.className=j<i?'done':j===i?'now':''});}
  function progress(){var f=typical?Math.min(.95,(Date.now()-started)/typical):.5;bar.style.width=(f*100)+'%';}
  mark(${JSON.stringify(w.step ?? '')}||coarse[${JSON.stringify(w.phase)}]);setInterval(progress,250);progress();
  var done=false, es=new EventSource(${JSON.stringify(w.eventsPath)});
  es.addEventListener('phase',function(e){var d=JSON.parse(e.data);mark(d.step||coarse[d.phase]);detail.textContent=d.message||'';});
  es.addEventListener('ready',function(){done=true;mark('ready');bar.style.width='100%';es.close();location.reload();});
  es.addEventListener('failed',function(e){var d=JSON.parse(e.data);done=true;es.close();detail.textContent=d.message||'The environment could not be started.';reason.hidden=false;reason.textContent=d.reason;document.title='Failed: PR #${w.pr}';});
  es.onerror=function(){if(!done){es.close();setTimeout(function(){location.reload();},1000);}};
})();
</script>`
  return page(`Waking PR #${w.pr} · ${w.app}`, body)
}

export function messagePage (title: string, message: string, detail?: string, note?: string): string {
  return page(title, `<h1>${escapeHtml(title)}</h1><p>${escapeHtml(message)}</p>${detail ? `<pre class="err">${escapeHtml(detail)}</pre>` : ''}` +
    `${note ? `<p class="muted">${escapeHtml(note)}</p>` : ''}`)
}

/** For link-preview bots: enough OpenGraph for a useful unfurl, without waking anything. */
export function previewPage (app: string, pr: number, url: string, title?: string): string {
  const t = `PR #${pr}${title ? `: ${title}` : ''} · ${app} review environment`
  const desc = `Live review environment for pull request #${pr} of ${app}. It starts when opened.`
  const head = `<meta property="og:title" content="${escapeHtml(t)}"><meta property="og:description" content="${escapeHtml(desc)}">` +
    `<meta property="og:type" content="website"><meta property="og:url" content="${escapeHtml(url)}"><meta name="twitter:card" content="summary">`
  return page(t, `<h1>${escapeHtml(t)}</h1><p>${escapeHtml(desc)}</p>`, head)
}

export const ROBOTS_TXT = 'User-agent: *\nDisallow: /\n'

/** What link-preview bots and crawlers of a restricted app see: nothing about the PR. */
export function neutralPage (): string {
  return page('Review environment', '<h1>Review environment</h1><p>This review environment is private.</p>')
}

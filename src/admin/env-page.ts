// One env on the operator dashboard (/envs/:app/:pr): its state, each recent wake's timeline
// as a bar split by phase, and, when the API view has them, its idle timeout (with a
// keep-awake form) and its cost. Like the dashboard the page holds no data: it reads
// /api/envs/:app/:pr with the token the dashboard keeps, and follows /api/events.
import type { FastifyInstance } from 'fastify'
import { parsePr } from '../routing/template.js'
import { replyError } from '../proxy/error-response.js'
import { FOLLOW_EVENTS_JS } from './follow-events.js'

const PATH = /^\/envs\/[A-Za-z0-9._-]+\/\d+(?:\?.*)?$/

/** The env page's own URL: served without the token (the page asks for it), like the dashboard. */
export function isEnvPage (url: string): boolean {
  return PATH.test(url)
}

const STYLE = `body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}
header{padding:.8rem 1.5rem;background:#24292f;color:#fff;display:flex;gap:1rem;align-items:center}
header h1{font-size:1.1rem;margin:0}header a{color:#fff}header span{opacity:.75}
main{padding:1rem 1.5rem;max-width:64rem}section{background:#fff;border:1px solid #d0d7de;padding:.6rem .9rem;margin-bottom:1rem}
h2{font-size:1rem;margin:.2rem 0 .6rem}table{border-collapse:collapse}th,td{padding:.25rem .8rem .25rem 0;text-align:left;vertical-align:top}th{font-weight:600;color:#57606a}
code{font:12px ui-monospace,monospace}.state{font-weight:600;padding:.1rem .45rem;border-radius:1rem;background:#eaeef2}
.running{background:#dafbe1;color:#116329}.waking,.stopping{background:#fff8c5;color:#7d4e00}.failed{background:#ffebe9;color:#a40e26}
.reason,.err{color:#a40e26;white-space:pre-wrap}.muted{color:#57606a}button,input{font:inherit;font-size:12px;padding:.15rem .5rem}
.wake{margin:.5rem 0 .9rem}.wake .head{display:flex;gap:.8rem;font-size:12px}.tl{display:flex;height:14px;border-radius:3px;overflow:hidden;background:#eaeef2;margin:.25rem 0}
.seg{display:block;flex-basis:0;min-width:0}.seg.some{min-width:2px}.legend{font-size:12px;color:#57606a}.legend b{font-weight:600;color:#1f2328}
.ph-queue{background:#8c959f}.ph-placement{background:#bf8700}.ph-pull{background:#8250df}.ph-start{background:#0969da}.ph-detect{background:#cf222e}.ph-health{background:#1a7f37}
.key i{display:inline-block;width:.7rem;height:.7rem;border-radius:2px;margin:0 .25rem 0 .6rem;vertical-align:-1px}#auth{display:none;gap:.5rem}`

function page (key: string): string {
  // The key goes into a script: as JSON with '<' escaped it cannot end the script element.
  const keyJson = JSON.stringify(key).replace(/</g, '\\u003c')
  return `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>${key.replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`)} · wakegate</title><style>${STYLE}</style></head><body>
<header><h1><a href="../../">wakegate</a></h1><span id="title"></span><form id="auth"><input id="token" type="password" placeholder="admin token"><button>Use token</button></form></header>
<main><p id="msg" class="err" hidden></p>
<section id="summary"></section>
<section id="idle" hidden></section>
<section id="cost" hidden></section>
<section><h2>Recent wakes</h2><div class="key legend" id="key"></div><div id="wakes"></div></section>
</main>
<script>
(function(){
  var KEY = ${keyJson}, API = '../../api/envs/' + KEY;
  var token = localStorage.getItem('wakegate-token') || '';
  var LABEL = { queue: 'queue', placement: 'placement', pull: 'image pull', start: 'start', detect: 'detect', health: 'health check' };
  function hdrs(extra){ var h = token ? { authorization: 'Bearer ' + token } : {}; for (var k in (extra || {})) h[k] = extra[k]; return h; }
  function esc(s){ return String(s == null ? '' : s).replace(/[&<>"']/g, function(c){ return '&#' + c.charCodeAt(0) + ';'; }); }
  function fmt(ms){ if (ms == null) return ''; return ms < 1000 ? Math.round(ms) + ' ms' : ms < 60000 ? (ms / 1000).toFixed(ms < 10000 ? 1 : 0) + ' s' : ms < 3600000 ? Math.round(ms / 60000) + ' min' : (ms / 3600000).toFixed(1) + ' h'; }
  function when(iso){ return iso ? new Date(iso).toLocaleString() : ''; }
  function row(k, v){ return v === undefined || v === '' ? '' : '<tr><th>' + esc(k) + '</th><td>' + v + '</td></tr>'; }
  function msg(text){ var el = document.getElementById('msg'); el.hidden = !text; el.textContent = text || ''; }
  document.getElementById('key').innerHTML = Object.keys(LABEL).map(function(p){ return '<i class="ph-' + p + '"></i>' + LABEL[p]; }).join('');

  function summary(e){
    document.getElementById('title').textContent = e.key;
    document.getElementById('summary').innerHTML = '<h2>' + esc(e.key) + (e.title ? ': ' + esc(e.title) : '') + '</h2><table>' +
      row('State', '<span class="state ' + esc(e.state) + '">' + esc(e.state) + '</span>' + (e.reason ? '<div class="reason">' + esc(e.reason) + '</div>' : '')) +
      row('URL', '<a href="' + esc(e.url) + '">' + esc(e.url) + '</a>') +
      row('Branch / SHA', '<code>' + esc(e.branch) + '</code> <code>' + esc(String(e.sha).slice(0, 12)) + '</code>') +
      row('Author', e.author ? esc(e.author) : undefined) +
      row('Last seen', esc(when(e.lastSeen))) +
      row('Up since', e.state === 'running' ? esc(when(e.readyAt)) : undefined) + '</table>';
  }

  function wakes(list){
    var max = list.reduce(function(m, w){ return Math.max(m, w.totalMs); }, 1);
    document.getElementById('wakes').innerHTML = list.length ? list.slice().reverse().map(function(w){
      var segs = w.phases.map(function(p){
        return '<span class="seg ph-' + esc(p.phase) + (p.ms > 0 ? ' some' : '') + '" data-phase="' + esc(p.phase) + '" style="flex-grow:' + p.ms + '" title="' + esc(LABEL[p.phase] || p.phase) + ' ' + fmt(p.ms) + '"></span>';
      }).join('');
      var legend = w.phases.map(function(p){ return esc(LABEL[p.phase] || p.phase) + ' <b>' + fmt(p.ms) + '</b>'; }).join(' · ');
      return '<div class="wake" data-kind="' + esc(w.kind) + '" data-ok="' + w.ok + '"><div class="head"><span>' + esc(when(w.at)) + '</span><span>' + esc(w.kind) + ' g' + esc(w.generation) +
        ' <code>' + esc(String(w.sha).slice(0, 12)) + '</code></span><b class="total">' + fmt(w.totalMs) + '</b>' + (w.ok ? '' : '<span class="err">failed' + (w.code ? ' (' + esc(w.code) + ')' : '') + '</span>') + '</div>' +
        '<div class="tl" style="width:' + Math.max(2, w.totalMs / max * 100) + '%">' + segs + '</div><div class="legend">' + legend + '</div></div>';
    }).join('') : '<p class="muted">No wake recorded since the gateway started.</p>';
  }

  function idle(v){
    var el = document.getElementById('idle');
    el.hidden = !v;
    if (!v) return;
    el.innerHTML = '<h2>Idle</h2><table>' +
      row('Idle timeout', esc(fmt(v.timeoutMs))) +
      row('Policy', v.policy === undefined ? undefined : esc(typeof v.policy === 'string' ? v.policy : JSON.stringify(v.policy))) +
      row('Visits', v.visits === undefined ? undefined : esc(v.visits) + (v.coldVisits !== undefined ? ', ' + esc(v.coldVisits) + ' cold' : '')) +
      row('Kept awake until', v.keepAwakeUntil ? '<span id="kept">' + esc(when(v.keepAwakeUntil)) + '</span> <button id="keep-cancel" type="button">Cancel</button>' : undefined) + '</table>' +
      '<form id="keep"><input id="keep-for" placeholder="2h" size="6" required> <button>Keep awake</button></form>';
  }

  function cost(c){
    var el = document.getElementById('cost');
    el.hidden = !c;
    if (!c) return;
    var cur = c.currency ? ' ' + esc(c.currency) : '';
    el.innerHTML = '<h2>Cost</h2><table>' +
      row('Running time', esc(fmt(c.runningMs))) +
      row('Cost', c.amount === undefined ? undefined : esc(c.amount) + cur) +
      row('Always on', c.alwaysOnAmount === undefined ? undefined : esc(c.alwaysOnAmount) + cur) + '</table>';
  }

  function render(e){ summary(e); wakes(e.wakes || []); idle(e.idle); cost(e.cost); }

  // Only the message load() itself showed is cleared by it: a keep-awake error shown while an
  // earlier load was in flight stays.
  var missing = false;
  function load(){
    return fetch(API, { headers: hdrs() }).then(function(r){
      if (r.status === 401) { document.getElementById('auth').style.display = 'flex'; throw new Error('token needed'); }
      if (r.status === 404) { missing = true; msg('No env ' + KEY + '.'); throw new Error('unknown env'); }
      return r.json();
    }).then(function(e){ if (missing) { missing = false; msg(''); } render(e); });
  }

  function follow(){
    followEvents('../../api/events', hdrs, function(m){ if (m.env && m.env.key === KEY) render(m.env); });
  }
${FOLLOW_EVENTS_JS}
  function keepAwake(method, body){
    var init = { method: method, headers: hdrs(body ? { 'content-type': 'application/json' } : {}) };
    if (body) init.body = JSON.stringify(body);
    fetch(API + '/keep-awake', init).then(function(r){
      return r.json().catch(function(){ return {}; }).then(function(d){ if (!r.ok) throw new Error(d.detail || d.message || ('HTTP ' + r.status)); });
    }).then(load).then(function(){ msg(''); }, function(err){ msg('Keep-awake: ' + err.message); });
  }
  document.getElementById('idle').addEventListener('submit', function(ev){ ev.preventDefault(); keepAwake('POST', { for: document.getElementById('keep-for').value.trim() }); });
  document.getElementById('idle').addEventListener('click', function(ev){ if (ev.target.id === 'keep-cancel') keepAwake('DELETE'); });
  document.getElementById('auth').addEventListener('submit', function(ev){ ev.preventDefault(); token = document.getElementById('token').value; localStorage.setItem('wakegate-token', token); document.getElementById('auth').style.display = 'none'; load().then(follow); });
  load().then(follow, function(){});
})();
</script></body></html>`
}

export function registerEnvPage (app: FastifyInstance): void {
  app.get<{ Params: { app: string, pr: string } }>('/envs/:app/:pr', async (req, reply) => {
    const pr = parsePr(req.params.pr)
    if (!pr || !/^[A-Za-z0-9._-]+$/.test(req.params.app)) return replyError(reply, { code: 'WAKEGATE_UNKNOWN_PR', detail: `no env ${req.params.app}/${req.params.pr}` })
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
    return page(`${req.params.app}/${pr}`)
  })
}

// The operator dashboard: one static page that reads /api/envs and follows /api/events
// (server-sent events, read with fetch so the bearer token can be sent).
import type { FastifyInstance } from 'fastify'
import type { EnvManager } from '../lifecycle/manager.js'
import type { EnvEvent } from '../lifecycle/env.js'
import { FOLLOW_EVENTS_JS } from './follow-events.js'

const PAGE = `<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width,initial-scale=1">
<meta name="robots" content="noindex"><title>wakegate</title><style>
body{font:14px/1.45 system-ui,sans-serif;margin:0;background:#f6f7f9;color:#1f2328}
header{padding:.8rem 1.5rem;background:#24292f;color:#fff;display:flex;gap:1rem;align-items:center}
header h1{font-size:1.1rem;margin:0}header span{opacity:.75}
main{padding:1rem 1.5rem}table{border-collapse:collapse;width:100%;background:#fff;border:1px solid #d0d7de}
th,td{padding:.45rem .6rem;border-bottom:1px solid #eaeef2;text-align:left;vertical-align:top}th{background:#f6f8fa;font-weight:600}
code{font:12px ui-monospace,monospace}.pub{font-size:.75rem;font-weight:600;padding:.05rem .4rem;border-radius:1rem;background:#fff1e5;color:#bc4c00}.state{font-weight:600;padding:.1rem .45rem;border-radius:1rem;background:#eaeef2}
.running{background:#dafbe1;color:#116329}.waking,.stopping{background:#fff8c5;color:#7d4e00}.failed{background:#ffebe9;color:#a40e26}
.destroyed{background:#eaeef2;color:#57606a}button{font:inherit;font-size:12px;margin:0 .2rem .2rem 0;padding:.15rem .5rem;cursor:pointer}
#log{white-space:pre-wrap;margin-top:1rem;background:#fff;border:1px solid #d0d7de;padding:.5rem;height:14rem;overflow:auto;font:12px ui-monospace,monospace}
.kept{font-size:12px;color:#57606a}.cost div,#costs{font-size:12px;color:#57606a}#costs{margin:0 0 .6rem}.reason{color:#a40e26;font-size:12px;max-width:28rem;white-space:pre-wrap}#auth{display:none;gap:.5rem}
</style></head><body>
<header><h1>wakegate</h1><span id="summary"></span><form id="auth"><input id="token" type="password" placeholder="admin token"><button>Use token</button></form></header>
<main><div id="costs"></div><table><thead><tr><th>Env</th><th>State</th><th>Title</th><th>Branch / SHA</th><th>Generations</th><th>Last seen</th><th>Up since</th><th>Cost</th><th></th></tr></thead><tbody id="envs"></tbody></table>
<div id="log"></div></main>
<script>
(function(){
  var token = localStorage.getItem('wakegate-token') || '';
  var envs = {};
  function hdrs(){ return token ? { authorization: 'Bearer ' + token } : {}; }
  function esc(s){ return String(s == null ? '' : s).replace(/[&<>"']/g, function(c){ return '&#' + c.charCodeAt(0) + ';'; }); }
  function ago(iso){ if(!iso) return ''; var s = Math.round((Date.now() - Date.parse(iso)) / 1000); return s < 60 ? s + ' s ago' : s < 3600 ? Math.round(s/60) + ' min ago' : Math.round(s/3600) + ' h ago'; }
  function render(){
    var keys = Object.keys(envs).sort(), rows = '', n = { running: 0 };
    keys.forEach(function(k){
      var e = envs[k]; n[e.state] = (n[e.state] || 0) + 1;
      var gens = (e.generations || []).map(function(g){ return g.role + ' g' + g.generation + (g.inflight != null ? ' (' + g.inflight + ' req, ' + g.streams + ' streams)' : ''); }).join('<br>');
      rows += '<tr data-key="' + esc(k) + '"><td><a href="' + esc(e.url) + '">' + esc(k) + '</a> <a class="env-page" href="envs/' + esc(k) + '" title="wake timelines, idle and cost">details</a>' + (e.access === 'public' ? ' <span class="pub" title="no access policy: anyone who reaches the gateway can open and wake it">public</span>' : '') + '</td><td><span class="state ' + esc(e.state) + '">' + esc(e.state) + '</span>' +
        (e.reason ? '<div class="reason">' + esc(e.reason) + '</div>' : '') + '</td><td>' + esc(e.title || '') + (e.author ? ' · ' + esc(e.author) : '') + '</td>' +
        '<td><code>' + esc(e.branch) + '</code><br><code>' + esc(String(e.sha).slice(0, 12)) + '</code></td><td>' + gens + '</td><td>' + ago(e.lastSeen) + '</td><td>' + (e.state === 'running' ? ago(e.readyAt) : '') + '</td><td class="cost">' + costCell(e) + '</td>' +
        '<td>' + ['wake', 'sleep', 'keep-awake', 'redeploy', 'destroy'].map(function(a){ return a === 'keep-awake' ? '<button data-action="keep-awake" data-for="2h" title="keep it running for 2 h, whatever its idle timeout and office hours">keep awake 2h</button>' : '<button data-action="' + a + '">' + a + '</button>'; }).join('') +
        (e.idle && e.idle.keepAwakeUntil ? '<div class="kept">kept awake until ' + esc(new Date(e.idle.keepAwakeUntil).toLocaleString()) + '</div>' : '') + '</td></tr>';
    });
    document.getElementById('envs').innerHTML = rows;
    document.getElementById('summary').textContent = keys.length + ' envs, ' + (n.running || 0) + ' running';
  }
  // Cost: the view's reading plus the time since at its rate (tasks × perHour), so a running env's cost moves between events.
  function money(n, cur){ var f = new Intl.NumberFormat('en-US', { style: 'currency', currency: cur }); return n > 0 && n < 0.005 ? '&lt; ' + f.format(0.01) : f.format(n); }
  function span(ms){ var s = Math.round(ms / 1000), m = Math.floor(s / 60), h = Math.floor(m / 60), d = Math.floor(h / 24); return s < 60 ? s + ' s' : m < 60 ? m + ' min' : h < 24 ? h + ' h' + (m % 60 ? ' ' + m % 60 + ' min' : '') : d + ' d' + (h % 24 ? ' ' + h % 24 + ' h' : ''); }
  function costCell(e){
    var c = e.cost; if (!c) return '';
    var dt = Math.max(0, Date.now() - Date.parse(c.asOf)) || 0, open = e.state === 'destroyed' ? 0 : dt;
    var ran = c.runningMs + c.tasks * dt;
    if (c.amount == null) return '<span title="task size or price not known: set apps[].cost">' + span(ran) + '</span>';
    return money(c.amount + c.perHour * c.tasks * dt / 3600000, c.currency) + '<div title="what it ran, and what it would have cost always on since the PR opened">' + span(ran) + ' · always on ' + money(c.alwaysOnAmount + c.perHour * open / 3600000, c.currency) + '</div>';
  }
  function loadCost(){
    return fetch('api/cost', { headers: hdrs() }).then(function(r){ return r.ok ? r.json() : null; }).then(function(d){
      if (!d) return;
      var lines = d.apps.map(function(a){ return '<div class="app-cost"><b>' + esc(a.app) + '</b>: ' + a.envs + ' envs, ran ' + span(a.runningMs) + (a.amount != null ? ', ' + money(a.amount, d.currency) + ' (always on: ' + money(a.alwaysOnAmount, d.currency) + ')' : ', cost not known (set apps[].cost)') + '</div>'; });
      var by = d.authors.filter(function(a){ return a.envs > a.unpriced; }).map(function(a){ return esc(a.author || '(no author)') + ' ' + money(a.amount, d.currency); }).join(' · ');
      if (by) lines.push('<div class="author-cost">By author: ' + by + '</div>');
      document.getElementById('costs').innerHTML = lines.join('');
    }, function(){});
  }
  function log(line){ var el = document.getElementById('log'); el.textContent = line + '\\n' + el.textContent.slice(0, 20000); }
  function load(){
    return fetch('api/envs', { headers: hdrs() }).then(function(r){
      if (r.status === 401) { document.getElementById('auth').style.display = 'flex'; throw new Error('token needed'); }
      return r.json();
    }).then(function(d){ envs = {}; d.envs.forEach(function(e){ envs[e.key] = e; }); render(); loadCost(); });
  }
  function follow(){
    followEvents('api/events', hdrs, function(m){
      if (m.env) envs[m.env.key] = m.env;
      if (m.event) log(new Date(m.event.at).toLocaleTimeString() + ' ' + m.event.key + ' ' + m.event.message);
      if (m.event && m.event.type === 'state') loadCost();
      render();
    });
  }
${FOLLOW_EVENTS_JS}
  document.getElementById('envs').addEventListener('click', function(ev){
    var b = ev.target.closest('button'); if (!b) return;
    var key = b.closest('tr').getAttribute('data-key');
    if (b.dataset.action === 'destroy' && !confirm('Destroy ' + key + '?')) return;
    var req = b.dataset.for ? { method: 'POST', headers: Object.assign({ 'content-type': 'application/json' }, hdrs()), body: JSON.stringify({ for: b.dataset.for }) } : { method: 'POST', headers: hdrs() };
    fetch('api/envs/' + key + '/' + b.dataset.action, req).then(function(r){ return r.json(); }).then(function(e){ envs[e.key] = e; render(); });
  });
  document.getElementById('auth').addEventListener('submit', function(ev){ ev.preventDefault(); token = document.getElementById('token').value; localStorage.setItem('wakegate-token', token); document.getElementById('auth').style.display = 'none'; load().then(follow); });
  setInterval(render, 5000);
  setInterval(loadCost, 30000);
  load().then(follow, function(){});
})();
</script></body></html>`

export function registerDashboard (app: FastifyInstance, manager: EnvManager, view: (key: string) => unknown): void {
  app.get('/', async (_req, reply) => {
    reply.type('text/html; charset=utf-8').header('cache-control', 'no-store')
    return PAGE
  })

  // Live feed for the dashboard: every env event with the env's fresh view.
  app.get('/api/events', (req, reply) => {
    reply.hijack()
    const res = reply.raw
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-store', 'x-accel-buffering': 'no' })
    res.write(': connected\n\n')
    const onEvent = (e: EnvEvent) => { res.write(`data: ${JSON.stringify({ event: e, env: view(e.key) })}\n\n`) }
    manager.on('event', onEvent)
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000)
    req.raw.once('close', () => { manager.off('event', onEvent); clearInterval(ping) })
  })
}

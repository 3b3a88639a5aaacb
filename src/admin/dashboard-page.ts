// GET /dashboard: one self-contained page (inline CSS, JS and SVG, nothing from a CDN) fed by the /events stream.
// Never polls and never reloads: it renders each server-sent snapshot, and keeps the last 120 points per chart in memory.

export const DASHBOARD_HTML = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>dynoproxy dashboard</title>
<style>
  :root { --bg:#0f1418; --card:#182028; --fg:#dfe7ee; --dim:#8a99a6; --ok:#3fb950; --warn:#d29922; --bad:#f85149; --line:#58a6ff; --line2:#bc8cff; }
  * { box-sizing: border-box; }
  body { margin:0; font:14px/1.4 system-ui, sans-serif; background:var(--bg); color:var(--fg); }
  header { display:flex; gap:16px; align-items:center; padding:12px 20px; border-bottom:1px solid #26313b; }
  header h1 { font-size:18px; margin:0; }
  .badge { padding:2px 10px; border-radius:10px; font-weight:600; background:#26313b; }
  .badge[data-state="NORMAL"], .st[data-state="up"] { color:var(--ok); }
  .badge[data-state="STANDBY"], .st[data-state="down"] { color:var(--bad); }
  .badge[data-state="WRITES_ONLY"], .badge[data-state="RESUMING"], .st[data-state="ejected"] { color:var(--warn); }
  #conn { margin-left:auto; color:var(--dim); }
  main { padding:16px 20px; display:grid; gap:16px; }
  .card { background:var(--card); border-radius:8px; padding:14px 16px; }
  .card h2 { margin:0 0 10px; font-size:15px; }
  .figs { display:flex; flex-wrap:wrap; gap:22px; }
  .fig b { display:block; font-size:22px; font-variant-numeric:tabular-nums; }
  .fig span { color:var(--dim); font-size:12px; }
  .charts { display:grid; grid-template-columns:repeat(auto-fit,minmax(280px,1fr)); gap:12px; margin-top:12px; }
  svg { width:100%; height:90px; background:#121a20; border-radius:6px; }
  table { border-collapse:collapse; width:100%; margin-top:10px; }
  td, th { text-align:left; padding:4px 8px; border-bottom:1px solid #26313b; font-variant-numeric:tabular-nums; }
  th { color:var(--dim); font-weight:500; }
  .tree { color:var(--dim); }
  .tree b { color:var(--fg); }
</style>
</head>
<body>
<header>
  <h1>dynoproxy</h1>
  <span id="node-name"></span>
  <span class="badge" id="node-state" data-state="">…</span>
  <span id="conn">connecting…</span>
</header>
<main>
  <section class="card"><h2>Cluster</h2><div class="tree" id="tree"></div>
    <table id="ring" hidden><thead><tr><th>datacenter</th><th>rack</th><th>node</th><th>token range (prev, token]</th><th>state</th></tr></thead><tbody></tbody></table>
    <div class="figs" id="replication" hidden></div></section>
  <div id="pools"></div>
  <section class="card"><h2>Workers</h2><table id="workers"><thead><tr><th>worker</th><th>alive</th><th>restarts</th><th>event-loop delay p99</th></tr></thead><tbody></tbody></table></section>
</main>
<script>
(() => {
  const HISTORY = 120;
  const series = new Map();
  const $ = (sel, el) => (el || document).querySelector(sel);
  const fmt = (n, d) => (n >= 1e6 ? (n / 1e6).toFixed(2) + 'M' : n >= 1e4 ? (n / 1e3).toFixed(1) + 'k' : n.toFixed(d === undefined ? 0 : d));
  const us = (v) => (v >= 1000 ? (v / 1000).toFixed(2) + ' ms' : Math.round(v) + ' µs');
  const esc = (s) => String(s).replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]);

  function push(key, v) {
    let a = series.get(key);
    if (!a) series.set(key, (a = []));
    a.push(v);
    if (a.length > HISTORY) a.shift();
    return a;
  }

  function spark(svg, lines) {
    const w = 300, h = 90;
    let max = 1;
    for (const l of lines) for (const v of l.data) if (v > max) max = v;
    let out = '';
    for (const l of lines) {
      const n = l.data.length;
      const pts = l.data.map((v, i) => (w - ((n - 1 - i) / (HISTORY - 1)) * w).toFixed(1) + ',' + (h - 4 - (v / max) * (h - 14)).toFixed(1)).join(' ');
      out += '<polyline fill="none" stroke="' + l.color + '" stroke-width="1.5" points="' + pts + '"/>';
    }
    out += '<text x="4" y="12" fill="#8a99a6" font-size="10">max ' + esc(lines[0].unit(max)) + '</text>';
    svg.setAttribute('viewBox', '0 0 ' + w + ' ' + h);
    svg.setAttribute('preserveAspectRatio', 'none');
    svg.innerHTML = out;
  }

  function poolCard(p) {
    let el = document.querySelector('[data-pool="' + CSS.escape(p.name) + '"]');
    if (!el) {
      el = document.createElement('section');
      el.className = 'card';
      el.dataset.pool = p.name;
      el.innerHTML = '<h2>pool ' + esc(p.name) + '</h2><div class="figs">' +
        ['ops:ops/s', 'errors:errors/s', 'p50:p50', 'p99:p99', 'p999:p99.9', 'clients:clients', 'inflight:in flight', 'held:writes held']
          .map((f) => { const [k, label] = f.split(':'); return '<div class="fig"><b class="' + k + '">0</b><span>' + label + '</span></div>'; }).join('') +
        '</div><div class="charts"><svg class="chart-ops"></svg><svg class="chart-lat"></svg></div>' +
        '<table class="servers"><thead><tr><th>server</th><th>state</th><th>ops/s</th><th>errors/s</th><th>connections</th></tr></thead><tbody></tbody></table>';
      $('#pools').appendChild(el);
    }
    $('.ops', el).textContent = fmt(p.ops);
    $('.errors', el).textContent = fmt(p.errorsPerSec, 1);
    $('.p50', el).textContent = us(p.p50);
    $('.p99', el).textContent = us(p.p99);
    $('.p999', el).textContent = us(p.p999);
    $('.clients', el).textContent = fmt(p.clients);
    $('.inflight', el).textContent = fmt(p.inFlight);
    $('.held', el).textContent = fmt(p.writesHeld);
    spark($('.chart-ops', el), [
      { data: push(p.name + ':ops', p.ops), color: 'var(--line)', unit: (v) => fmt(v) + ' ops/s' },
      { data: push(p.name + ':err', p.errorsPerSec), color: 'var(--bad)', unit: (v) => fmt(v) },
    ]);
    spark($('.chart-lat', el), [
      { data: push(p.name + ':p99', p.p99), color: 'var(--line2)', unit: us },
      { data: push(p.name + ':p50', p.p50), color: 'var(--line)', unit: us },
      { data: push(p.name + ':p999', p.p999), color: 'var(--warn)', unit: us },
    ]);
    $('.servers tbody', el).innerHTML = p.servers.map((s) =>
      '<tr data-server="' + esc(s.name) + '" data-state="' + s.state + '"><td>' + esc(s.name) + '</td><td class="st" data-state="' + s.state + '">' + s.state +
      '</td><td>' + fmt(s.ops) + '</td><td>' + fmt(s.errors, 1) + '</td><td>' + s.connections + '</td></tr>').join('');
  }

  // Each rack is a ring: a node owns (previous token, its token], the lowest token wrapping around.
  function renderCluster(c) {
    const table = $('#ring');
    const repl = $('#replication');
    if (!c) { table.hidden = true; repl.hidden = true; return; }
    const rows = [];
    for (const dc of c.dcs) for (const rack of dc.racks) {
      const sorted = rack.servers.slice().sort((a, b) => a.token - b.token);
      sorted.forEach((n, i) => {
        const prev = sorted[(i + sorted.length - 1) % sorted.length].token;
        const range = sorted.length === 1 ? 'whole ring' : '(' + prev + ', ' + n.token + ']';
        const st = n.state === 'normal' ? 'up' : n.state === 'down' ? 'down' : 'ejected';
        // A token move shows beside liveness: joining, leaving, left, and settling (writes of the moved ranges still go both ways).
        const move = n.node_state === 'joining' || n.node_state === 'leaving' || n.node_state === 'left' ? n.node_state : n.settling ? 'settling' : '';
        rows.push('<tr data-node="' + esc(n.name) + '" data-state="' + st + '"' + (move ? ' data-move="' + esc(move) + '"' : '') + '><td>' + esc(dc.name) + '</td><td>' + esc(rack.name) + '</td><td>' + esc(n.name) +
          (n.local ? ' (this node)' : '') + '</td><td>' + range + '</td><td class="st" data-state="' + st + '">' + esc(n.state) + (move ? ' · ' + esc(move) : '') + '</td></tr>');
      });
    }
    $('tbody', table).innerHTML = rows.join('');
    table.hidden = false;
    repl.hidden = false;
    repl.innerHTML = '<div class="fig"><b>' + fmt(c.replication.queued) + '</b><span>cross-DC queue (bytes)</span></div>' +
      '<div class="fig"><b>' + fmt(c.replication.forwarded) + '</b><span>cross-DC writes sent</span></div>' +
      '<div class="fig"><b>' + fmt(c.replication.dropped) + '</b><span>cross-DC writes dropped</span></div>' + moveFigs(c.move) + warmUpFigs(c.warmUp);
  }

  function moveFigs(m) {
    if (!m || m.phase === 'idle') return '';
    const secs = ((m.finishedAt || Date.now()) - m.startedAt) / 1000;
    return '<div class="fig" id="ring-move"><b>' + esc(m.phase) + '</b><span>ring move ' + esc(m.from) + ' → ' + esc(m.to) + '</span></div>' +
      '<div class="fig"><b>' + secs.toFixed(0) + ' s</b><span>move ' + (m.finishedAt ? 'took' : 'running') + '</span></div>' +
      (m.lastError ? '<div class="fig"><b>!</b><span>' + esc(m.lastError) + '</span></div>' : '');
  }

  function warmUpFigs(w) {
    if (!w || (w.runs === 0 && w.phase === 'idle')) return '';
    return '<div class="fig" id="warm-up"><b>' + esc(w.phase) + '</b><span>warm-up / token move</span></div>' +
      '<div class="fig"><b>' + fmt(w.keysCopied) + ' / ' + fmt(w.keysExpected) + '</b><span>keys copied / expected</span></div>' +
      '<div class="fig"><b>' + fmt(w.bytesCopied) + '</b><span>bytes copied</span></div>' +
      '<div class="fig"><b>' + fmt(w.keysSkipped) + '</b><span>keys skipped (newer here)</span></div>' +
      '<div class="fig"><b>' + fmt(w.keysMirrored) + '</b><span>keys written meanwhile, read again</span></div>' +
      '<div class="fig"><b>' + fmt(w.keysPerSecond) + '</b><span>keys/s</span></div>' +
      '<div class="fig"><b>' + (w.phase === 'writes_only' || w.phase === 'joining' || w.phase === 'leaving' ? w.etaSeconds + ' s' : '–') + '</b><span>copy ETA</span></div>';
  }

  function render(s) {
    const st = $('#node-state');
    st.textContent = s.node.state;
    st.dataset.state = s.node.state;
    $('#node-name').textContent = s.node.name;
    const tokens = s.node.tokens.length ? s.node.tokens.join(', ') : 'none (standalone pool)';
    $('#tree').innerHTML = 'datacenter <b>' + esc(s.node.dc) + '</b> › rack <b>' + esc(s.node.rack) + '</b> › node <b>' + esc(s.node.name) +
      '</b> <span class="badge" data-state="' + esc(s.node.state) + '">' + esc(s.node.state) + '</span> · tokens ' + esc(tokens) +
      ' · up ' + s.node.uptime + ' s · workers ' + s.node.workers + ' (restarts ' + s.node.workerRestarts + ')';
    renderCluster(s.cluster);
    for (const p of s.pools) poolCard(p);
    $('#workers tbody').innerHTML = s.workers.map((w) =>
      '<tr><td>' + w.id + '</td><td>' + (w.alive ? 'yes' : 'no') + '</td><td>' + w.restarts + '</td><td>' + w.loopDelayP99Ms.toFixed(2) + ' ms</td></tr>').join('');
    document.body.dataset.updates = String(Number(document.body.dataset.updates || 0) + 1);
  }

  // With admin_read_token set, open the page as /dashboard#token=<token>: the fragment never leaves the browser, and the stream is
  // read by fetch with an Authorization header (EventSource cannot send one). The page itself never changes the node.
  const fromHash = new URLSearchParams(location.hash.slice(1)).get('token');
  if (fromHash) { sessionStorage.setItem('dynoproxy-admin-token', fromHash); history.replaceState(null, '', location.pathname); }
  const token = sessionStorage.getItem('dynoproxy-admin-token');
  const live = (data) => { $('#conn').textContent = 'live'; render(JSON.parse(data)); };
  if (!token) {
    const es = new EventSource('/events');
    es.addEventListener('snapshot', (e) => live(e.data));
    es.onerror = () => { $('#conn').textContent = 'reconnecting… (if admin_read_token is set, open /dashboard#token=<token>)'; };
  } else {
    const run = async () => {
      try {
        const r = await fetch('/events', { headers: { authorization: 'Bearer ' + token }, cache: 'no-store' });
        if (r.status === 401) { $('#conn').textContent = 'token refused (open /dashboard#token=<admin_read_token>)'; sessionStorage.removeItem('dynoproxy-admin-token'); return; }
        if (!r.ok || !r.body) throw new Error(String(r.status));
        const rd = r.body.getReader();
        const dec = new TextDecoder();
        let buf = '';
        for (;;) {
          const { value, done } = await rd.read();
          if (done) break;
          buf += dec.decode(value, { stream: true });
          let i;
          while ((i = buf.indexOf('\\n\\n')) >= 0) {
            const block = buf.slice(0, i);
            buf = buf.slice(i + 2);
            if (!/^event: snapshot$/m.test(block)) continue;
            const data = block.split('\\n').filter((l) => l.startsWith('data: ')).map((l) => l.slice(6)).join('\\n');
            if (data) live(data);
          }
        }
      } catch { /* reconnect below */ }
      $('#conn').textContent = 'reconnecting…';
      setTimeout(run, 2000);
    };
    run();
  }
})();
</script>
</body>
</html>
`;

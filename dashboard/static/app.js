// gridswarm dashboard: vanilla JavaScript, no framework, nothing fetched
// from anywhere but this daemon. Every call goes through the daemon's own
// JSON-RPC over one WebSocket, authenticated by the HttpOnly session cookie
// that /login set (page scripts never see a credential). Text that comes
// from peers (agents, reasons) is only ever inserted as text, never as HTML.
'use strict';

// ---------- DOM helpers ----------
const SVGNS = 'http://www.w3.org/2000/svg';

function el(tag, attrs, ...kids) {
  const e = document.createElement(tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}

function svg(tag, attrs, ...kids) {
  const e = document.createElementNS(SVGNS, tag);
  setAttrs(e, attrs);
  append(e, kids);
  return e;
}

function setAttrs(e, attrs) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === 'onclick') e.addEventListener('click', v);
    else e.setAttribute(k, v === true ? '' : String(v));
  }
}

function append(e, kids) {
  for (const k of kids.flat(Infinity)) {
    if (k === undefined || k === null || k === false) continue;
    e.append(k instanceof Node ? k : document.createTextNode(String(k)));
  }
}

function kv(pairs) {
  const dl = el('dl', { class: 'kv' });
  for (const [k, v] of pairs) dl.append(el('dt', {}, k), el('dd', {}, v));
  return dl;
}

function table(id, head, rows) {
  return el('div', { class: 'scroll' }, el('table', { id },
    // A heading written 'name|cls' gets the class too (hide-sm hides the
    // column on a phone, so headings and cells must agree).
    el('thead', {}, el('tr', {}, head.map((h) => { const [t, c] = h.split('|'); return el('th', { class: c }, t); }))),
    el('tbody', {}, rows)));
}

// ---------- formatting ----------
function bytes(n) {
  if (!n) return '0 B';
  const u = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  while (n >= 1024 && i < u.length - 1) { n /= 1024; i++; }
  return (i ? n.toFixed(1) : n) + ' ' + u[i];
}
function secs(s) {
  if (s === undefined || s === null || isNaN(s)) return '–';
  if (s < 1) return Math.round(s * 1000) + ' ms';
  if (s < 120) return s.toFixed(1) + ' s';
  if (s < 7200) return (s / 60).toFixed(1) + ' min';
  return (s / 3600).toFixed(1) + ' h';
}
function short(id) { return id ? '…' + id.slice(-8) : ''; }
function peerCell(id) { return el('span', { class: 'mono nowrap', title: id }, short(id)); }
function num(x, d) { return x === undefined || x === null ? '–' : Number(x).toFixed(d); }
function pct(x) { return x ? (100 * x).toFixed(1) + '%' : '–'; }
function when(t) { return t ? new Date(t).toLocaleString() : '–'; }

// tokens writes an amount of base units (a decimal integer string, as
// every settle_ result gives them) as whole tokens, exactly: BigInt, never
// a float, and the same digits as the CLI (internal/units.Tokens).
function tokens(v, decimals, symbol) {
  let n;
  try { n = BigInt(v); } catch { return v === undefined || v === null || v === '' ? '–' : String(v); }
  const neg = n < 0n;
  if (neg) n = -n;
  const d = Number(decimals) || 0;
  const unit = 10n ** BigInt(d);
  const frac = (n % unit).toString().padStart(d, '0').replace(/0+$/, '');
  return (neg ? '-' : '') + (n / unit).toString() + (frac ? '.' + frac : '') + (symbol ? ' ' + symbol : '');
}
function big(v) { try { return BigInt(v); } catch { return 0n; } }
function unix(s) { return s ? new Date(s * 1000).toLocaleString() : '–'; }

// ---------- JSON-RPC over WebSocket ----------
class RPC {
  constructor(url, onState) {
    this.url = url;
    this.onState = onState;
    this.id = 0;
    this.pending = new Map();
    this.subs = new Map();
    this.open = null;
    this.retry = 500;
  }

  connect() {
    if (this.open) return this.open;
    this.open = new Promise((resolve, reject) => {
      const ws = new WebSocket(this.url);
      ws.onopen = () => { this.ws = ws; this.retry = 500; this.onState('live'); resolve(); };
      ws.onmessage = (m) => this.receive(m.data);
      ws.onclose = () => {
        this.onState('closed');
        for (const p of this.pending.values()) p.reject(new Error('connection to the daemon closed'));
        this.pending.clear();
        const hadSubs = this.subs.size > 0;
        this.subs.clear();
        this.open = null;
        reject(new Error('cannot reach the daemon\'s WebSocket'));
        // Reconnect with backoff; pages re-subscribe on their next render.
        setTimeout(() => { this.connect().then(() => { if (hadSubs) route(); }, () => {}); }, this.retry);
        this.retry = Math.min(this.retry * 2, 10000);
      };
    });
    return this.open;
  }

  receive(data) {
    let msg;
    try { msg = JSON.parse(data); } catch { return; }
    if (msg.id !== undefined && this.pending.has(msg.id)) {
      const p = this.pending.get(msg.id);
      this.pending.delete(msg.id);
      if (msg.error) p.reject(new Error(msg.error.message));
      else p.resolve(msg.result);
      return;
    }
    if (msg.method && msg.method.endsWith('_subscription') && msg.params) {
      const cb = this.subs.get(msg.params.subscription);
      if (cb) cb(msg.params.result);
    }
  }

  async call(method, ...params) {
    await this.connect();
    const id = ++this.id;
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      this.ws.send(JSON.stringify({ jsonrpc: '2.0', id, method, params }));
    });
  }

  // subscribe(ns, name, params…, cb) → an unsubscribe function.
  async subscribe(ns, name, params, cb) {
    const subID = await this.call(ns + '_subscribe', name, ...params);
    this.subs.set(subID, cb);
    return () => {
      this.subs.delete(subID);
      this.call(ns + '_unsubscribe', subID).catch(() => {});
    };
  }
}

const rpc = new RPC((location.protocol === 'https:' ? 'wss://' : 'ws://') + location.host + '/', (s) => {
  const c = document.getElementById('conn');
  c.textContent = s === 'live' ? '● live' : '○ reconnecting';
  c.className = 'conn' + (s === 'live' ? ' live' : '');
});

// modules lists the daemon's JSON-RPC namespaces (rpc_modules), so pages
// for features that have not landed yet can say so.
let modulesP = null;
function modules() {
  modulesP = modulesP || rpc.call('rpc_modules').catch(() => ({}));
  return modulesP;
}

// ---------- page lifecycle ----------
// A page returns a cleanup function; timers and subscriptions end with it.
let cleanup = () => {};
let generation = 0;

function every(ms, fn) {
  let stopped = false;
  let t = null;
  const tick = async () => {
    if (stopped) return;
    try { await fn(); } catch (e) { showError(e); }
    if (!stopped) t = setTimeout(tick, ms);
  };
  tick();
  return () => { stopped = true; clearTimeout(t); };
}

function showError(e) {
  const main = document.getElementById('main');
  let box = document.getElementById('error');
  if (!box) {
    box = el('p', { id: 'error', class: 'notice bad' });
    main.prepend(box);
  }
  box.textContent = String(e && e.message ? e.message : e);
}

function replace(id, node) {
  const old = document.getElementById(id);
  if (old) old.replaceWith(node);
}

async function route() {
  cleanup();
  cleanup = () => {};
  const gen = ++generation;
  const hash = location.hash || '#/swarm';
  const [, page, arg] = hash.split('/');
  for (const a of document.querySelectorAll('#nav a')) {
    a.classList.toggle('on', a.dataset.page === page || (page === 'job' && a.dataset.page === 'jobs'));
  }
  const main = document.getElementById('main');
  main.replaceChildren(el('p', { class: 'muted' }, 'Loading…'));
  const pages = { swarm: swarmPage, data: dataPage, jobs: jobsPage, job: jobPage, wallet: walletPage, worker: workerPage };
  const fn = pages[page] || swarmPage;
  try {
    const c = await fn(main, arg && decodeURIComponent(arg));
    if (gen === generation) cleanup = c || (() => {});
    else if (c) c();
  } catch (e) {
    showError(e);
  }
}

// ---------- Swarm ----------
async function swarmPage(main) {
  main.replaceChildren(el('h1', {}, 'Swarm'),
    el('div', { class: 'cards' }, el('div', { class: 'card', id: 'node-card' }), el('div', { class: 'card', id: 'swarm-map' })),
    el('h2', {}, 'Peers'), el('div', { id: 'peers' }));
  return every(3000, async () => {
    const [st, peers, caps, rep] = await Promise.all([
      rpc.call('node_status'), rpc.call('peer_list'), rpc.call('peer_capabilities'), rpc.call('peer_reputation'),
    ]);
    const capOf = new Map((caps || []).map((c) => [c.peer_id, c]));
    const self = capOf.get(st.peer_id);
    replace('node-card', el('div', { class: 'card', id: 'node-card' }, el('h2', {}, 'This node'), kv([
      ['peer', el('span', { class: 'mono', id: 'self-id' }, st.peer_id)],
      ['version', st.version + ' (' + st.profile + ')'],
      ['uptime', secs(st.uptime_seconds)],
      ['peers', st.peers + ' connected, ' + st.routing_table_size + ' in the DHT'],
      ['executors', self ? (self.executors || []).join(', ') : '–'],
      ['slots', self ? self.slots_free + ' free of ' + self.slots : '–'],
    ])));
    const connected = (peers || []).filter((p) => p.connected);
    replace('swarm-map', el('div', { class: 'card', id: 'swarm-map' }, el('h2', {}, 'By latency'), latencyMap(connected)));
    const rows = (peers || []).map((p) => {
      const c = capOf.get(p.id) || {};
      const gpus = (c.gpus || []).map((g) => g.name).join(', ');
      return el('tr', { 'data-peer': p.id },
        el('td', {}, peerCell(p.id)),
        el('td', {}, p.connected ? el('span', { class: 'ok' }, 'yes') : el('span', { class: 'muted' }, 'no')),
        el('td', {}, p.rtt_ms ? num(p.rtt_ms, 1) + ' ms' : '–'),
        el('td', {}, (c.executors || []).join(', ') || '–'),
        el('td', { class: 'hide-sm' }, gpus || (c.peer_id ? 'none' : '–')),
        el('td', {}, c.peer_id ? c.slots_free + '/' + c.slots : '–'),
        el('td', {}, c.peer_id ? (c.idle ? 'idle' : el('span', { title: c.idle_reason || '' }, 'busy')) : '–'),
        el('td', {}, rep && rep[p.id] !== undefined ? num(rep[p.id], 2) : '–'),
        el('td', {}, spotRecord(p.reputation)),
        el('td', { class: 'hide-sm muted' }, p.agent || ''));
    });
    replace('peers', el('div', { id: 'peers' }, rows.length
      ? table('peers-table', ['peer', 'connected', 'RTT', 'executors', 'GPUs|hide-sm', 'slots', 'state', 'reputation', 'spot checks', 'agent|hide-sm'], rows)
      : el('p', { class: 'muted' }, 'No peers yet.')));
  });
}

// spotRecord summarises what this node's spot checks found of a peer
// (peer_list's reputation): votes won of those checked, or the ban.
function spotRecord(r) {
  if (!r) return '–';
  if (r.banned) return el('span', { class: 'bad', title: r.ban_reason || '' }, 'BANNED');
  if (!r.checked) return el('span', { class: 'muted' }, r.run + ' run, none checked');
  return el('span', { class: r.lost ? 'bad' : 'ok' }, r.verified + '/' + r.checked + ' verified');
}

// latencyMap draws this node in the middle and each connected peer at a
// distance that grows with the logarithm of its round-trip time.
function latencyMap(peers) {
  const W = 320, R = 140, c = W / 2;
  const s = svg('svg', { viewBox: `0 0 ${W} ${W}`, width: W, height: W, role: 'img', 'aria-label': 'peers by round-trip time' });
  for (const ms of [1, 10, 100]) {
    const r = radius(ms, R);
    s.append(svg('circle', { cx: c, cy: c, r, fill: 'none', stroke: '#dde1e6' }),
      svg('text', { x: c + 3, y: c - r - 2 }, ms + ' ms'));
  }
  s.append(svg('circle', { cx: c, cy: c, r: 6, fill: '#2563eb' }));
  peers.forEach((p, i) => {
    const a = (2 * Math.PI * i) / Math.max(peers.length, 1) - Math.PI / 2;
    const r = radius(p.rtt_ms || 100, R);
    const x = c + r * Math.cos(a), y = c + r * Math.sin(a);
    s.append(svg('line', { x1: c, y1: c, x2: x, y2: y, stroke: '#dde1e6' }),
      svg('circle', { cx: x, cy: y, r: 5, fill: '#d97706', class: 'peer-dot' }, svg('title', {}, p.id + ' ' + num(p.rtt_ms, 2) + ' ms')),
      svg('text', { x: x + 7, y: y + 4 }, short(p.id)));
  });
  return s;
}

function radius(ms, R) {
  // 0.1 ms at the centre ring, 1 s at the edge, log scale.
  const t = (Math.log10(Math.max(ms, 0.1)) + 1) / 4;
  return 12 + Math.min(Math.max(t, 0), 1) * (R - 12);
}

// ---------- Data ----------
async function dataPage(main) {
  main.replaceChildren(el('h1', {}, 'Data'), el('div', { id: 'data-stat', class: 'card' }), el('h2', {}, 'Pins'), el('div', { id: 'pins' }));
  return every(5000, async () => {
    const [st, pins] = await Promise.all([rpc.call('data_stat'), rpc.call('data_pins')]);
    const used = st.used_bytes, quota = st.quota_bytes;
    const share = quota ? Math.min(used / quota, 1) : 0;
    replace('data-stat', el('div', { id: 'data-stat', class: 'card' },
      el('p', {}, bytes(used) + ' used of ' + (quota ? bytes(quota) + ' (' + pct(share) + ')' : 'no quota')),
      quota ? usageBar(share) : null,
      kv([
        ['pinned', bytes(st.pinned_bytes) + ' in ' + st.pins + ' pins'],
        ['cached', bytes(st.cache_bytes) + ' in ' + st.cache_entries + ' entries (tasklet inputs, evicted first)'],
        ['blocks', st.blocks],
      ])));
    const rows = (pins || []).map((p) => el('tr', {},
      el('td', {}, p.name || '–'), el('td', {}, el('span', { class: 'mono' }, p.owner)),
      el('td', {}, el('span', { class: 'mono', title: p.cid }, p.cid.slice(0, 14) + '…')),
      el('td', {}, bytes(p.bytes)), el('td', { class: 'hide-sm' }, when(p.created))));
    replace('pins', el('div', { id: 'pins' }, rows.length
      ? table('pins-table', ['name', 'owner', 'CID', 'size', 'created|hide-sm'], rows) : el('p', { class: 'muted' }, 'Nothing pinned.')));
  });
}

// usageBar sets its width through the CSSOM: the page's CSP forbids
// inline style attributes.
function usageBar(share) {
  const fill = el('span');
  fill.style.width = (share * 100).toFixed(1) + '%';
  return el('div', { class: 'bar', id: 'usage-bar' }, fill);
}

// ---------- Jobs ----------
async function jobsPage(main) {
  main.replaceChildren(el('h1', {}, 'Jobs'), el('div', { id: 'jobs' }));
  return every(3000, async () => {
    const jobs = await rpc.call('job_list');
    const rows = (jobs || []).map((j) => el('tr', { 'data-job': j.id },
      el('td', {}, el('a', { href: '#/job/' + encodeURIComponent(j.id) }, j.name || j.id)),
      el('td', {}, j.status), el('td', {}, Math.min(j.round + (j.status === 'running' ? 1 : 0), j.rounds) + ' / ' + j.rounds),
      el('td', {}, pct(j.val_accuracy)), el('td', { class: 'hide-sm' }, j.waiting || j.error || '')));
    replace('jobs', el('div', { id: 'jobs' }, rows.length
      ? table('jobs-table', ['job', 'status', 'round', 'val. accuracy', 'note|hide-sm'], rows)
      : el('p', { class: 'muted' }, 'No jobs yet: gridswarm submit job.yaml')));
  });
}

async function jobPage(main, id) {
  main.replaceChildren(el('h1', {}, 'Job ', el('span', { class: 'mono' }, id)),
    el('div', { id: 'job-head', class: 'card' }),
    el('div', { id: 'job-payment-box' }),
    el('div', { class: 'cards' },
      el('div', { class: 'card' }, el('h2', {}, 'Loss'), el('div', { id: 'loss-chart' })),
      el('div', { class: 'card' }, el('h2', {}, 'Validation accuracy'), el('div', { id: 'acc-chart' }))),
    el('h2', {}, 'Spot checks'), el('div', { id: 'spot-checks', class: 'card' }),
    el('h2', {}, 'Rounds'), el('div', { id: 'rounds' }));
  let pending = null;
  const refresh = async () => {
    const j = await rpc.call('job_show', id);
    renderJob(j);
  };
  await refresh();
  // Every progress event may finish a round: fetch the job again, at most
  // a few times a second however fast events come.
  const unsub = await rpc.subscribe('job', 'progress', [id], () => {
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh().catch(showError); }, 250);
  });
  // The subscription covers changes; the slow poll covers a reconnect.
  const stop = every(10000, refresh);
  return () => { unsub(); stop(); clearTimeout(pending); };
}

function renderJob(j) {
  const spec = j.spec || {};
  const rounds = spec.rounds || (j.rounds || []).length;
  const done = (j.rounds || []).filter((r) => r.finished);
  const model = j.final_model || ((j.status === 'failed' || j.status === 'cancelled') && done.length ? j.weights : '');
  const links = model
    ? el('p', {}, el('a', { id: 'model-link', href: `/download/job/${encodeURIComponent(j.id)}/model.safetensors`, download: true }, 'Download the model'),
      ' (', el('span', { class: 'mono' }, model), ') · ',
      el('a', { id: 'provenance-link', href: `/download/job/${encodeURIComponent(j.id)}/provenance.json`, download: true }, 'provenance'))
    : el('p', { class: 'muted' }, 'The model can be downloaded here when the job is done.');
  replace('job-head', el('div', { id: 'job-head', class: 'card' }, kv([
    ['name', j.name],
    ['status', el('span', { id: 'job-status' }, j.status)],
    ['round', Math.min(done.length + (j.status === 'running' ? 1 : 0), rounds) + ' of ' + rounds],
    ['executor', spec.executor || 'builtin'],
    ['dataset', el('span', { class: 'mono' }, (j.dataset || {}).root || '–')],
    ['submitted', when(j.submitted)],
    ['test accuracy', pct(j.test_accuracy)],
    j.waiting ? ['waiting', j.waiting] : null,
    j.error ? ['error', el('span', { class: 'bad' }, j.error)] : null,
  ].filter(Boolean)), links));
  replace('job-payment-box', el('div', { id: 'job-payment-box' }, j.settlement ? paymentCard(j) : null));
  const charted = done.filter((r) => !r.validating); // a round's validation may still run beside the next
  const x = charted.map((r) => r.index + 1);
  replace('loss-chart', el('div', { id: 'loss-chart' }, chart([
    { name: 'training loss', cls: 'loss', pts: charted.map((r, i) => [x[i], r.loss]) },
    { name: 'validation loss', cls: 'val', pts: charted.map((r, i) => [x[i], r.val_loss]) },
  ], rounds, false)));
  replace('acc-chart', el('div', { id: 'acc-chart' }, chart([
    { name: 'validation accuracy', cls: 'acc', pts: charted.map((r, i) => [x[i], r.val_accuracy]) },
  ], rounds, true)));
  replace('spot-checks', spotChecks(j));
  replace('rounds', el('div', { id: 'rounds' }, [...(j.rounds || [])].reverse().map(roundView)));
}

// chart draws one panel: x is the round (numbered from 1, as job show and
// job watch number them), y its own axis. Each point is a circle.pt.
function chart(series, rounds, unit) {
  const W = 460, H = 236, L = 44, B = 26, T = 26, Rm = 10;
  const all = series.flatMap((s) => s.pts.filter((p) => p[1] !== undefined && p[1] !== null && isFinite(p[1])));
  const s = svg('svg', { viewBox: `0 0 ${W} ${H}`, class: 'chart', role: 'img' });
  let ymin = unit ? 0 : Math.min(...all.map((p) => p[1]), Infinity);
  let ymax = unit ? 1 : Math.max(...all.map((p) => p[1]), -Infinity);
  if (!all.length) { ymin = 0; ymax = 1; }
  if (ymax - ymin < 1e-9) { ymax += 0.5; ymin = Math.max(0, ymin - 0.5); }
  const xmax = Math.max(rounds || 1, 1);
  const X = (v) => L + ((v - 1) / Math.max(xmax - 1, 1)) * (W - L - Rm);
  const Y = (v) => T + (1 - (v - ymin) / (ymax - ymin)) * (H - T - B);
  for (let i = 0; i <= 4; i++) {
    const v = ymin + (i / 4) * (ymax - ymin);
    s.append(svg('line', { x1: L, x2: W - Rm, y1: Y(v), y2: Y(v), class: 'grid' }),
      svg('text', { x: 2, y: Y(v) + 4 }, unit ? (100 * v).toFixed(0) + '%' : v.toPrecision(3)));
  }
  const step = Math.max(1, Math.ceil(xmax / 10));
  for (let r = 1; r <= xmax; r += step) s.append(svg('text', { x: X(r) - 3, y: H - 8 }, r));
  series.forEach((ser, k) => {
    const pts = ser.pts.filter((p) => p[1] !== undefined && p[1] !== null && isFinite(p[1]));
    if (pts.length > 1) s.append(svg('polyline', { class: 'line ' + ser.cls, points: pts.map((p) => X(p[0]) + ',' + Y(p[1])).join(' ') }));
    for (const p of pts) {
      s.append(svg('circle', { class: 'pt ' + ser.cls, cx: X(p[0]), cy: Y(p[1]), r: 3, 'data-round': p[0] },
        svg('title', {}, `${ser.name}, round ${p[0]}: ${unit ? pct(p[1]) : num(p[1], 4)}`)));
    }
    s.append(svg('text', { x: L + k * 150, y: 12, class: ser.cls }, '— ' + ser.name));
  });
  if (!all.length) s.append(svg('text', { x: L + 10, y: H / 2 }, 'points appear as rounds finish'));
  return s;
}

// paymentCard is a paid job's money (job_show's settlement): the escrow,
// each payout root with what it pays each account as bars, and how the
// escrow closed.
function paymentCard(j) {
  const s = j.settlement, e = s.escrow || {};
  const amt = (v) => tokens(v, e.decimals, e.symbol);
  const per = e.per === 'sample' ? 'sample' : 'tasklet run';
  const c = s.closing;
  const prov = c && c.provenance;
  return el('div', { class: 'card', id: 'job-payment' }, el('h2', {}, 'Payment'),
    kv([
      ['deposit', el('span', { id: 'pay-deposit' }, amt(e.deposit))],
      ['price', [el('span', { id: 'pay-price' }, amt(e.price)), ' per verified ' + per]],
      ['royalty', e.royalty_bps ? (e.royalty_bps / 100) + '% to the owner of dataset token ' + e.dataset_token : 'none'],
      ['escrow', [el('span', { class: 'mono' }, e.id), ' on chain ' + e.chain_id + ', open until ' + unix(e.deadline)]],
      s.error ? ['error', el('span', { class: 'bad', id: 'pay-error' }, s.error)] : null,
    ].filter(Boolean)),
    el('h3', {}, 'Payout roots'),
    (s.batches || []).length
      ? el('div', { id: 'pay-roots' }, s.batches.map((b) => payoutRoot(b, amt)))
      : el('p', { class: 'muted', id: 'pay-roots' }, 'No root yet: rounds are paid one round after they end, five at a time, and the rest when the job ends.'),
    el('h3', {}, 'Closing'),
    c ? el('div', { id: 'pay-closing' }, kv([
      ['refund', [el('span', { id: 'pay-refund' }, amt(c.refund)), c.refund_tx ? el('span', { class: 'mono muted', title: c.refund_tx }, ' ' + short(c.refund_tx)) : null]],
      ['royalty', el('span', { id: 'pay-royalty' }, c.royalty ? amt(c.royalty) : 'none')],
      ['model token', el('span', { id: 'pay-model-token' }, c.model_token || '–')],
      ['provenance', prov ? [el('span', { class: 'mono', id: 'pay-provenance' }, prov), ' · ',
        el('a', { href: `/download/job/${encodeURIComponent(j.id)}/provenance.json`, download: true }, 'download the job\'s record')] : '–'],
    ])) : el('p', { class: 'muted', id: 'pay-closing' }, 'Open: the refund, royalty and model token come when the job ends.'));
}

// payoutRoot draws one root: a bar per account, as long as its share of
// the root's largest payout, labelled with the amount and the runs.
function payoutRoot(b, amt) {
  const ps = b.payouts || [];
  const most = ps.reduce((m, p) => (big(p.amount) > m ? big(p.amount) : m), 1n);
  const W = 460, row = 22, L = 96, R = 150;
  const pic = svg('svg', { viewBox: `0 0 ${W} ${row * ps.length + 4}`, class: 'payouts', role: 'img', 'aria-label': 'payouts per account' });
  ps.forEach((p, i) => {
    // Scaled in BigInt to thousandths, then to pixels: amounts exceed 2^53.
    const w = Number((big(p.amount) * 1000n) / most) / 1000 * (W - L - R);
    const y = 2 + i * row;
    pic.append(svg('g', { 'data-account': p.account },
      svg('text', { x: 0, y: y + 14 }, short(p.account)),
      svg('rect', { x: L, y: y + 3, width: Math.max(w, 1).toFixed(1), height: row - 8, rx: 3 }, svg('title', {}, p.account)),
      svg('text', { x: L + w + 6, y: y + 14, class: 'payout-amount' }, amt(p.amount) + ' · ' + p.tasklets + (p.tasklets === 1 ? ' run' : ' runs'))));
  });
  return el('div', { class: 'payout-root', 'data-batch': b.index },
    el('p', {}, el('strong', {}, 'Root ' + b.index), (b.through === 1 ? ' · round 1' : ` · rounds 1–${b.through}`) + ' · committed ', el('span', { class: 'committed' }, amt(b.committed)),
      ' · ', when(b.posted), ' · ', el('span', { class: 'mono', title: b.root }, short(b.root))),
    pic);
}

function roundView(r) {
  const dur = r.finished ? (new Date(r.finished) - new Date(r.started)) / 1000 : null;
  const rows = [];
  for (const t of r.tasklets || []) {
    const attempts = t.attempts || [];
    if (!attempts.length) {
      rows.push(el('tr', {}, el('td', {}, t.index), el('td', {}, '–'), el('td', {}, t.state), el('td', {}, '–'), el('td', {}, t.dropped || '')));
    }
    for (const a of attempts) {
      const took = a.ended ? (new Date(a.ended) - new Date(a.started)) / 1000 : null;
      rows.push(el('tr', {},
        el('td', {}, t.index), el('td', {}, peerCell(a.peer)),
        el('td', { class: a.outcome === 'done' ? 'ok' : (a.outcome === 'running' ? '' : 'bad') }, a.outcome),
        el('td', {}, took === null ? 'running' : secs(took)),
        el('td', { class: 'muted' }, a.why || '', a.outcome === 'done' && t.screened && a.peer === t.peer ? ' (kept out of the average: ' + t.screened + ')' : '')));
    }
  }
  const filtered = Object.entries(r.filtered || {});
  return el('details', { open: !r.finished || undefined, 'data-round': r.index + 1 },
    el('summary', {}, `Round ${r.index + 1}`, r.finished ? ` · loss ${num(r.loss, 4)} · ${r.validating ? 'validating' : 'val. accuracy ' + pct(r.val_accuracy)} · ${secs(dur)}` : ' · running',
      ` · ${(r.tasklets || []).length} tasklets`),
    table(null, ['tasklet', 'peer', 'outcome', 'time', 'placement / why'], rows),
    filtered.length ? el('div', {}, el('p', { class: 'muted' }, 'Not placed on:'),
      el('ul', {}, filtered.map(([p, why]) => el('li', {}, peerCell(p), ': ', why)))) : null);
}

// spotChecks lists the job's spot checks (tasklets run on several peers
// and voted on) with their verdicts, from the job's own state.
function spotChecks(j) {
  const rows = [];
  for (const r of j.rounds || []) {
    for (const t of r.tasklets || []) {
      const c = t.check;
      if (!c) continue;
      rows.push(el('tr', { 'data-check': `${r.index + 1}/${t.index}` },
        el('td', {}, `${r.index + 1} / ${t.index}`),
        el('td', {}, (c.results || []).map((x, i) => [i ? ', ' : '', peerCell(x.peer)])),
        el('td', {}, (c.results || []).length + ' of ' + c.need),
        el('td', { class: c.outcome === 'verified' ? 'ok' : (c.outcome ? 'bad' : '') }, c.outcome || 'running'),
        el('td', { class: 'muted' }, [(c.losers || []).length ? ['wrong: ', c.losers.map((p, i) => [i ? ', ' : '', peerCell(p)]), ' '] : '', (c.reasons || []).join('; ')])));
    }
  }
  return el('div', { id: 'spot-checks', class: 'card' }, rows.length
    ? table('spot-table', ['round / tasklet', 'peers', 'outputs', 'verdict', 'why'], rows)
    : el('p', { class: 'muted' }, 'No spot checks in this job yet (the coordinator draws them per tasklet; see verify.rate).'));
}

// ---------- Wallet ----------
async function walletPage(main) {
  main.replaceChildren(el('h1', {}, 'Wallet'), el('div', { id: 'wallet', class: 'card' }, 'Loading…'));
  const [info, id] = await Promise.all([settleInfo(), rpc.call('node_id')]);
  if (!info) {
    replace('wallet', el('div', { id: 'wallet', class: 'card' }, kv([['account', el('span', { class: 'mono' }, id.account)]]),
      el('p', { class: 'notice', id: 'settle-missing' }, 'Settlement is not available: this daemon settles on no chain. Set settle.backend (gridswarm config set settle.backend embedded, or rpc with settle.rpc_url) and restart it; balances, claims and stake then appear here.')));
    return null;
  }
  const tok = info.token || {};
  const amt = (v) => tokens(v, tok.decimals, tok.symbol);
  main.replaceChildren(el('h1', {}, 'Wallet'),
    el('div', { class: 'cards', id: 'wallet' },
      el('div', { class: 'card' }, el('h2', {}, 'Account'),
        el('p', { class: 'mono', id: 'wallet-account' }, info.account), walletButtons(info)),
      el('div', { class: 'card', id: 'wallet-balance' }),
      stakeCard((kind) => stakeAction(kind, stake, refresh, tok)),
      el('div', { class: 'card', id: 'wallet-chain' })),
    el('h2', {}, 'Claims'),
    el('div', { class: 'card' }, el('div', { id: 'wallet-claims' }),
      el('p', {}, el('button', { id: 'claim-button', onclick: () => claim(amt) }, 'Claim'), ' ',
        el('span', { id: 'claim-result', class: 'muted' }, 'claims everything owed now in one transaction'))),
    el('h2', {}, 'Events'),
    el('ol', { id: 'wallet-events', class: 'card log' }, el('li', { class: 'muted' }, 'Payout roots, claims and slashes appear here as they happen.')));

  let pending = null;
  // What the stake card's buttons go by: the last settle_stakeOf and
  // settle_balance read, and whether a stake transaction is under way.
  const stake = { busy: false, last: null, bal: null };
  const refresh = async () => {
    const [bal, st, claims, fresh] = await Promise.all([
      rpc.call('settle_balance'), rpc.call('settle_stakeOf'), rpc.call('settle_claims'), rpc.call('settle_info')]);
    const eth = (info.add_chain && info.add_chain.nativeCurrency) || { symbol: 'ETH', decimals: 18 };
    replace('wallet-balance', el('div', { class: 'card', id: 'wallet-balance' }, el('h2', {}, 'Balance'), kv([
      [tok.name || 'token', el('span', { id: 'wallet-token' }, tokens(bal.token, bal.token_decimals, bal.token_symbol))],
      ['ether', el('span', { id: 'wallet-ether' }, tokens(bal.ether, eth.decimals, eth.symbol))],
      ['at block', bal.block],
    ])));
    replace('stake-figures', el('div', { id: 'stake-figures' }, kv([
      ['bonded', el('span', { id: 'stake-bonded' }, amt(st.bonded))],
      ['unbonding', el('span', { id: 'stake-unbonding' }, amt(st.unbonding))],
      ['unlocks', el('span', { id: 'stake-unlock' }, big(st.unbonding) > 0n ? unix(st.unlock_at) : '–')],
    ])));
    stake.last = st;
    stake.bal = bal;
    stakeControls(stake);
    replace('wallet-chain', chainCard(fresh));
    replace('wallet-claims', claimsTable(claims || [], amt));
  };
  await refresh();
  // Each event may change a balance or a claim: read them again, at most a
  // few times a second.
  const unsub = await rpc.subscribe('settle', 'events', [], (ev) => {
    logEvent(ev, amt);
    if (pending) return;
    pending = setTimeout(() => { pending = null; refresh().catch(showError); }, 250);
  });
  // What no event announces (a send, a stake from the CLI, new blocks)
  // shows within a few seconds.
  const stop = every(5000, refresh);
  return () => { unsub(); stop(); clearTimeout(pending); };
}

// stakeCard is built once per visit: a refresh replaces only the figures
// (#stake-figures), so the amount being typed and the last result stay.
function stakeCard(act) {
  return el('div', { class: 'card', id: 'wallet-stake' }, el('h2', {}, 'Stake'),
    el('div', { id: 'stake-figures' }),
    el('p', { class: 'stake-form' },
      // Text, not type=number: a number input reads "five" as "" and would
      // hide from the daemon (and so from the user) what was typed.
      el('input', { id: 'stake-amount', type: 'text', inputmode: 'decimal', autocomplete: 'off', placeholder: 'tokens, e.g. 2.5', 'aria-label': 'amount of tokens' }), ' ',
      el('button', { id: 'stake-button', type: 'button', onclick: () => act('stake') }, 'Stake'), ' ',
      el('button', { id: 'unstake-button', type: 'button', class: 'secondary', onclick: () => act('unstake') }, 'Unstake'), ' ',
      el('button', { id: 'withdraw-button', type: 'button', class: 'secondary', disabled: true, onclick: () => act('withdraw') }, 'Withdraw')),
    el('p', { id: 'stake-result', class: 'muted' }, 'Stake bonds tokens as this worker\'s pledge of honest work; Unstake starts the unbonding delay, after which Withdraw takes them out.'));
}

// canWithdraw says whether the Withdraw button is worth offering: something
// unbonds and its unlock time (unix seconds, the chain's clock) has passed
// by this browser's clock. The daemon still decides, and says why if not.
function canWithdraw(st, nowSeconds) {
  return !!st && big(st.unbonding) > 0n && Number(st.unlock_at) > 0 && Number(st.unlock_at) <= nowSeconds;
}

// stakeControls enables the stake card's buttons from what the page last
// read: none while a stake transaction runs (one at a time from one
// account), Withdraw only when canWithdraw.
function stakeControls(s) {
  const by = (id) => document.getElementById(id);
  for (const id of ['stake-button', 'unstake-button']) if (by(id)) by(id).disabled = s.busy;
  const w = by('withdraw-button');
  if (!w) return;
  const ok = canWithdraw(s.last, Date.now() / 1000);
  w.disabled = s.busy || !ok;
  w.title = ok || !s.last ? '' : (big(s.last.unbonding) > 0n ? 'unbonding until ' + unix(s.last.unlock_at) : 'nothing is unbonding');
}

// stakeAction runs settle_stake, settle_unstake or settle_withdraw with the
// typed amount as it is (the daemon judges it, and its words are shown
// unchanged), then reads the cards again and says what changed.
async function stakeAction(kind, s, refresh, tok) {
  const out = document.getElementById('stake-result');
  const typed = document.getElementById('stake-amount').value.trim();
  if (kind !== 'withdraw' && !typed) {
    out.className = 'bad';
    out.textContent = 'Type an amount of tokens to ' + kind + ' first, e.g. 2.5.';
    return;
  }
  const amt = (v) => tokens(v, tok.decimals, tok.symbol);
  const before = { st: s.last, bal: s.bal };
  s.busy = true;
  stakeControls(s);
  out.className = 'muted';
  out.textContent = { stake: 'staking', unstake: 'unstaking', withdraw: 'withdrawing' }[kind] + '…';
  let r;
  try {
    r = kind === 'withdraw' ? await rpc.call('settle_withdraw') : await rpc.call('settle_' + kind, typed);
    out.className = 'ok';
    out.replaceChildren({ stake: 'staked ', unstake: 'started unbonding ', withdraw: 'withdrew ' }[kind],
      el('span', { id: 'stake-done' }, amt(r.amount)), ' in ', el('span', { class: 'mono', id: 'stake-tx' }, r.tx), ' (block ' + r.block + ')');
  } catch (e) {
    out.className = 'bad';
    out.textContent = e.message;
  }
  // Read the cards again either way (a refused call may follow a change
  // made elsewhere), then free the buttons.
  try {
    await refresh();
    if (r) out.append(stakeChanges(before, { st: s.last, bal: s.bal }, tok));
  } catch (e) {
    showError(e);
  } finally {
    s.busy = false;
    stakeControls(s);
  }
}

// stakeChanges writes what changed between the figures read before and
// after a stake transaction (anything done elsewhere meanwhile shows too).
function stakeChanges(a, b, tok) {
  if (!a.st || !b.st || !a.bal || !b.bal) return '';
  const n = (v) => tokens(v, tok.decimals);
  const parts = [['bonded', a.st.bonded, b.st.bonded], ['unbonding', a.st.unbonding, b.st.unbonding], ['balance', a.bal.token, b.bal.token]]
    .filter(([, x, y]) => big(x) !== big(y))
    .map(([k, x, y]) => k + ' ' + n(x) + ' → ' + n(y) + (tok.symbol ? ' ' + tok.symbol : ''));
  return parts.length ? el('span', { id: 'stake-changes' }, ': ' + parts.join(', ')) : '';
}

// settleInfo is settle_info, or null when this daemon settles on no chain:
// its settle_ namespace is there but answers "settlement is off" (an older
// daemon has no such namespace at all).
async function settleInfo() {
  const mods = await modules();
  if (!mods.settle) return null;
  try {
    return await rpc.call('settle_info');
  } catch (e) {
    if (/settlement is off/.test(e.message)) return null;
    throw e;
  }
}

// walletButtons hands the chain and the token to a browser wallet
// (EIP-3085, EIP-747) exactly as settle_info words them; without a wallet
// in the page there is nothing to hand them to.
function walletButtons(info) {
  if (!window.ethereum) return null;
  const out = el('span', { id: 'wallet-add-result', class: 'muted' });
  const ask = (method, params) => () => window.ethereum.request({ method, params })
    .then(() => { out.textContent = ' ' + method + ': done'; }, (e) => { out.textContent = ' ' + method + ': ' + (e && e.message ? e.message : e); });
  return el('p', {},
    el('button', { id: 'add-chain', class: 'secondary', onclick: ask('wallet_addEthereumChain', [info.add_chain]) }, 'Add network to wallet'), ' ',
    el('button', { id: 'add-token', class: 'secondary', onclick: ask('wallet_watchAsset', info.watch_asset) }, 'Add token to wallet'), out);
}

function chainCard(info) {
  const c = info.contracts || {};
  const addr = (a) => el('span', { class: 'mono', title: a }, a ? a.slice(0, 8) + '…' + a.slice(-6) : '–');
  return el('div', { class: 'card', id: 'wallet-chain' }, el('h2', {}, 'Chain'), kv([
    ['chain', [el('span', { id: 'chain-id' }, String(info.chain_id)), ' (' + info.backend + ')']],
    ['head', el('span', { id: 'chain-head' }, String(info.head))],
    ['RPC', el('span', { class: 'mono' }, (info.rpc_urls || []).join(' '))],
    ['token', [addr(c.token), ' ' + ((info.token || {}).symbol || '')]],
    ['escrow', addr(c.escrow)], ['stake', addr(c.stake)], ['registry', addr(c.registry)],
  ]));
}

function claimsTable(claims, amt) {
  const rows = claims.map((c) => el('tr', { 'data-job': c.job, 'data-escrow': c.escrow_id },
    el('td', {}, el('a', { href: '#/job/' + encodeURIComponent(c.job) }, c.job)),
    el('td', { class: 'amount' }, amt(c.amount)), el('td', { class: 'claimed' }, amt(c.claimed)),
    el('td', { class: 'claimable' + (big(c.claimable) > 0n ? ' ok' : '') }, amt(c.claimable)),
    el('td', {}, c.tasklets), el('td', {}, c.batch + ' · ', c.stale ? el('span', { class: 'bad', title: 'the chain holds a newer root; its notice has not come yet' }, 'stale') : 'current')));
  return el('div', { id: 'wallet-claims' }, rows.length
    ? table('claims-table', ['job', 'amount', 'claimed', 'claimable', 'tasklets', 'root'], rows)
    : el('p', { class: 'muted' }, 'No payout root pays this account yet.'));
}

async function claim(amt) {
  const b = document.getElementById('claim-button');
  const out = document.getElementById('claim-result');
  b.disabled = true;
  out.className = 'muted';
  out.textContent = 'claiming…';
  try {
    const r = await rpc.call('settle_claim');
    out.className = 'ok';
    out.replaceChildren('claimed ', el('span', { id: 'claim-amount' }, amt(r.amount)), ' in ', el('span', { class: 'mono', id: 'claim-tx' }, r.tx), ' (block ' + r.block + ')');
  } catch (e) {
    out.className = 'bad';
    out.textContent = e.message;
  } finally {
    b.disabled = false;
  }
}

// logEvent puts a settle event at the top of the page's log (the last 50).
function logEvent(ev, amt) {
  const log = document.getElementById('wallet-events');
  if (!log) return;
  for (const m of log.querySelectorAll('li.muted')) m.remove();
  const what = {
    batch: () => ['payout root ', ev.batch, ' of job ', ev.job, ' pays ', amt(ev.amount)],
    claim: () => ['claimed ', amt(ev.amount)],
    slash: () => ['slashed ', ev.account, ' ', amt(ev.amount)],
  }[ev.kind];
  log.prepend(el('li', { 'data-kind': ev.kind }, el('span', { class: 'muted' }, new Date().toLocaleTimeString() + ' '),
    el('strong', {}, ev.kind), ' ', what ? what() : JSON.stringify(ev), ev.tx ? [' · ', el('span', { class: 'mono', title: ev.tx }, short(ev.tx))] : null));
  while (log.children.length > 50) log.lastChild.remove();
}

// ---------- Worker ----------
async function workerPage(main) {
  main.replaceChildren(el('h1', {}, 'Worker'), el('div', { id: 'worker', class: 'card' }));
  return every(3000, renderWorker);
}

async function renderWorker() {
  const [w, earned] = await Promise.all([rpc.call('worker_status'), earnings()]);
  const p = w.probe || {};
  const gpus = (p.gpus || []).map((g) => `${g.name} (${bytes(g.memory_total)})`).join(', ') || (p.no_gpu_reason || 'none');
  const toggle = w.paused
    ? el('button', { id: 'worker-resume', onclick: () => rpc.call('worker_resume').then(renderWorker, showError) }, 'Resume')
    : el('button', { id: 'worker-pause', class: 'secondary', onclick: () => rpc.call('worker_pause').then(renderWorker, showError) }, 'Pause');
  replace('worker', el('div', { id: 'worker', class: 'card' }, kv([
    ['offers', w.enabled ? (w.executors || []).join(', ') : 'off (worker.enabled = false)'],
    ['state', el('span', { id: 'worker-state' }, w.paused ? 'paused' : (w.idle ? 'idle: accepting tasklets' : 'not idle' + (w.reason ? ': ' + w.reason : '')))],
    ['running', w.slots_in_use + ' of ' + w.slots + ' slots'],
    ['completed', w.completed + ' tasklets'],
    ['earned', el('span', { id: 'worker-earned' }, earned)],
    ['price', w.price_per_hour + ' per hour'],
    ['throughput', num(w.throughput, 0) + ' samples/s (builtin benchmark)'],
    ['CPU', p.cpu_cores + ' cores, ' + bytes(p.memory_available) + ' of ' + bytes(p.memory_total) + ' memory free'],
    ['GPUs', gpus],
    ['disk free', bytes(p.disk_free)],
  ]), el('p', {}, toggle)));
}

// earnings is what this node's account was paid (claimed) over the payout
// roots that pay it, and what it could claim now.
async function earnings() {
  const info = await settleInfo();
  if (!info) return 'settlement is not available yet';
  const claims = await rpc.call('settle_claims');
  const tok = info.token || {};
  let claimed = 0n, claimable = 0n;
  for (const c of claims || []) { claimed += big(c.claimed); claimable += big(c.claimable); }
  const jobs = (claims || []).length;
  return tokens(claimed.toString(), tok.decimals, tok.symbol) + ' claimed' +
    (claimable > 0n ? ' + ' + tokens(claimable.toString(), tok.decimals, tok.symbol) + ' claimable' : '') +
    ' (' + jobs + (jobs === 1 ? ' paid job' : ' paid jobs') + '; see Wallet)';
}

// ---------- start ----------
async function start() {
  // One plain HTTP call first: a 401 means no session, and says what to do.
  const res = await fetch('/', { method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ jsonrpc: '2.0', id: 0, method: 'node_version', params: [] }) });
  if (res.status === 401 || res.status === 403) {
    document.getElementById('main').replaceChildren(el('div', { class: 'notice', id: 'login-needed' },
      el('h1', {}, 'Not logged in'),
      el('p', {}, 'Run ', el('code', {}, 'gridswarm dashboard'), ' on this machine: it opens this page with a one-time login link.')));
    return;
  }
  window.addEventListener('hashchange', route);
  route();
}

start().catch(showError);

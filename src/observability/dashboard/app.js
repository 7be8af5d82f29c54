// The Gatehouse dashboard: polls /debug/state (the served table, health, conditions,
// certificates) and /metrics (Prometheus text, differenced into rates per Ingress) on the admin
// server that serves this file. Plain JavaScript, no build step, no requests elsewhere. Data is
// put into the page with textContent only: hosts, paths and messages are user input.

const POLL_MS = 1000;

/** @param {string} tag @param {string | number} text @param {string} [cls] */
function cell(tag, text, cls) {
  const el = document.createElement(tag);
  el.textContent = String(text);
  if (cls) el.className = cls;
  return el;
}

/** Replaces the rows of table `id`'s body; each row is an array of cells (strings or elements). */
function fill(id, rows, empty) {
  const body = document.querySelector(`#${id} tbody`);
  const trs = rows.map((cells) => {
    const tr = document.createElement('tr');
    for (const c of cells.cells ?? cells) tr.append(c instanceof Node ? c : cell('td', c));
    if (cells.key) tr.dataset.key = cells.key;
    return tr;
  });
  if (trs.length === 0) {
    const tr = document.createElement('tr');
    const td = cell('td', empty, 'note');
    td.colSpan = document.querySelectorAll(`#${id} thead th`).length;
    tr.append(td);
    trs.push(tr);
  }
  body.replaceChildren(...trs);
}

function set(id, text, cls) {
  const el = document.getElementById(id);
  el.textContent = String(text);
  el.className = cls ?? '';
}

function renderState(s) {
  set('generation', s.generation);
  set('ready', s.ready ? 'yes' : 'no', s.ready ? 'up' : 'bad');
  set('leader', s.leader === null || s.leader === undefined ? 'n/a (local mode)' : s.leader ? 'yes' : 'no');
  set('workers', Array.isArray(s.workers) ? s.workers.length : '…');
  set('updated', new Date().toLocaleTimeString());
  const routes = [];
  for (const h of s.hosts) {
    const name = h.host === '' ? '(any host)' : h.host;
    for (const r of h.routes) {
      routes.push({ key: `${h.host} ${r.match} ${r.path}`, cells: [name + (h.tls ? ' (TLS)' : ''), r.path, r.match, r.ingress, r.backend, [r.sslRedirect ? 'ssl-redirect' : '', ...r.policies].filter(Boolean).join(', ')] });
    }
    if (h.defaultBackend) routes.push([name, '(unmatched)', 'default', '', h.defaultBackend, '']);
  }
  if (s.defaultBackend) routes.push(['(no host)', '(unmatched)', 'default', '', s.defaultBackend, '']);
  fill('routes', routes, 'no routes');
  fill(
    'backends',
    s.backends.map((b) => {
      const eps = document.createElement('td');
      if (b.endpoints.length === 0) eps.append(cell('span', 'no ready endpoint (503)', 'bad'));
      for (const e of b.endpoints) {
        const div = cell('div', `${e.address}:${e.port} ${e.state}`, e.state);
        div.title = e.why;
        eps.append(div);
      }
      return { key: b.id, cells: [b.id, b.health, eps] };
    }),
    'no backends',
  );
  fill(
    'conditions',
    s.conditions.map((c) => [`${c.ref.kind} ${c.ref.namespace ? `${c.ref.namespace}/` : ''}${c.ref.name}`, c.code, c.field, c.message]),
    'no conditions',
  );
  fill(
    'certificates',
    s.certificates.map((c) => [c.secret + (c.default ? ' (default)' : ''), c.hosts.join(', '), c.notAfter, cell('td', c.daysLeft, c.daysLeft < 14 ? 'soon num' : 'num')]),
    'no certificates from Secrets (the self-signed default serves)',
  );
}

// ---- /metrics --------------------------------------------------------------------------------

const LABELS = /([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g;

/** Sums gatehouse_requests_total by Ingress: { total, c4xx, c5xx } keyed `namespace/ingress`. */
function requestCounts(text) {
  const out = new Map();
  for (const line of text.split('\n')) {
    if (!line.startsWith('gatehouse_requests_total{')) continue;
    const close = line.lastIndexOf('}');
    const labels = {};
    for (const m of line.slice(line.indexOf('{') + 1, close).matchAll(LABELS)) labels[m[1]] = m[2].replace(/\\(.)/g, (_, c) => (c === 'n' ? '\n' : c));
    const value = Number(line.slice(close + 1).trim().split(/\s+/)[0]);
    if (!Number.isFinite(value)) continue;
    const key = `${labels.namespace ?? ''}/${labels.ingress ?? ''}`;
    const c = out.get(key) ?? { total: 0, c4xx: 0, c5xx: 0 };
    c.total += value;
    if (labels.status_class === '4xx') c.c4xx += value;
    if (labels.status_class === '5xx') c.c5xx += value;
    out.set(key, c);
  }
  return out;
}

let previous = null;

async function pollMetrics() {
  let res;
  try {
    res = await fetch('/metrics', { cache: 'no-store' });
  } catch {
    set('rates-note', 'metrics not available (the admin server did not answer)', 'note');
    return;
  }
  if (!res.ok) {
    set('rates-note', `metrics not available (/metrics answered ${res.status})`, 'note');
    fill('rates', [], 'metrics not available');
    return;
  }
  const now = performance.now();
  const counts = requestCounts(await res.text());
  if (previous !== null) {
    const dt = (now - previous.at) / 1000;
    const rows = [...counts.entries()].sort(([a], [b]) => (a < b ? -1 : 1)).map(([key, c]) => {
      const p = previous.counts.get(key) ?? { total: 0, c4xx: 0, c5xx: 0 };
      const rate = (a, b) => cell('td', Math.max(0, (a - b) / dt).toFixed(1), 'num rate');
      return { key, cells: [key === '/' ? '(no Ingress)' : key, rate(c.total, p.total), rate(c.c4xx, p.c4xx), rate(c.c5xx, p.c5xx), cell('td', c.total, 'num')] };
    });
    fill('rates', rows, 'no requests yet');
    set('rates-note', `from gatehouse_requests_total, over the last ${dt.toFixed(1)} s`, 'note');
  }
  previous = { at: now, counts };
}

async function pollState() {
  try {
    const res = await fetch('/debug/state', { cache: 'no-store' });
    if (!res.ok) throw new Error(`/debug/state answered ${res.status}`);
    renderState(await res.json());
    document.getElementById('error').hidden = true;
  } catch (err) {
    const e = document.getElementById('error');
    e.textContent = `cannot reach Gatehouse: ${err.message}`;
    e.hidden = false;
  }
}

async function loop() {
  await Promise.all([pollState(), pollMetrics()]);
  setTimeout(loop, POLL_MS);
}

document.getElementById('explain-form').addEventListener('submit', async (event) => {
  event.preventDefault();
  const url = document.getElementById('explain-url').value;
  const res = await fetch(`/debug/explain?format=text&url=${encodeURIComponent(url)}`, { cache: 'no-store' });
  document.getElementById('explain-out').textContent = await res.text();
});

loop();

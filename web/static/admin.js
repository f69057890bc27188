// The admin dashboard: live stock per warehouse and product (a WebSocket of
// every committed change), lots expiring soon, waste, receiving, orders and
// stuck sagas, and units sold per minute.
import { api, el, setLang, setToken, socket, state, t, toast, won } from './common.js';

const $ = (id) => document.getElementById(id);
const lots = new Map();       // lot id -> {id, product_id, warehouse_id, on_hand, state, expires_at}
let products = new Map();
let warehouses = new Map();
const soldPerMinute = new Map(); // minute -> units
let stop = null;

const pname = (id) => { const p = products.get(id); return p ? (state.lang === 'ko' ? p.name : (p.name_en || p.name)) : '#' + id; };
const wname = (id) => (warehouses.get(id) || { name: '#' + id }).name;

async function load() {
  const [ps, ws, ls] = await Promise.all([api('GET', '/api/v1/admin/products'), api('GET', '/api/v1/admin/warehouses'),
    api('GET', '/api/v1/admin/lots?limit=1000&state=REGULAR'), ]);
  const soon = await api('GET', '/api/v1/admin/lots?limit=1000&state=CLOSING_SOON');
  products = new Map(ps.map((p) => [p.id, p]));
  warehouses = new Map(ws.map((w) => [w.id, w]));
  lots.clear();
  for (const l of [...ls, ...soon]) lots.set(l.id, l);
  const sel = $('wh-filter'); const cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, t('all')), ...ws.map((w) => el('option', { value: w.id }, w.name)));
  sel.value = cur;
  $('recv-product').replaceChildren(...ps.map((p) => el('option', { value: p.id }, `${p.sku} · ${pname(p.id)}`)));
  $('recv-wh').replaceChildren(...ws.map((w) => el('option', { value: w.id }, w.name)));
  renderStock(); renderExpiring(); loadWaste(); loadOrders();
}

function renderStock(changed) {
  const filter = Number($('wh-filter').value) || 0;
  const rows = new Map(); // "w:p" -> {w, p, regular, deal}
  for (const l of lots.values()) {
    if (filter && l.warehouse_id !== filter) continue;
    const k = l.warehouse_id + ':' + l.product_id;
    const r = rows.get(k) || { w: l.warehouse_id, p: l.product_id, regular: 0, deal: 0 };
    if (l.state === 'REGULAR') r.regular += l.on_hand; else if (l.state === 'CLOSING_SOON') r.deal += l.on_hand;
    rows.set(k, r);
  }
  const sorted = [...rows.values()].sort((a, b) => a.w - b.w || a.p - b.p);
  $('stock').replaceChildren(...sorted.map((r) => el('tr', { id: `stock-${r.w}-${r.p}`, class: changed === `${r.w}:${r.p}` ? 'flash' : '' },
    el('td', {}, wname(r.w)), el('td', {}, pname(r.p)),
    el('td', { class: 'num', 'data-regular': r.regular }, r.regular), el('td', { class: 'num' }, r.deal))));
}

function renderExpiring() {
  const cutoff = Date.now() + 48 * 3600e3;
  const soon = [...lots.values()].filter((l) => new Date(l.expires_at) <= cutoff && l.state !== 'EXPIRED')
    .sort((a, b) => new Date(a.expires_at) - new Date(b.expires_at));
  $('expiring').replaceChildren(...soon.map((l) => el('tr', {},
    el('td', {}, l.id), el('td', {}, wname(l.warehouse_id)), el('td', {}, pname(l.product_id)),
    el('td', {}, new Date(l.expires_at).toLocaleString()), el('td', { class: 'num' }, l.on_hand), el('td', {}, l.state))));
}

function drawChart() {
  const c = $('chart'), g = c.getContext('2d');
  const now = Math.floor(Date.now() / 60e3);
  const mins = Array.from({ length: 30 }, (_, i) => now - 29 + i);
  const vals = mins.map((m) => soldPerMinute.get(m) || 0);
  const top = Math.max(1, ...vals);
  g.clearRect(0, 0, c.width, c.height);
  g.fillStyle = '#0a7c4a';
  const w = c.width / mins.length;
  vals.forEach((v, i) => { const h = (v / top) * (c.height - 20); g.fillRect(i * w + 2, c.height - h, w - 4, h); });
  g.fillStyle = '#333'; g.font = '12px sans-serif'; g.fillText(`max ${top}/min`, 4, 12);
}
setInterval(drawChart, 5000);

function follow() {
  if (stop) stop();
  stop = socket('/api/v1/admin/ws/stock?token=' + encodeURIComponent(state.token), (m) => {
    $('live').textContent = '● live';
    const before = lots.get(m.lot_id);
    if (before && m.on_hand < before.on_hand && m.state !== 'EXPIRED') {
      const min = Math.floor(Date.now() / 60e3);
      soldPerMinute.set(min, (soldPerMinute.get(min) || 0) + (before.on_hand - m.on_hand));
    }
    if (m.state === 'EXPIRED') lots.delete(m.lot_id);
    else lots.set(m.lot_id, { ...(before || {}), id: m.lot_id, product_id: m.product_id, warehouse_id: m.warehouse_id,
      on_hand: m.on_hand, state: m.state, expires_at: m.expires_at });
    renderStock(`${m.warehouse_id}:${m.product_id}`); renderExpiring(); drawChart();
    if (m.state === 'EXPIRED') loadWaste();
  });
}

async function loadWaste() {
  const r = await api('GET', '/api/v1/admin/waste');
  $('waste').replaceChildren(...r.rows.map((w) => el('tr', {}, el('td', {}, w.day), el('td', {}, w.warehouse), el('td', {}, w.region),
    el('td', { class: 'num' }, w.quantity), el('td', { class: 'num' }, won(w.value)))),
    el('tr', {}, el('td', {}, t('total')), el('td'), el('td'), el('td', { class: 'num' }, r.total_quantity), el('td', { class: 'num' }, won(r.total_value))));
}

async function loadOrders(stuck) {
  const st = $('order-status').value;
  const q = stuck ? '?stuck_for=5m' : (st ? '?status=' + st : '');
  const os = await api('GET', '/api/v1/admin/orders' + q);
  $('orders').replaceChildren(...os.map((o) => el('tr', {}, el('td', {}, o.order_id), el('td', {}, el('span', { class: 'status ' + o.status }, o.status)),
    el('td', { class: 'muted' }, o.reason || ''), el('td', { class: 'num' }, won(o.total)), el('td', { class: 'muted' }, new Date(o.updated_at).toLocaleString()))));
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await api('POST', '/api/v1/auth/login', { email: f.get('email'), password: f.get('password') });
    if (r.role !== 'admin') { toast('admin only'); return; }
    setToken(r.token); start();
  } catch (e) { toast(e.message); }
});
$('receive-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const l = await api('POST', '/api/v1/admin/lots', { product_id: Number(f.get('product_id')), warehouse_id: Number(f.get('warehouse_id')),
      quantity: Number(f.get('quantity')), expires_at: new Date(f.get('expires_at')).toISOString() });
    toast(`lot ${l.id}: ${l.state}`);
  } catch (e) { toast(`${e.code}: ${e.message}`); }
});
$('wh-filter').addEventListener('change', () => renderStock());
$('order-status').addEventListener('change', () => loadOrders());
$('stuck').addEventListener('click', () => loadOrders(true));
$('signout').addEventListener('click', () => { setToken(''); location.reload(); });
$('lang').addEventListener('click', () => { setLang(state.lang === 'ko' ? 'en' : 'ko'); $('lang').textContent = state.lang === 'ko' ? 'EN' : '한국어'; renderStock(); });

async function start() {
  setLang(state.lang);
  $('lang').textContent = state.lang === 'ko' ? 'EN' : '한국어';
  let ok = false;
  if (state.token) { try { ok = (await api('GET', '/api/v1/me')).role === 'admin'; } catch { setToken(''); } }
  $('auth').classList.toggle('hidden', ok);
  $('dash').classList.toggle('hidden', !ok);
  $('signout').classList.toggle('hidden', !ok);
  if (!ok) return;
  await load();
  follow();
  drawChart();
}
start();

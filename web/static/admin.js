// The admin dashboard: a live summary, charts (units sold per minute, waste
// per day, stock by warehouse and category, the expiry timeline), the stock
// table (filtered and paged, live over a WebSocket of every committed lot
// change), lots expiring soon, orders and receiving.
import {
  api, categoryText, dateTime, el, inDeals, localName, lotStateText, nameEl, num, productName,
  setLang, setToken, socket, state, statusText, t, timeLeft, toast, units, won, dayLabel,
} from './common.js';
import { bars, legend, stacked } from './charts.js';

const $ = (id) => document.getElementById(id);
const PAGE = 15;
const STATUSES = ['PAYMENT_READY', 'PROCESSING', 'PAID', 'FAILED', 'EXPIRED'];
const COLORS = ['#0a7c4a', '#2563eb', '#b45309', '#7c3aed', '#0e7490', '#be123c', '#4d7c0f', '#6b7280'];

const lots = new Map();       // lot id -> {id, product_id, warehouse_id, on_hand, state, expires_at}
let products = new Map();
let warehouses = new Map();
let summary = null;
let sales = null;             // {from, to, minutes: [{minute, units}]}
let waste = null;             // {rows, total_value, ...}
let risk = null;              // {at, weighed, at_risk, lots: [...]}
let orders = [];
let stuckOnly = false;
let page = 0;
let live = false;
let stop = null;

const pname = (id) => { const p = products.get(id); return p ? productName(p) : '#' + id; };
const wname = (id) => { const w = warehouses.get(id); return w ? localName(w.name) : '#' + id; };
const hhmm = (d) => `${String(d.getHours()).padStart(2, '0')}:${String(d.getMinutes()).padStart(2, '0')}`;

// liveLots reads the live lots, with the time it asked.
async function liveLots() {
  const askedAt = performance.now();
  const [ls, soon] = await Promise.all([api('GET', '/api/v1/admin/lots?limit=1000&state=REGULAR'), api('GET', '/api/v1/admin/lots?limit=1000&state=CLOSING_SOON')]);
  return { listed: [...ls, ...soon], askedAt };
}

async function load() {
  const [ps, ws, live] = await Promise.all([api('GET', '/api/v1/admin/products'), api('GET', '/api/v1/admin/warehouses'), liveLots()]);
  products = new Map(ps.map((p) => [p.id, p]));
  warehouses = new Map(ws.map((w) => [w.id, w]));
  mergeLots(live);
  renderFilters(); renderReceive(); renderStock(); renderExpiring(); renderExpiryChart();
  await Promise.all([loadSummary(), loadWaste(), loadOrders(), loadAtRisk()]);
}

// expiredAt is, per lot the socket said expired, the seq it said it at.
// Expiry is final: no listing or later message brings the lot back.
const expiredAt = new Map();

// mergeLots shows a listing's lots, each at the newest state known of it:
// a lot the socket told of after the listing was read keeps what the
// socket said (the lot's commit sequence, seq, tells which is newer), and
// one it told of after the listing was asked for (a lot just received)
// stays though the listing lacks it.
function mergeLots({ listed, askedAt }) {
  const next = new Map();
  for (const l of listed) {
    if (expiredAt.has(l.id)) continue; // expired is final: the listing was older
    const cur = lots.get(l.id);
    next.set(l.id, cur && cur.seq > l.seq ? cur : l);
  }
  for (const [id, l] of lots) if (!next.has(id) && l.heardAt > askedAt) next.set(id, l);
  lots.clear();
  for (const [id, l] of next) lots.set(id, l);
}

// reloadLots asks for the live lots again: the socket pushes changes only,
// so what changed while it was down is read back.
async function reloadLots() {
  try {
    mergeLots(await liveLots());
    renderStock(); renderExpiring(); renderExpiryChart();
  } catch (e) { toast(e.message); }
}

function renderFilters() {
  const keep = (sel, options) => { const cur = sel.value; sel.replaceChildren(...options); sel.value = cur; };
  keep($('wh-filter'), [el('option', { value: '' }, t('all')), ...[...warehouses.values()].map((w) => el('option', { value: w.id, translate: 'no' }, localName(w.name)))]);
  const cats = [...new Set([...products.values()].map((p) => p.category))].sort();
  keep($('cat-filter'), [el('option', { value: '' }, t('all')), ...cats.map((c) => el('option', { value: c }, categoryText(c)))]);
  keep($('state-filter'), [el('option', { value: '' }, t('all')), ...['REGULAR', 'CLOSING_SOON'].map((s) => el('option', { value: s }, lotStateText(s)))]);
  keep($('order-status'), [el('option', { value: '' }, t('all')), ...STATUSES.map((s) => el('option', { value: s }, statusText(s)))]);
}

function renderReceive() {
  const keep = (sel, options) => { const cur = sel.value; sel.replaceChildren(...options); if (cur) sel.value = cur; };
  keep($('recv-product'), [...products.values()].map((p) => el('option', { value: p.id, translate: 'no' }, `${p.sku} · ${productName(p)}`)));
  keep($('recv-wh'), [...warehouses.values()].map((w) => el('option', { value: w.id, translate: 'no' }, localName(w.name))));
}

// stockRows sums live lots by warehouse and product under the filters.
function stockRows() {
  const wh = Number($('wh-filter').value) || 0, cat = $('cat-filter').value, st = $('state-filter').value;
  const rows = new Map();
  for (const l of lots.values()) {
    if (wh && l.warehouse_id !== wh) continue;
    if (cat && products.get(l.product_id)?.category !== cat) continue;
    const k = l.warehouse_id + ':' + l.product_id;
    const r = rows.get(k) || { w: l.warehouse_id, p: l.product_id, regular: 0, deal: 0, next: null };
    if (l.state === 'REGULAR') r.regular += l.on_hand; else if (l.state === 'CLOSING_SOON') r.deal += l.on_hand;
    if (l.on_hand > 0 && (!r.next || new Date(l.expires_at) < new Date(r.next))) r.next = l.expires_at;
    rows.set(k, r);
  }
  return [...rows.values()].filter((r) => !st || (st === 'REGULAR' ? r.regular : r.deal) > 0)
    .sort((a, b) => a.w - b.w || a.p - b.p);
}

function renderStock(changed) {
  const rows = stockRows();
  const pages = Math.max(1, Math.ceil(rows.length / PAGE));
  page = Math.min(page, pages - 1);
  $('stock').replaceChildren(...rows.slice(page * PAGE, page * PAGE + PAGE).map((r) => el('tr', { id: `stock-${r.w}-${r.p}`, class: changed === `${r.w}:${r.p}` ? 'flash' : undefined },
    el('td', {}, nameEl(wname(r.w))), el('td', {}, nameEl(pname(r.p))), el('td', { class: 'narrow-hide' }, categoryText(products.get(r.p)?.category)),
    el('td', { class: 'num', 'data-regular': r.regular }, num(r.regular)), el('td', { class: 'num', 'data-deal': r.deal }, num(r.deal)),
    el('td', { class: 'narrow-hide' }, r.next ? dateTime(r.next) : '—'))));
  if (!rows.length) $('stock').replaceChildren(el('tr', {}, el('td', { colspan: 6, class: 'muted' }, t('empty'))));
  $('page').textContent = state.lang === 'ko' ? `${page + 1} / ${pages}${t('page')}` : `${t('page')} ${page + 1} / ${pages}`;
  $('prev').disabled = page === 0;
  $('next').disabled = page >= pages - 1;
}

function renderExpiring() {
  const now = Date.now(), cutoff = now + 48 * 3600e3;
  const soon = [...lots.values()].filter((l) => l.on_hand > 0 && new Date(l.expires_at) <= cutoff && l.state !== 'EXPIRED')
    .sort((a, b) => new Date(a.expires_at) - new Date(b.expires_at)).slice(0, 10);
  $('expiring').replaceChildren(...(soon.length ? soon.map((l) => el('li', {},
    el('div', { class: 'line-main' },
      nameEl(pname(l.product_id), 'name'),
      el('span', { class: 'muted' }, nameEl(wname(l.warehouse_id)), ` · ${t('lot')} ${l.id} · ${dateTime(l.expires_at)}`)),
    el('div', { class: 'line-end' }, el('strong', {}, units(l.on_hand)), el('span', { class: 'countdown' }, timeLeft(new Date(l.expires_at) - now)))))
    : [el('li', { class: 'muted' }, t('empty'))]));
}

function renderTiles() {
  if (!summary) return;
  const byWh = new Map();
  for (const c of summary.stock) {
    const w = byWh.get(c.warehouse_id) || { regular: 0, deal: 0 };
    w.regular += c.regular; w.deal += c.deal;
    byWh.set(c.warehouse_id, w);
  }
  const tile = (label, big, sub, alert) => el('div', { class: 'tile' + (alert ? ' alert' : '') },
    el('span', { class: 'muted' }, label), el('span', { class: 'big' }, big), sub ? el('span', { class: 'muted' }, sub) : null);
  const statusChips = el('div', { class: 'chips' }, ...STATUSES.map((s) => el('span', { class: 'chip', 'data-status': s }, `${statusText(s)} ${num(summary.orders_by_status[s] || 0)}`)));
  $('tiles').replaceChildren(
    ...[...byWh].map(([id, w]) => tile(nameEl(wname(id)), num(w.regular + w.deal), `${t('unitsOnHand')} · ${inDeals(w.deal)}`)),
    tile(t('lots48h'), num(summary.lots_expiring_48h), t('lotsCount'), false),
    tile(t('lots6h'), num(summary.lots_expiring_6h), t('lotsCount'), summary.lots_expiring_6h > 0),
    tile(t('wasteWeek'), won(summary.waste_week_value), units(summary.waste_week_quantity), summary.waste_week_value > 0),
    tile(t('stuckSagas'), num(summary.stuck_sagas), null, summary.stuck_sagas > 0),
    el('div', { class: 'tile wide' }, el('span', { class: 'muted' }, t('ordersByStatus')), statusChips));
}

function renderSalesChart() {
  if (!sales) return;
  const from = new Date(sales.from).getTime();
  const n = Math.round((new Date(sales.to).getTime() - from) / 60e3);
  const vals = new Array(n).fill(0);
  for (const m of sales.minutes) {
    const i = Math.round((new Date(m.minute).getTime() - from) / 60e3);
    if (i >= 0 && i < n) vals[i] += m.units;
  }
  const at = (i) => new Date(from + i * 60e3);
  const total = vals.reduce((a, b) => a + b, 0);
  bars($('sales-chart'), {
    values: vals, labelAt: (i) => (i % 5 === 0 ? hhmm(at(i)) : ''), tip: (i) => `${hhmm(at(i))}: ${units(vals[i])}`,
    fmt: num, integer: true, label: `${t('soldPerMinute')}: ${units(total)}`, empty: t('noData'),
  });
}

// renderWasteChart sets each day's write-offs beside what closing-soon
// sales brought in that day, across warehouses.
function renderWasteChart() {
  if (!waste) return;
  const today = new Date(); today.setUTCHours(0, 0, 0, 0);
  const days = Array.from({ length: 30 }, (_, i) => new Date(today.getTime() - (29 - i) * 86400e3));
  const byDay = new Map();
  for (const r of waste.rows) {
    const d = byDay.get(r.day) || [0, 0];
    d[0] += r.value; d[1] += r.deal_revenue || 0;
    byDay.set(r.day, d);
  }
  const vals = days.map((d) => byDay.get(d.toISOString().slice(0, 10)) || [0, 0]);
  const colors = ['#b93a0b', '#0a7c4a'], names = [t('wasteValue'), t('dealRevenue')];
  bars($('waste-chart'), {
    values: vals, labelAt: (i) => (i % 7 === 2 ? dayLabel(days[i]) : ''), tip: (i, j) => `${dayLabel(days[i])} · ${names[j]}: ${won(vals[i][j])}`,
    colorAt: (i, j) => colors[j], integer: true, fmt: (v) => (v < 10000 ? num(v) : state.lang === 'ko' ? `${num(v / 10000)}만` : `${num(v / 1000)}k`),
    label: `${t('wastePerDay')}: ${names[0]} ${won(waste.total_value)}, ${names[1]} ${won(waste.total_deal_revenue || 0)}`, empty: t('noData'),
  });
  legend($('waste-chart'), [[colors[0], `${names[0]} ${won(waste.total_value)}`], [colors[1], `${names[1]} ${won(waste.total_deal_revenue || 0)}`]]);
}

function renderCategoryChart() {
  if (!summary) return;
  const cats = [...new Set(summary.stock.map((c) => c.category))].sort();
  const rows = new Map();
  for (const c of summary.stock) {
    const r = rows.get(c.warehouse_id) || { label: wname(c.warehouse_id), parts: {} };
    r.parts[c.category] = (r.parts[c.category] || 0) + c.regular + c.deal;
    rows.set(c.warehouse_id, r);
  }
  stacked($('cat-chart'), {
    rows: [...rows.values()], keys: cats, colors: COLORS, keyLabel: categoryText, fmt: num,
    label: t('stockByCategory'), empty: t('noData'),
  });
}

function renderExpiryChart() {
  const now = Date.now(), step = 3 * 3600e3, n = 24;
  const vals = new Array(n).fill(0);
  for (const l of lots.values()) {
    const i = Math.floor((new Date(l.expires_at) - now) / step);
    if (i >= 0 && i < n && l.on_hand > 0) vals[i] += l.on_hand;
  }
  const hours = (i) => (i === 0 ? t('now') : state.lang === 'ko' ? `${i * 3}시간` : `${i * 3} h`);
  bars($('exp-chart'), {
    values: vals, labelAt: (i) => (i % 4 === 0 ? hours(i) : ''),
    tip: (i) => `${hours(i)}–${hours(i + 1)}: ${units(vals[i])}`,
    colorAt: (i) => (i < 2 ? '#be123c' : i < 16 ? '#b45309' : '#0a7c4a'), fmt: num, integer: true,
    label: `${t('expiryTimeline')}: ${units(vals.reduce((a, b) => a + b, 0))}`, empty: t('noData'),
  });
  legend($('exp-chart'), [['#be123c', t('lots6h')], ['#b45309', t('lots48h')], ['#0a7c4a', lotStateText('REGULAR')]]);
}

function renderCharts() { renderSalesChart(); renderWasteChart(); renderCategoryChart(); renderExpiryChart(); }

async function loadSummary() {
  try {
    [summary, sales] = await Promise.all([api('GET', '/api/v1/admin/dashboard'), api('GET', '/api/v1/admin/sales/per-minute?minutes=30')]);
    renderTiles(); renderSalesChart(); renderCategoryChart();
  } catch (e) { toast(e.message); }
}

async function loadWaste() {
  try { waste = await api('GET', '/api/v1/admin/waste'); renderWasteChart(); } catch (e) { toast(e.message); }
}

async function loadOrders() {
  const st = $('order-status').value;
  const q = stuckOnly ? '?stuck_for=5m' : (st ? '?status=' + st : '');
  try { ({ orders } = await api('GET', '/api/v1/admin/orders' + q)); renderOrders(); } catch (e) { toast(e.message); }
}

async function loadAtRisk() {
  riskLoadedAt = Date.now();
  try { risk = await api('GET', '/api/v1/admin/lots/at-risk?limit=15'); renderAtRisk(); } catch (e) { toast(e.message); }
}

// The at-risk list and the waste report are computed on the server from
// many rows, so they are fetched again at most every SLOW_EVERY ms: after
// stock changes (a sale changes a rate and adds markdown revenue) and once
// a minute (rates fade and time runs out).
const SLOW_EVERY = 15000;
let riskLoadedAt = 0, slowTimer = null;
function slowSoon() {
  if (slowTimer) return;
  slowTimer = setTimeout(() => { slowTimer = null; loadAtRisk(); loadWaste(); }, Math.max(1000, riskLoadedAt + SLOW_EVERY - Date.now()));
}

// hoursText says how long is left: minutes, hours up to three days, then days.
function hoursText(h) {
  if (h < 1) return state.lang === 'ko' ? `${Math.max(0, Math.floor(h * 60))}분` : `${Math.max(0, Math.floor(h * 60))} min`;
  if (h < 72) return state.lang === 'ko' ? `${Math.floor(h)}시간` : `${Math.floor(h)} h`;
  return state.lang === 'ko' ? `${Math.floor(h / 24)}일` : `${Math.floor(h / 24)} d`;
}

function renderAtRisk() {
  if (!risk) return;
  const rate = (l) => {
    const r = `${num(Math.round(l.rate_per_hour * 10) / 10)}${state.lang === 'ko' ? t('perHour') : ' ' + t('perHour')}`;
    return l.rate_source === 'none' ? t('rateNone') : `${t('sellRate')} ${r}${l.rate_source === 'product' ? ` (${t('rateProduct')})` : ''}`;
  };
  $('risk-note').textContent = `${t('riskNote')(num(risk.weighed), risk.within_hours, risk.window_hours, risk.half_life_hours)} · ${t('updatedAt')} ${hhmm(new Date(risk.at))}`;
  $('at-risk').replaceChildren(...(risk.lots.length ? risk.lots.map((l) => el('li', { id: 'risk-' + l.lot_id, 'data-action': l.action },
    el('div', { class: 'line-main' },
      nameEl(pname(l.product_id), 'name'),
      el('span', { class: 'muted' }, nameEl(wname(l.warehouse_id)),
        ` · ${t('lot')} ${l.lot_id} · ${t('timeLeft')} ${hoursText(l.hours_left)} · ${rate(l)}`)),
    el('div', { class: 'line-end' },
      el('strong', { 'data-value': l.value_at_risk }, won(l.value_at_risk)),
      el('span', { class: 'muted' }, `${t('expectedUnsold')} ${num(Math.round(l.expected_unsold))} / ${units(l.on_hand)}`),
      el('span', { class: 'action ' + l.action }, t(l.action)))))
    : [el('li', { class: 'muted' }, t('noneAtRisk'))]));
}

function renderOrders() {
  $('stuck').setAttribute('aria-pressed', stuckOnly);
  $('orders').replaceChildren(...(orders.length ? orders.slice(0, 30).map((o) => el('li', { id: 'order-' + o.order_id },
    el('div', { class: 'line-main' }, el('code', { translate: 'no' }, o.order_id), el('span', { class: 'muted' }, dateTime(o.updated_at))),
    el('span', { class: 'status ' + o.status, 'data-status': o.status }, statusText(o.status)),
    el('strong', { class: 'line-price' }, won(o.total))))
    : [el('li', { class: 'muted' }, t('empty'))]));
}

function renderLive() {
  $('live').classList.remove('hidden');
  $('live').classList.toggle('on', live);
  $('live').textContent = live ? t('live') : t('offline');
}

// refresh reloads the server's figures soon after a burst of changes.
let refreshTimer = null;
function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(() => { loadSummary(); loadOrders(); }, 800);
}

function follow() {
  if (stop) stop();
  stop = socket('/api/v1/admin/ws/stock?token=' + encodeURIComponent(state.token), (m) => {
    const before = lots.get(m.lot_id);
    // An expiry is final whatever its seq (a node that missed the real
    // one tells it with a seq of its own guessing).
    if (m.state !== 'EXPIRED' && before && m.seq && before.seq >= m.seq) return; // older than what is shown
    if (m.state === 'EXPIRED') { lots.delete(m.lot_id); expiredAt.set(m.lot_id, m.seq || 0); }
    else if (expiredAt.has(m.lot_id)) return; // a lot never comes back from expiry
    else lots.set(m.lot_id, { ...(before || {}), id: m.lot_id, product_id: m.product_id, warehouse_id: m.warehouse_id,
      on_hand: m.on_hand, state: m.state, expires_at: m.expires_at, seq: m.seq, heardAt: performance.now() });
    renderStock(`${m.warehouse_id}:${m.product_id}`); renderExpiring(); renderExpiryChart();
    refreshSoon(); slowSoon();
  }, (s) => {
    live = s === 'open'; renderLive();
    // Each opening (the first races the page's own load) reads the lots
    // again; of each lot the newer read is kept.
    if (live) reloadLots();
  });
}

function renderAll() {
  document.title = `ShelfLife · ${t('adminTitle')}`;
  renderFilters(); renderReceive(); renderStock(); renderExpiring(); renderTiles(); renderCharts(); renderOrders(); renderAtRisk();
  if (!$('live').classList.contains('hidden')) renderLive();
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const r = await api('POST', '/api/v1/auth/login', { email: f.get('email'), password: f.get('password') });
    setToken(r.token);
    if (!(await start())) toast(t('adminOnly'));
  } catch (e) { toast(e.message); }
});
$('receive-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const l = await api('POST', '/api/v1/admin/lots', { product_id: Number(f.get('product_id')), warehouse_id: Number(f.get('warehouse_id')),
      quantity: Number(f.get('quantity')), expires_at: new Date(f.get('expires_at')).toISOString() });
    toast(`${t('received')}: ${t('lot')} ${l.id} · ${lotStateText(l.state)}`);
  } catch (e) { toast(e.message); }
});
for (const id of ['wh-filter', 'cat-filter', 'state-filter']) $(id).addEventListener('change', () => { page = 0; renderStock(); });
$('prev').addEventListener('click', () => { page--; renderStock(); });
$('next').addEventListener('click', () => { page++; renderStock(); });
$('order-status').addEventListener('change', () => { stuckOnly = false; loadOrders(); });
$('stuck').addEventListener('click', () => { stuckOnly = !stuckOnly; loadOrders(); });
$('signout').addEventListener('click', () => { setToken(''); location.reload(); });
$('lang').addEventListener('click', () => { setLang(state.lang === 'ko' ? 'en' : 'ko'); renderAll(); });
let resizeTimer = null;
window.addEventListener('resize', () => { clearTimeout(resizeTimer); resizeTimer = setTimeout(renderCharts, 200); });
setInterval(() => { if (summary) { loadSummary(); loadOrders(); renderExpiring(); renderExpiryChart(); } }, 10000);
setInterval(() => { if (summary) slowSoon(); }, 60000);

async function start() {
  setLang(state.lang);
  document.title = `ShelfLife · ${t('adminTitle')}`;
  let ok = false;
  if (state.token) { try { ok = (await api('GET', '/api/v1/me')).role === 'admin'; } catch { setToken(''); } }
  $('auth').classList.toggle('hidden', ok);
  $('dash').classList.toggle('hidden', !ok);
  $('signout').classList.toggle('hidden', !ok);
  if (!ok) return false;
  follow();
  await load();
  return true;
}
start();

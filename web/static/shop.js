// The shopper storefront: address, products and closing-soon deals near it
// (quantities live over a WebSocket), cart, Kakao Pay checkout, orders.
import { api, el, setLang, setToken, socket, state, t, toast, won } from './common.js';

const $ = (id) => document.getElementById(id);
let me = null;
let addr = null;          // {lat, lng} the listings are for
let products = [];
let deals = [];
let stopStock = null;
let stopOrder = null;

function addrQuery() {
  // Signed-in shoppers browse at their saved address; visitors pass one.
  if (me && me.address) return '';
  return addr ? `?lat=${addr.lat}&lng=${addr.lng}` : null;
}

async function loadMe() {
  me = null;
  if (state.token) {
    try { me = await api('GET', '/api/v1/me'); } catch { setToken(''); }
  }
  $('who').textContent = me ? `${me.name} (${me.email})` : '';
  $('signout').classList.toggle('hidden', !me);
  $('auth').classList.toggle('hidden', !!me);
  if (me && me.address) {
    addr = { lat: me.address.lat, lng: me.address.lng };
    $('lat').value = addr.lat; $('lng').value = addr.lng;
  }
}

async function loadListings() {
  const q = addrQuery();
  if (q === null) { $('products').replaceChildren(el('p', { class: 'muted' }, t('address'))); return; }
  try {
    const [ps, ds, serving] = await Promise.all([
      api('GET', '/api/v1/products' + q), api('GET', '/api/v1/deals' + q), api('GET', '/api/v1/warehouses/serving' + q)]);
    products = ps; deals = ds;
    $('serving').textContent = serving.warehouses.length
      ? serving.warehouses.map((w) => w.name).join(', ') : t('noWarehouse');
    const cats = [...new Set(ps.map((p) => p.category))].sort();
    const sel = $('category');
    const cur = sel.value;
    sel.replaceChildren(el('option', { value: '' }, t('all')), ...cats.map((c) => el('option', { value: c }, c)));
    sel.value = cur;
    renderProducts(); renderDeals();
    followStock(q);
  } catch (e) { toast(e.message); }
}

function name(p) { return state.lang === 'ko' ? p.name : (p.name_en || p.name); }

function renderProducts() {
  const q = $('q').value.trim().toLowerCase();
  const cat = $('category').value;
  const shown = products.filter((p) => (!cat || p.category === cat) &&
    (!q || p.name.toLowerCase().includes(q) || (p.name_en || '').toLowerCase().includes(q)));
  $('products').replaceChildren(...shown.map((p) => el('article', { class: 'card' + (p.available ? '' : ' soldout'), id: 'product-' + p.id },
    el('span', { class: 'name' }, name(p)),
    el('span', { class: 'muted' }, p.category),
    el('span', { class: 'price' }, won(p.price)),
    el('span', { class: 'avail', 'aria-live': 'polite' }, p.available ? `${p.available} ${t('available')}` : t('soldout')),
    el('button', { disabled: !p.available || !me, 'aria-label': `${t('add')}: ${name(p)}`, onclick: () => addToCart({ product_id: p.id }) }, t('add')))));
}

function countdown(iso) {
  const ms = new Date(iso) - Date.now();
  if (ms <= 0) return '0:00:00';
  const h = Math.floor(ms / 3600e3), m = Math.floor(ms / 60e3) % 60, s = Math.floor(ms / 1e3) % 60;
  return `${h}:${String(m).padStart(2, '0')}:${String(s).padStart(2, '0')}`;
}

function renderDeals() {
  $('deals').replaceChildren(...(deals.length ? deals.map((d) => el('article', { class: 'card deal' + (d.available ? '' : ' soldout'), id: 'deal-' + d.lot_id },
    el('span', { class: 'badge' }, `-${d.discount_percent}% ${t('off')}`),
    el('span', { class: 'name' }, name(d)),
    el('span', { class: 'price' }, el('s', {}, won(d.price)), ' ', el('strong', {}, won(d.deal_price))),
    el('span', { class: 'countdown', 'data-expires': d.expires_at }, `${t('expiresIn')} ${countdown(d.expires_at)}`),
    el('span', { class: 'avail', 'aria-live': 'polite' }, d.available ? `${d.available} ${t('available')}` : t('soldout')),
    el('button', { disabled: !d.available || !me, 'aria-label': `${t('add')}: ${name(d)}`, onclick: () => addToCart({ lot_id: d.lot_id }) }, t('add'))))
    : [el('p', { class: 'muted' }, t('empty'))]));
}

setInterval(() => document.querySelectorAll('.countdown').forEach((c) => {
  c.textContent = `${t('expiresIn')} ${countdown(c.dataset.expires)}`;
}), 1000);

function followStock(q) {
  if (stopStock) stopStock();
  const tok = state.token ? (q ? '&' : '?') + 'token=' + encodeURIComponent(state.token) : '';
  stopStock = socket('/api/v1/ws/stock' + q + tok, (m) => {
    if (m.type === 'product') {
      const p = products.find((x) => x.id === m.product_id);
      if (!p || p.available === m.available) return;
      p.available = m.available;
      renderProducts();
      document.getElementById('product-' + p.id)?.classList.add('flash');
    } else if (m.type === 'deal') {
      const d = deals.find((x) => x.lot_id === m.lot_id);
      if (d) { d.available = m.available; renderDeals(); document.getElementById('deal-' + d.lot_id)?.classList.add('flash'); }
      else if (m.available > 0) loadListings();
    }
  });
}

async function addToCart(item) {
  try {
    const items = (await api('GET', '/api/v1/cart')).items;
    const key = item.lot_id ? 'l' + item.lot_id : 'p' + item.product_id;
    const cur = items.find((i) => i.key === key);
    renderCart(await api('PUT', '/api/v1/cart/items', { ...item, quantity: (cur ? cur.quantity : 0) + 1 }));
  } catch (e) { toast(e.message); }
}

function renderCart(cart) {
  $('cart').replaceChildren(...(cart.items.length ? cart.items.map((i) => el('tr', { 'data-key': i.key },
    el('td', {}, i.deal ? '⏰ ' : '', state.lang === 'ko' ? i.name : (i.name_en || i.name)),
    el('td', { class: 'num' }, '× ' + i.quantity),
    el('td', { class: 'num' }, won(i.line_total)),
    el('td', {}, el('button', { 'aria-label': 'remove', onclick: async () => renderCart(await api('DELETE', '/api/v1/cart/items/' + i.key)) }, '✕'))))
    : [el('tr', {}, el('td', { class: 'muted' }, t('empty')))]));
  $('cart-total').textContent = won(cart.total);
  $('checkout').disabled = !cart.items.length;
}

async function loadCart() {
  if (!me) { renderCart({ items: [], total: 0 }); return; }
  try { renderCart(await api('GET', '/api/v1/cart')); } catch (e) { toast(e.message); }
}

async function checkout() {
  try {
    const o = await api('POST', '/api/v1/orders', { from_cart: true });
    // Kakao Pay's QR page; after paying it sends the browser back to the
    // approval URL, which lands on #/orders/<id>.
    location.href = o.payment.redirect_url;
  } catch (e) { toast(`${e.code}: ${e.message}`); }
}

async function showOrder(id) {
  if (!me) return;
  try {
    const o = await api('GET', '/api/v1/orders/' + id);
    $('order-view').classList.remove('hidden');
    $('order-id').textContent = o.order_id;
    const setStatus = (s, r) => { $('order-status').textContent = s; $('order-status').className = 'status ' + s; $('order-reason').textContent = r || ''; };
    setStatus(o.status, o.reason);
    $('order-lines').replaceChildren(...o.lines.map((l) => el('tr', {},
      el('td', {}, l.kind === 'DEAL' ? '⏰ lot ' + l.lot_id : 'product ' + l.product_id),
      el('td', { class: 'num' }, '× ' + l.quantity), el('td', { class: 'num' }, won(l.unit_price * l.quantity)))));
    if (stopOrder) stopOrder();
    stopOrder = socket(`/api/v1/ws/orders/${id}?token=${encodeURIComponent(state.token)}`, (m) => {
      setStatus(m.status, m.reason);
      if (m.status === 'PAID' || m.status === 'FAILED') { loadOrders(); loadCart(); loadListings(); }
    });
  } catch (e) { toast(e.message); }
}

async function loadOrders() {
  if (!me) { $('orders').replaceChildren(); return; }
  const os = await api('GET', '/api/v1/orders');
  $('orders').replaceChildren(...os.map((o) => el('tr', {},
    el('td', {}, el('a', { href: '#/orders/' + o.order_id }, o.order_id)),
    el('td', {}, el('span', { class: 'status ' + o.status }, o.status)),
    el('td', { class: 'num' }, won(o.total)),
    el('td', { class: 'muted' }, new Date(o.created_at).toLocaleString()))));
}

function route() {
  const m = location.hash.match(/^#\/orders\/([\w-]+)/);
  if (m) showOrder(m[1]);
}

$('signin-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    setToken((await api('POST', '/api/v1/auth/login', { email: f.get('email'), password: f.get('password') })).token);
    await start();
  } catch (e) { toast(e.message); }
});
$('signup-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const f = new FormData(ev.target);
  try {
    const body = { email: f.get('email'), password: f.get('password'), name: f.get('name') };
    if (addr) body.address = { label: 'home', ...addr };
    await api('POST', '/api/v1/auth/signup', body);
    setToken((await api('POST', '/api/v1/auth/login', { email: body.email, password: body.password })).token);
    await start();
  } catch (e) { toast(e.message); }
});
$('signout').addEventListener('click', () => { setToken(''); me = null; start(); });
$('preset').addEventListener('change', (ev) => {
  const [, lat, lng] = ev.target.value.split('|');
  if (lat) { $('lat').value = lat; $('lng').value = lng; }
});
$('address-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  addr = { lat: Number($('lat').value), lng: Number($('lng').value) };
  const label = ($('preset').value.split('|')[0]) || 'custom';
  if (me) {
    try { await api('PUT', '/api/v1/me/address', { label, ...addr }); me.address = { label, ...addr }; } catch (e) { toast(e.message); return; }
  }
  loadListings(); loadCart();
});
$('q').addEventListener('input', renderProducts);
$('category').addEventListener('change', renderProducts);
$('checkout').addEventListener('click', checkout);
$('lang').addEventListener('click', () => { setLang(state.lang === 'ko' ? 'en' : 'ko'); $('lang').textContent = state.lang === 'ko' ? 'EN' : '한국어'; renderProducts(); renderDeals(); loadCart(); });
window.addEventListener('hashchange', route);

async function start() {
  setLang(state.lang);
  $('lang').textContent = state.lang === 'ko' ? 'EN' : '한국어';
  await loadMe();
  await Promise.all([loadListings(), loadCart(), loadOrders()]);
  route();
}
start();

// The shopper storefront: address, products and closing-soon deals near it
// (quantities live over a WebSocket), the cart, Kakao Pay checkout and the
// order's progress. Views: #/ (shop), #/cart, #/orders/<id>.
import {
  api, apiPage, categoryText, dateTime, el, endsAt, fromWarehouse, left, localName, nameEl, productName, reasonText,
  setLang, setToken, socket, state, statusText, t, timeLeft, toast, won,
} from './common.js';

const $ = (id) => document.getElementById(id);

// The demo neighbourhoods; typing one of these names (in either language)
// finds it too.
const PLACES = [
  { ko: '연희동', en: 'Yeonhui-dong', areaKo: '마포·은평', areaEn: 'Mapo, Eunpyeong', lat: 37.5667, lng: 126.9300 },
  { ko: '삼성동', en: 'Samseong-dong', areaKo: '강남·송파', areaEn: 'Gangnam, Songpa', lat: 37.5088, lng: 127.0631 },
  { ko: '잠실동', en: 'Jamsil-dong', areaKo: '송파', areaEn: 'Songpa', lat: 37.5133, lng: 127.1001 },
  { ko: '수원', en: 'Suwon', areaKo: '경기', areaEn: 'Gyeonggi', lat: 37.2636, lng: 127.0286 },
];

let me = null;
let addr = null;          // {label, lat, lng} the listings are for
// Products come a page at a time, searched and filtered by the server:
// a city's catalog is far more than a page can hold.
const PAGE = 48;
let products = [];        // the pages asked for so far
let productsTotal = 0;    // how many products the search and category select
let productsAsk = 0;      // the latest products request; older answers are dropped
let searchTimer = null;
let deals = [];
let serving = null;       // null before the first listing
let cart = { items: [], total: 0 };
let myOrders = [];
let order = null;         // the order on view
const catalog = { products: new Map(), warehouses: new Map() };
let stopStock = null;
let stopOrder = null;

// The warehouse of every deal lot seen, so that an order's deal line can
// name it after the deal has left the listing.
const lotWarehouses = new Map(JSON.parse(localStorage.getItem('shelflife.lotWarehouses') || '[]'));
function rememberDeals(ds) {
  for (const d of ds) { lotWarehouses.delete(d.lot_id); lotWarehouses.set(d.lot_id, d.warehouse_id); }
  localStorage.setItem('shelflife.lotWarehouses', JSON.stringify([...lotWarehouses].slice(-500)));
}

// dealSeen is, per deal lot, the newest stock heard of it (the lot's
// commit sequence and what it offered), from a listing or the socket:
// whichever of the two arrives last, the page keeps the newer.
const dealSeen = new Map();

// newerDeal records what a listing or a message says of a lot, and
// reports whether it is newer than what the page knew.
function newerDeal(lotID, seq, available) {
  const seen = dealSeen.get(lotID);
  if (seq && seen && seen.seq >= seq) return false;
  dealSeen.set(lotID, { seq: seq || 0, available });
  return true;
}

// setDeals shows a listing's deals, each at the newest stock known of it.
function setDeals(ds) {
  for (const d of ds) {
    if (!newerDeal(d.lot_id, d.seq, d.available)) d.available = dealSeen.get(d.lot_id).available;
  }
  deals = ds;
  rememberDeals(ds);
}

const placeLabel = (p) => (state.lang === 'ko' ? `${p.ko} (${p.areaKo})` : `${p.en} (${p.areaEn})`);
const warehouseName = (id) => { const w = catalog.warehouses.get(id); return w ? localName(w.name) : '#' + id; };

function addrQuery() {
  // Signed-in shoppers browse at their saved address; visitors pass one.
  if (me && me.address) return '';
  return addr ? `?lat=${addr.lat}&lng=${addr.lng}` : null;
}

async function loadCatalog() {
  try {
    const c = await api('GET', '/api/v1/catalog');
    catalog.products = new Map(c.products.map((p) => [p.id, p]));
    catalog.warehouses = new Map(c.warehouses.map((w) => [w.id, w]));
  } catch (e) { toast(e.message); }
}

async function loadMe() {
  me = null;
  if (state.token) {
    try { me = await api('GET', '/api/v1/me'); } catch { setToken(''); }
  }
  $('signout').classList.toggle('hidden', !me);
  $('auth').classList.toggle('hidden', !!me);
  if (me && me.address) {
    addr = { label: me.address.label, lat: me.address.lat, lng: me.address.lng };
    $('addr-edit').open = false;
  }
  renderWho(); renderAddress();
}

function renderWho() {
  $('who').replaceChildren(me ? nameEl(localName(me.name)) : '');
}

function renderAddress() {
  const sel = $('preset');
  const cur = sel.value;
  sel.replaceChildren(el('option', { value: '' }, '—'), ...PLACES.map((p, i) => el('option', { value: i }, placeLabel(p))));
  // The saved address picks its neighbourhood in the list.
  const known = addr && PLACES.findIndex((p) => p.lat === addr.lat && p.lng === addr.lng);
  sel.value = known >= 0 && known !== null && known !== false ? String(known) : cur;
  $('places').replaceChildren(...PLACES.flatMap((p) => [el('option', { value: p.ko }), el('option', { value: p.en })]));
  if (addr) {
    $('lat').value = addr.lat; $('lng').value = addr.lng;
    $('addr-now').replaceChildren(nameEl(localName(addr.label || '')));
  } else {
    $('addr-edit').open = true;
    $('addr-now').replaceChildren(t('chooseAddress'));
  }
  $('serving-row').classList.toggle('hidden', serving === null);
  $('serving').replaceChildren(...(serving === null ? [] : serving.length
    ? serving.map((w, i) => [i ? ', ' : '', nameEl(localName(w.name))]).flat()
    : [t('noWarehouse')]));
}

// loadListings shows the listings at the address; keep asks again for as
// many products as are shown (after an order), else for the first page.
async function loadListings(keep = false) {
  const q = addrQuery();
  if (q === null) {
    products = []; productsTotal = 0; productsAsk++; deals = []; serving = null;
    renderAll();
    return;
  }
  const listed = loadProducts(keep ? products.length : 0);
  try {
    const [ds, sv] = await Promise.all([api('GET', '/api/v1/deals' + q), api('GET', '/api/v1/warehouses/serving' + q)]);
    setDeals(ds); serving = sv.warehouses;
    renderAddress(); renderDeals();
    followStock(q);
  } catch (e) { toast(e.message); }
  await listed;
}

async function loadDeals() {
  const q = addrQuery();
  if (q === null) return;
  try { setDeals(await api('GET', '/api/v1/deals' + q)); renderDeals(); } catch (e) { toast(e.message); }
}

// productsPath is a page of the products at the address that match the
// search box and the category.
function productsPath(offset, limit) {
  const p = new URLSearchParams(addrQuery());
  const text = $('q').value.trim();
  if (text) p.set('q', text);
  if ($('category').value) p.set('category', $('category').value);
  p.set('limit', limit);
  if (offset) p.set('offset', offset);
  return '/api/v1/products?' + p;
}

// loadProducts replaces the list with its first page, or with its first
// `shown` products (at most 1000, the API's page limit).
async function loadProducts(shown = 0) {
  clearTimeout(searchTimer);
  if (addrQuery() === null) return;
  const ask = ++productsAsk;
  // No next page of a list that is being replaced.
  $('products').setAttribute('aria-busy', 'true');
  $('more').disabled = true;
  try {
    const pg = await apiPage(productsPath(0, Math.min(Math.max(PAGE, shown), 1000)));
    if (ask !== productsAsk) return;
    products = pg.items; productsTotal = pg.total;
    renderProducts();
  } catch (e) { if (ask === productsAsk) toast(e.message); } finally {
    if (ask === productsAsk) { $('products').setAttribute('aria-busy', 'false'); $('more').disabled = false; }
  }
}

// moreProducts appends the next page.
async function moreProducts() {
  if (addrQuery() === null) return;
  const ask = ++productsAsk;
  $('more').disabled = true;
  try {
    const pg = await apiPage(productsPath(products.length, PAGE));
    if (ask !== productsAsk) return;
    const have = new Set(products.map((p) => p.id));
    products = products.concat(pg.items.filter((p) => !have.has(p.id)));
    productsTotal = pg.total;
    renderProducts();
  } catch (e) { if (ask === productsAsk) toast(e.message); } finally {
    if (ask === productsAsk) $('more').disabled = false;
  }
}

// The category list is the whole catalog's, not only the page's.
function renderCategories() {
  const sel = $('category');
  const cur = sel.value;
  const all = catalog.products.size ? [...catalog.products.values()] : products;
  const cats = [...new Set(all.map((p) => p.category))].sort();
  sel.replaceChildren(el('option', { value: '' }, t('all')), ...cats.map((c) => el('option', { value: c }, categoryText(c))));
  sel.value = cur;
}

// addButton is a card's button; its accessible name is "Add" followed by
// the card's name element (nameID), so the name stays out of attributes.
function addButton(id, nameID, available, onclick) {
  const disabled = !available || !me;
  return el('button', {
    type: 'button', class: 'primary', disabled, id, 'aria-labelledby': `${id} ${nameID}`,
    title: !me ? t('signinToBuy') : undefined, onclick,
  }, available ? t('add') : t('soldout'));
}

function renderProducts() {
  const none = addrQuery() === null || !products.length;
  $('products-count').textContent = none ? '' : t('shownOf')(products.length, productsTotal);
  $('more').classList.toggle('hidden', none || products.length >= productsTotal);
  if (addrQuery() === null) { $('products').replaceChildren(el('p', { class: 'muted' }, t('chooseAddress'))); return; }
  if (!products.length) {
    // Where no warehouse delivers, nothing matches whatever the filter.
    const filtered = serving?.length !== 0 && ($('q').value.trim() || $('category').value);
    $('products').replaceChildren(el('p', { class: 'muted' }, t(filtered ? 'noMatch' : 'nothingNear')));
    return;
  }
  $('products').replaceChildren(...products.map((p) => el('article', { class: 'card' + (p.available ? '' : ' soldout'), id: 'product-' + p.id },
    el('span', { translate: 'no', class: 'name', id: 'pname-' + p.id }, productName(p)),
    el('span', { class: 'muted' }, categoryText(p.category)),
    el('span', { class: 'price' }, won(p.price)),
    el('span', { class: 'avail', 'aria-live': 'polite', 'data-available': p.available }, p.available ? left(p.available) : t('soldout')),
    addButton('padd-' + p.id, 'pname-' + p.id, p.available, () => addToCart({ product_id: p.id }, productName(p))))));
  if (!me) $('products').prepend(el('p', { class: 'muted full' }, t('signinToBuy')));
}

function renderDeals() {
  if (addrQuery() === null) { $('deals').replaceChildren(el('p', { class: 'muted' }, t('chooseAddress'))); return; }
  $('deals').replaceChildren(...(deals.length ? deals.map((d) => el('article', { class: 'card deal' + (d.available ? '' : ' soldout'), id: 'deal-' + d.lot_id },
    el('span', { class: 'badge' }, `-${d.discount_percent}% ${t('off')}`),
    el('span', { translate: 'no', class: 'name', id: 'dname-' + d.lot_id }, productName(d)),
    el('span', { class: 'where' }, nameEl(warehouseName(d.warehouse_id)), ' · ', endsAt(d.expires_at)),
    el('span', { class: 'price' }, el('s', {}, won(d.price)), ' ', el('strong', {}, won(d.deal_price))),
    el('span', { class: 'countdown', 'data-expires': d.expires_at }, timeLeft(new Date(d.expires_at) - Date.now())),
    el('span', { class: 'avail', 'aria-live': 'polite', 'data-available': d.available }, d.available ? left(d.available) : t('soldout')),
    addButton('dadd-' + d.lot_id, 'dname-' + d.lot_id, d.available, () => addToCart({ lot_id: d.lot_id }, productName(d)))))
    : [el('p', { class: 'muted' }, t('empty'))]));
  if (!me && deals.length) $('deals').prepend(el('p', { class: 'muted full' }, t('signinToBuy')));
}

setInterval(() => document.querySelectorAll('.countdown').forEach((c) => {
  c.textContent = timeLeft(new Date(c.dataset.expires) - Date.now());
}), 1000);

// followStock keeps the listings current through the stock socket. The
// socket only pushes changes, so each time it opens (the first time, and
// after a drop) the listings are asked for again: a change made between
// the listing's answer and the socket's opening, or while it was down,
// is not lost. A deal keeps the newer of a listing and a message (seq).
function followStock(q) {
  if (stopStock) stopStock();
  const tok = state.token ? (q ? '&' : '?') + 'token=' + encodeURIComponent(state.token) : '';
  let opened = 0;
  stopStock = socket('/api/v1/ws/stock' + q + tok, (m) => {
    if (m.type === 'product') {
      const p = products.find((x) => x.id === m.product_id);
      if (!p || p.available === m.available) return;
      p.available = m.available;
      renderProducts();
      $('product-' + p.id)?.classList.add('flash');
    } else if (m.type === 'deal') {
      if (!newerDeal(m.lot_id, m.seq, m.available)) return;
      const d = deals.find((x) => x.lot_id === m.lot_id);
      if (d) { d.available = m.available; renderDeals(); $('deal-' + d.lot_id)?.classList.add('flash'); }
      else if (m.available > 0) loadDeals();
    }
  }, (st) => {
    if (st !== 'open') return;
    loadDeals();
    // Regular stock moves on with every sale; after a drop, what is shown
    // may be minutes old.
    if (opened++ > 0) loadProducts(products.length);
  });
}

async function addToCart(item, label) {
  try {
    const items = (await api('GET', '/api/v1/cart')).items;
    const key = item.lot_id ? 'l' + item.lot_id : 'p' + item.product_id;
    const cur = items.find((i) => i.key === key);
    cart = await api('PUT', '/api/v1/cart/items', { ...item, quantity: (cur ? cur.quantity : 0) + 1 });
    renderCart();
    $('cart-link').classList.remove('bump'); void $('cart-link').offsetWidth; $('cart-link').classList.add('bump');
    toast(`${t('added')}: ${label}`);
  } catch (e) { toast(e.message); }
}

function itemName(i) {
  const p = catalog.products.get(i.product_id);
  return p ? productName(p) : productName(i);
}

// cartWarehouse names the warehouse of a deal line: a deal is one lot.
function cartWarehouse(i) {
  const w = i.lot_id && lotWarehouses.get(i.lot_id);
  return w ? [' · ', fromWarehouse(nameEl(warehouseName(w)))] : null;
}

function renderCart() {
  const count = cart.items.reduce((n, i) => n + i.quantity, 0);
  $('cart-count').textContent = count;
  $('cart').replaceChildren(...(cart.items.length ? cart.items.map((i) => el('li', { 'data-key': i.key },
    el('div', { class: 'line-main' },
      el('span', { translate: 'no', class: 'name', id: 'cname-' + i.key }, itemName(i)),
      el('span', { class: 'muted' }, i.deal ? [el('span', { class: 'tag' }, t('deal')), ' '] : null,
        `${t('qty')} ${i.quantity} · ${won(i.unit_price)}`, cartWarehouse(i))),
    el('strong', { class: 'line-price' }, won(i.line_total)),
    el('button', {
      type: 'button', class: 'icon', id: 'crm-' + i.key, 'aria-labelledby': `crm-${i.key} cname-${i.key}`,
      onclick: async () => { try { cart = await api('DELETE', '/api/v1/cart/items/' + i.key); renderCart(); toast(`${t('removed')}: ${itemName(i)}`); } catch (e) { toast(e.message); } },
    }, el('span', { class: 'sr-only' }, t('remove')), el('span', { 'aria-hidden': 'true' }, '✕'))))
    : [el('li', { class: 'muted' }, t('cartEmpty'))]));
  $('cart-total').textContent = won(cart.total);
  const why = !me ? t('signinToPay') : !cart.items.length ? t('addSomething') : '';
  $('checkout').disabled = !!why;
  $('checkout-hint').textContent = why;
}

async function loadCart() {
  if (!me) { cart = { items: [], total: 0 }; renderCart(); return; }
  try { cart = await api('GET', '/api/v1/cart'); renderCart(); } catch (e) { toast(e.message); }
}

async function checkout() {
  try {
    $('checkout').disabled = true;
    const o = await api('POST', '/api/v1/orders', { from_cart: true });
    // Kakao Pay's QR page; after paying it sends the browser back to the
    // approval URL, which lands on #/orders/<id>.
    location.href = o.payment.redirect_url;
  } catch (e) {
    if (e.code === 'sold_out') soldOut(e.detail); else toast(`${e.message}`);
    renderCart();
  }
}

// soldOut shows at once what a sold_out refusal said: the deal or product
// has only that many left (often none), before any socket message.
function soldOut({ available = 0, lot_id: lotID, product_id: productID }) {
  toast(t('soldOutNow')(available));
  const d = lotID && deals.find((x) => x.lot_id === lotID);
  if (d) { d.available = Math.min(d.available, available); renderDeals(); $('deal-' + lotID)?.classList.add('flash'); return; }
  const p = !lotID && productID && products.find((x) => x.id === productID);
  if (p) { p.available = Math.min(p.available, available); renderProducts(); $('product-' + productID)?.classList.add('flash'); }
}

const STEPS = ['PAYMENT_READY', 'PROCESSING', 'PAID'];
const PAYMENT_STAGE = new Set(['payment_cancelled', 'payment_failed', 'payment_expired']);

function renderOrder() {
  if (!order) return;
  const o = order;
  $('order-view').dataset.status = o.status;
  $('order-id').textContent = o.order_id;
  const failed = o.status === 'FAILED' || o.status === 'EXPIRED';
  const at = o.status === 'CREATED' ? 0 : Math.max(0, STEPS.indexOf(failed ? 'PAID' : o.status));
  $('timeline').replaceChildren(...STEPS.map((s, i) => {
    const label = i === 2 && failed ? statusText(o.status) : statusText(s);
    // An order that ended at the payment page never reached processing.
    const reached = failed && PAYMENT_STAGE.has(o.reason) ? 1 : at;
    const cls = i < reached ? 'done' : i === at ? (o.status === 'PAID' ? 'done current' : failed ? 'failed' : 'current') : 'todo';
    return el('li', { class: cls, 'data-step': s, 'aria-current': i === at ? 'step' : undefined }, label);
  }));
  $('order-reason').classList.toggle('hidden', !o.reason);
  $('order-reason').textContent = reasonText(o.reason);
  $('order-lines').replaceChildren(...o.lines.map((l) => {
    const p = catalog.products.get(l.product_id);
    const warehouse = l.warehouse_id || lotWarehouses.get(l.lot_id);
    return el('li', {},
      el('div', { class: 'line-main' },
        nameEl(p ? productName(p) : '#' + l.product_id, 'name'),
        el('span', { class: 'muted' }, l.kind === 'DEAL' ? [el('span', { class: 'tag' }, t('deal')), ' '] : null,
          `${t('qty')} ${l.quantity} · ${won(l.unit_price)}`,
          warehouse ? [' · ', fromWarehouse(nameEl(warehouseName(warehouse)))] : null)),
      el('strong', { class: 'line-price' }, won(l.unit_price * l.quantity)));
  }));
  $('order-total').textContent = won(o.total);
  $('order-at').textContent = o.created_at ? dateTime(o.created_at) : '';
}

async function showOrder(id) {
  if (!me) return;
  try {
    order = await api('GET', '/api/v1/orders/' + id);
    renderOrder();
    if (stopOrder) stopOrder();
    stopOrder = socket(`/api/v1/ws/orders/${id}?token=${encodeURIComponent(state.token)}`, (m) => {
      if (!order || order.order_id !== id) return;
      order.status = m.status; order.reason = m.reason || order.reason;
      renderOrder();
      if (m.status === 'PAID' || m.status === 'FAILED' || m.status === 'EXPIRED') {
        loadOrders(); loadCart(); loadListings(true);
        api('GET', '/api/v1/orders/' + id).then((o) => { if (order && order.order_id === id) { order = o; renderOrder(); } }).catch(() => {});
      }
    });
  } catch (e) { toast(e.message); }
}

async function loadOrders() {
  if (!me) { myOrders = []; renderOrders(); return; }
  try { myOrders = await api('GET', '/api/v1/orders'); renderOrders(); } catch (e) { toast(e.message); }
}

function renderOrders() {
  $('orders').replaceChildren(...(myOrders.length ? myOrders.map((o) => el('li', {},
    el('div', { class: 'line-main' },
      el('a', { href: '#/orders/' + o.order_id }, el('code', { translate: 'no' }, o.order_id)),
      el('span', { class: 'muted' }, dateTime(o.created_at))),
    el('span', { class: 'status ' + o.status }, statusText(o.status)),
    el('strong', { class: 'line-price' }, won(o.total))))
    : [el('li', { class: 'muted' }, t('empty'))]));
}

function route() {
  const m = location.hash.match(/^#\/orders\/([\w-]+)/);
  const view = m ? 'order-view' : location.hash === '#/cart' ? 'cart-view' : 'shop-view';
  for (const v of ['order-view', 'cart-view', 'shop-view']) $(v).classList.toggle('hidden', v !== view);
  if (view !== 'order-view' && stopOrder) { stopOrder(); stopOrder = null; order = null; }
  if (m) showOrder(m[1]);
  window.scrollTo(0, 0);
}

function renderAll() {
  document.title = `ShelfLife · ${t('shopTitle')}`;
  renderWho(); renderAddress(); renderCategories(); renderProducts(); renderDeals(); renderCart(); renderOrders(); renderOrder();
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
    if (addr) body.address = { label: addr.label || 'home', lat: addr.lat, lng: addr.lng };
    await api('POST', '/api/v1/auth/signup', body);
    setToken((await api('POST', '/api/v1/auth/login', { email: body.email, password: body.password })).token);
    await start();
  } catch (e) { toast(e.message); }
});
$('signout').addEventListener('click', () => { setToken(''); me = null; addr = null; start(); });
$('preset').addEventListener('change', (ev) => {
  const p = PLACES[ev.target.value];
  if (p) { $('place').value = state.lang === 'ko' ? p.ko : p.en; $('lat').value = p.lat; $('lng').value = p.lng; }
});
$('address-form').addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const typed = $('place').value.trim().toLowerCase();
  let p = PLACES[$('preset').value];
  if (typed) p = PLACES.find((x) => [x.ko, x.en, x.areaKo, x.areaEn].some((n) => n.toLowerCase().includes(typed)));
  let next;
  if (p) next = { label: `${p.ko} ${p.en} (${p.areaEn})`, lat: p.lat, lng: p.lng };
  else if (!typed && $('lat').value !== '' && $('lng').value !== '') next = { label: `${$('lat').value}, ${$('lng').value}`, lat: Number($('lat').value), lng: Number($('lng').value) };
  else { toast(t('unknownPlace')); return; }
  if (me) {
    try { await api('PUT', '/api/v1/me/address', next); me.address = next; } catch (e) { toast(e.message); return; }
  }
  addr = next;
  $('addr-edit').open = false;
  renderAddress(); loadListings(); loadCart();
});
// The search asks the server once typing pauses; a category at once.
$('q').addEventListener('input', () => { clearTimeout(searchTimer); searchTimer = setTimeout(loadProducts, 250); });
$('category').addEventListener('change', () => loadProducts());
$('more').addEventListener('click', moreProducts);
$('checkout').addEventListener('click', checkout);
$('lang').addEventListener('click', () => { setLang(state.lang === 'ko' ? 'en' : 'ko'); renderAll(); });
window.addEventListener('hashchange', route);

async function start() {
  setLang(state.lang);
  await Promise.all([loadMe(), catalog.products.size ? null : loadCatalog()]);
  renderAll();
  await Promise.all([loadListings(), loadCart(), loadOrders()]);
  route();
}
start();

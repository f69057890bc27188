// End to end in a real browser, against a node started from bin/shelflife.
//
// 1. A shopper on a phone puts a closing-soon deal in the cart, pays on the
//    fake Kakao Pay page and lands on the order view: product names, the
//    warehouse, and a status that a second tab sees move live; the deal
//    count drops on the storefront, and the admin dashboard (its filtered
//    stock table and its order list) follows without a reload.
// 2. A storefront whose first deals listing, and a dashboard whose first
//    lots listing, is older than its stock socket shows the stock as it is
//    once the socket opens. A cancelled payment lands on the order view
//    with the reason in words; a visitor finds a neighbourhood by its name.
// 3. The shop searches, filters by category and pages on the server: with
//    more products than a page, a typed search finds one past the first
//    page, and "more" appends the next page.
// 4. Both pages at 1280 px and 390 px, in Korean and in English: no
//    sideways scroll, no text left in the other language outside names, no
//    serious or critical axe-core violation. Full-page screenshots of every
//    case are saved to web/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import net from 'node:net';
import { chromium } from 'playwright-core';

const bin = process.env.SHELFLIFE_BIN || '../../bin/shelflife';
const artifacts = new URL('./artifacts/', import.meta.url).pathname;
const axeSource = readFileSync(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
const db = `${process.env.E2E_DB_PREFIX || 'shelflife_e2e'}_${Date.now()}`;
let node, browser, base;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});

before(async () => {
  mkdirSync(artifacts, { recursive: true });
  // E2E_PORTS=HTTP,KAKAO picks the ports (several runs on one machine).
  const [httpPort, kakaoPort] = process.env.E2E_PORTS ? process.env.E2E_PORTS.split(',').map(Number) : [await freePort(), await freePort()];
  base = `http://127.0.0.1:${httpPort}`;
  node = spawn(bin, ['-config', '../../configs/local.yaml'], {
    env: {
      ...process.env,
      SHELFLIFE_HTTP_ADDR: `127.0.0.1:${httpPort}`,
      SHELFLIFE_KAKAO_FAKE_ADDR: `127.0.0.1:${kakaoPort}`,
      SHELFLIFE_MYSQL_DSN: `root@tcp(127.0.0.1:3306)/${db}?parseTime=true`,
      SHELFLIFE_REDIS_PREFIX: `${db}:`,
      SHELFLIFE_BCRYPT_COST: '4',
      SHELFLIFE_LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  for (let i = 0; i < 120; i++) {
    try { if ((await fetch(base + '/readyz')).ok) break; } catch { /* not up yet */ }
    await new Promise((r) => setTimeout(r, 500));
  }
  assert.ok((await fetch(base + '/readyz')).ok, 'node is ready');
  browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic', '--no-first-run'],
  });
});

after(async () => {
  await browser?.close();
  node?.kill('SIGTERM');
  await new Promise((r) => node ? node.on('exit', r) : r());
  try { execFileSync('mariadb', ['-uroot', '-h127.0.0.1', '-e', `DROP DATABASE IF EXISTS \`${db}\``]); } catch { /* best effort */ }
});

// newContext opens a browser context of the given width whose pages start
// in lang.
async function newContext(width, lang) {
  const ctx = await browser.newContext({ viewport: { width, height: width < 500 ? 844 : 900 }, locale: 'en-US' });
  await ctx.addInitScript((l) => { if (!sessionStorage.getItem('lang-set')) { localStorage.setItem('shelflife.lang', l); sessionStorage.setItem('lang-set', '1'); } }, lang);
  return ctx;
}

async function signIn(page, path, email) {
  await page.goto(base + path);
  await page.fill('#signin-form input[name=email]', email);
  await page.fill('#signin-form input[name=password]', 'shelflife-demo');
  await page.click('#signin');
}

const token = (page) => page.evaluate(() => localStorage.getItem('shelflife.token'));

async function apiGet(tok, path) {
  const res = await fetch(base + path, { headers: { Authorization: 'Bearer ' + tok } });
  assert.equal(res.status, 200, `GET ${path}`);
  return res.json();
}

function watchErrors(pages) {
  const errors = [];
  for (const p of pages) {
    p.on('pageerror', (e) => errors.push(`${p.url()}: ${e.message}`));
    // The pages must live within their content security policy.
    p.on('console', (m) => { if (m.type() === 'error' && /Content Security Policy/.test(m.text())) errors.push(`${p.url()}: ${m.text()}`); });
  }
  return errors;
}

test('a shopper buys a deal, lands on the live order view, and the admin dashboard follows', async () => {
  const ctxAdmin = await newContext(1280, 'en');
  const ctxShop = await newContext(390, 'ko'); // a phone
  const admin = await ctxAdmin.newPage();
  const shop = await ctxShop.newPage();
  const errors = watchErrors([admin, shop]);
  try {
    await signIn(admin, '/admin', 'admin@shelflife.test');
    await admin.waitForSelector('#stock tr[id^=stock-]');
    await admin.waitForSelector('#live.on', { timeout: 10000 }); // the socket is open

    // Lots at risk: worst value first, each with a suggestion; the waste
    // chart sets write-offs beside markdown sales, with a key for both.
    await admin.waitForSelector('#at-risk li[id^=risk-]');
    const risk = await admin.$$eval('#at-risk li[id^=risk-]', (els) => els.map((e) => ({
      action: e.dataset.action, value: Number(e.querySelector('[data-value]').dataset.value), text: e.textContent })));
    assert.ok(risk.every((r) => ['mark_down_now', 'move_to_deals_early', 'none'].includes(r.action)), `actions: ${risk.map((r) => r.action)}`);
    assert.ok(risk.every((r, i) => i === 0 || risk[i - 1].value >= r.value), `worst value first: ${risk.map((r) => r.value)}`);
    assert.ok(risk.some((r) => r.action === 'mark_down_now' && /Mark down now/.test(r.text)), 'closing-soon lots that will not sell out are to be marked down');
    assert.match(await admin.textContent('#risk-note'), /lots expiring within 72 h weighed/);
    assert.equal(await admin.locator('#waste-chart .legend span').count(), 2, 'the waste chart has a key for write-offs and markdown sales');
    assert.match(await admin.getAttribute('#waste-chart svg', 'aria-label'), /Written off .* Markdown sales/);

    // shopper2 lives in Jamsil, served by the Songpa warehouse only.
    await signIn(shop, '/', 'shopper2@shelflife.test');
    await shop.waitForSelector('#deals article.deal');
    await shop.waitForSelector('#products article');
    const shopToken = await token(shop);
    assert.match(await shop.textContent('#serving'), /송파/, 'the listing is for the shopper\'s address');
    const avail = await shop.$$eval('#products article .avail', (els) => els.map((e) => e.textContent));
    assert.ok(avail.some((a) => /\d+개 남음/.test(a)), `products show quantities for the address: ${avail.slice(0, 3)}`);
    assert.match(await shop.textContent('#deals article.deal .where'), /송파 센터/, 'a deal says which warehouse it comes from');

    const card = shop.locator('#deals article.deal').filter({ has: shop.locator('button:not([disabled])') }).first();
    const lotId = Number((await card.getAttribute('id')).replace('deal-', ''));
    const leftBefore = Number(await card.locator('.avail').getAttribute('data-available'));
    const dealName = (await card.locator('.name').textContent()).trim();

    // The admin's row of that lot, found through the table's filters.
    const lots = await apiGet(await token(admin), '/api/v1/admin/lots?state=CLOSING_SOON&limit=1000');
    const row = lots.find((l) => l.id === lotId);
    assert.ok(row, 'the deal lot is listed for the admin');
    const products = await apiGet(await token(admin), '/api/v1/admin/products');
    await admin.selectOption('#wh-filter', String(row.warehouse_id));
    await admin.selectOption('#cat-filter', products.find((p) => p.id === row.product_id).category);
    await admin.selectOption('#state-filter', 'CLOSING_SOON');
    const dealCell = `#stock-${row.warehouse_id}-${row.product_id} td[data-deal]`;
    const adminBefore = Number(await admin.getAttribute(dealCell, 'data-deal'));
    assert.ok(adminBefore >= leftBefore, `admin sees ${adminBefore} units of deals, the shopper ${leftBefore} of this lot`);

    // Adding says so at once: a count in the header and a confirmation.
    await card.locator('button').click();
    await shop.waitForFunction(() => document.querySelector('#cart-count').textContent === '1');
    assert.match(await shop.textContent('#toast'), /장바구니에 담았습니다/);
    await shop.click('#cart-link');
    await shop.waitForSelector('#cart-view:not(.hidden) #cart li[data-key]');
    assert.equal(await shop.isEnabled('#checkout'), true, 'checkout is enabled with a full cart');
    await shop.click('#checkout');

    // The fake Kakao Pay's QR page stands in for the shopper's phone. A
    // second tab follows the order meanwhile.
    await shop.waitForSelector('#approve');
    const [pending] = (await apiGet(shopToken, '/api/v1/orders')).filter((o) => o.status === 'PAYMENT_READY');
    assert.ok(pending, 'the order waits for payment');
    const watcher = await ctxShop.newPage();
    errors.push(...watchErrors([watcher]));
    await watcher.goto(`${base}/#/orders/${pending.order_id}`);
    await watcher.waitForSelector('#order-view[data-status=PAYMENT_READY] #timeline li[aria-current=step]');
    assert.equal(await watcher.textContent('#timeline li[aria-current=step]'), '결제 대기');

    // The admin page fetches the at-risk list and the waste report again
    // after the sale.
    const riskAgain = admin.waitForResponse((r) => r.url().includes('/api/v1/admin/lots/at-risk'), { timeout: 45000 });
    await shop.click('#approve');
    await shop.waitForURL(/#\/orders\//);
    await shop.waitForSelector('#order-view:not(.hidden)[data-status=PAID]', { timeout: 20000 });
    assert.equal(await shop.textContent('#timeline li[aria-current=step]'), '결제 완료');
    const view = await shop.evaluate(() => ({ y: scrollY, top: document.querySelector('#order-view').getBoundingClientRect().top, shop: !document.querySelector('#shop-view').classList.contains('hidden') }));
    assert.ok(view.y === 0 && view.top < 200 && !view.shop, `the order is the view, at the top: ${JSON.stringify(view)}`);
    const lines = await shop.$$eval('#order-lines li', (els) => els.map((e) => e.textContent));
    assert.equal(lines.length, 1);
    assert.ok(lines[0].includes(dealName) && lines[0].includes('송파 센터'), `the line names the product and the warehouse: ${lines[0]}`);
    assert.ok(!/product \d|lot \d/.test(lines[0]), 'no raw ids for names');

    // The second tab moved without a reload.
    await watcher.waitForSelector('#order-view[data-status=PAID]', { timeout: 15000 });
    assert.equal(await watcher.textContent('#timeline li[aria-current=step]'), '결제 완료');
    await shop.screenshot({ path: artifacts + 'order-390-ko.png', fullPage: true });

    // The shopper's deal count and the admin's live table and order list
    // all follow, with no reload.
    await shop.goto(base + '/#/');
    await shop.waitForFunction(([id, before]) => {
      const e = document.querySelector(`#deal-${id} .avail`);
      return e && Number(e.dataset.available) === before - 1;
    }, [lotId, leftBefore], { timeout: 15000 });
    await admin.waitForFunction(([sel, before]) => Number(document.querySelector(sel)?.dataset.deal) === before - 1,
      [dealCell, adminBefore], { timeout: 15000 });
    await admin.waitForSelector(`#order-${pending.order_id} [data-status=PAID]`, { timeout: 20000 });
    await admin.waitForFunction(() => /Paid [1-9]/.test(document.querySelector('#tiles [data-status=PAID]')?.textContent || ''), null, { timeout: 20000 });

    // The lot just sold from has a sell rate of its own now (a list is
    // shared for up to 20 s, so ask until it has been weighed again).
    let sold;
    for (let i = 0; i < 30 && !(sold?.rate_source === 'lot'); i++) {
      if (i) await new Promise((r) => setTimeout(r, 1000));
      sold = (await apiGet(await token(admin), '/api/v1/admin/lots/at-risk?limit=1000')).lots.find((l) => l.lot_id === lotId);
    }
    assert.ok(!sold || (sold.rate_source === 'lot' && sold.rate_per_hour > 0), `the sold lot's rate comes from its own sale: ${JSON.stringify(sold)}`);
    await riskAgain;
    // The deal was sold at a markdown: today's markdown sales are no longer nil.
    await admin.waitForFunction(() => /Markdown sales ₩[1-9]/.test(document.querySelector('#waste-chart svg')?.getAttribute('aria-label') || ''), null, { timeout: 20000 });
    await admin.screenshot({ path: artifacts + 'admin-1280-en-after-sale.png', fullPage: true });
    assert.deepEqual(errors, [], 'no script errors on the pages');
  } catch (e) {
    await shop.screenshot({ path: artifacts + 'failed-shop.png', fullPage: true }).catch(() => {});
    await admin.screenshot({ path: artifacts + 'failed-admin.png', fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await ctxAdmin.close();
    await ctxShop.close();
  }
});

// serveFirstStale answers the page's first request to each address that
// matches glob (a JSON list) with each item passed through stale, and lets
// the later ones through; it returns how many requests there were so far.
async function serveFirstStale(page, glob, stale) {
  const answered = new Set();
  let seen = 0;
  await page.route(glob, async (route) => {
    seen++;
    const url = route.request().url();
    if (answered.has(url)) return route.continue();
    answered.add(url);
    const res = await route.fetch();
    await route.fulfill({ response: res, json: (await res.json()).map(stale) });
  });
  return () => seen;
}

// The stock socket pushes changes only: a deal that changed between the
// listing's answer and the socket's opening (a flash sale's first
// moments) must not stay as the listing said. The page asks again when the
// socket opens and keeps the newer of listing and message (seq).
test('a deal listing older than the stock socket is put right when the socket opens', async () => {
  const ctx = await newContext(1280, 'en');
  const page = await ctx.newPage();
  const errors = watchErrors([page]);
  try {
    // The first deals listing the page gets is an old one: every deal with
    // 7777 left, read before any commit (seq -1: older than any real read,
    // a demo lot's first being 0).
    const listings = await serveFirstStale(page, '**/api/v1/deals*', (d) => ({ ...d, available: 7777, seq: -1 }));
    await signIn(page, '/', 'shopper2@shelflife.test');
    await page.waitForSelector('#deals article.deal');
    await page.waitForFunction(() => {
      const shown = [...document.querySelectorAll('#deals article.deal .avail')];
      return shown.length > 0 && shown.every((e) => e.dataset.available !== '7777');
    }, null, { timeout: 15000 });
    assert.ok(listings() >= 2, `the deals were asked for again (${listings()} listings)`);
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});

// The same on the admin dashboard: its first lots listing is served old,
// and the stock table shows the lots as they are once its socket opens.
test('an admin lots listing older than the stock socket is put right when the socket opens', async () => {
  const ctx = await newContext(1280, 'en');
  const page = await ctx.newPage();
  const errors = watchErrors([page]);
  try {
    // The first REGULAR and the first CLOSING_SOON listing, read before any
    // commit (seq -1). The page's own load and the socket's first opening
    // race, so either may get them.
    const listings = await serveFirstStale(page, '**/api/v1/admin/lots?*state=*', (l) => ({ ...l, on_hand: 7777, seq: -1 }));
    await signIn(page, '/admin', 'admin@shelflife.test');
    await page.waitForSelector('#stock tr[id^=stock-]');
    await page.waitForFunction(() => {
      const cells = [...document.querySelectorAll('#stock td[data-regular], #stock td[data-deal]')];
      return cells.length > 0 && cells.every((c) => Number(c.dataset.regular ?? c.dataset.deal) < 7777);
    }, null, { timeout: 15000 });
    assert.ok(listings() >= 4, `the lots were asked for again (${listings()} listings)`);
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});

// A node that missed a lot's expiry while it started tells it when it
// catches up, with a seq it can only guess (one past what it held): the
// dashboard takes an expiry as final, whatever its seq, and drops the lot.
test('the admin dashboard drops a lot told expired, whatever the seq', async () => {
  const ctx = await newContext(1280, 'en');
  const page = await ctx.newPage();
  const errors = watchErrors([page]);
  let stockSocket = null;
  await page.routeWebSocket('**/api/v1/admin/ws/stock*', (ws) => { ws.connectToServer(); stockSocket = ws; });
  try {
    await signIn(page, '/admin', 'admin@shelflife.test');
    const first = page.locator('#expiring li', { hasText: 'Lot ' }).first();
    await first.waitFor();
    const id = Number((await first.textContent()).match(/Lot (\d+)/)[1]);
    const soon = await apiGet(await token(page), '/api/v1/admin/lots?limit=1000&state=CLOSING_SOON');
    const lot = soon.find((l) => l.id === id);
    assert.ok(lot && lot.on_hand >= 2, `lot ${id} is listed closing soon, with 2 units or more`);
    await page.waitForFunction(() => document.querySelector('#live')?.classList.contains('on'));
    // The page has heard the lot at a later seq (from a listing read from
    // MySQL, or another node) than the expiry's guessed one: an ordinary
    // change that old would be ignored.
    const told = (m) => stockSocket.send(JSON.stringify({ lot_id: lot.id, product_id: lot.product_id, warehouse_id: lot.warehouse_id, held: 0,
      expires_at: lot.expires_at, at: new Date().toISOString(), ...m }));
    told({ on_hand: lot.on_hand - 1, state: lot.state, written_off: 0, seq: lot.seq + 5 });
    await page.waitForFunction(({ lotId, left }) => [...document.querySelectorAll('#expiring li')].some((li) => li.textContent.includes(`Lot ${lotId} `) && li.textContent.includes(`${left.toLocaleString('en-US')} unit`)),
      { lotId: id, left: lot.on_hand - 1 }, { timeout: 5000 });
    told({ on_hand: 0, state: 'EXPIRED', written_off: lot.on_hand - 1, seq: lot.seq + 3 });
    await page.waitForFunction((lotId) => ![...document.querySelectorAll('#expiring li')].some((li) => li.textContent.includes(`Lot ${lotId} `)),
      id, { timeout: 5000 });
    assert.deepEqual(errors, []);
  } finally {
    await ctx.close();
  }
});

test('a cancelled payment lands on the order view with the reason in words', async () => {
  const ctx = await newContext(1280, 'en');
  const shop = await ctx.newPage();
  const errors = watchErrors([shop]);
  try {
    await signIn(shop, '/', 'shopper1@shelflife.test');
    const card = shop.locator('#products article').filter({ has: shop.locator('button:not([disabled])') }).first();
    await card.waitFor();
    const name = (await card.locator('.name').textContent()).trim();
    await card.locator('button').click();
    await shop.waitForFunction(() => Number(document.querySelector('#cart-count').textContent) >= 1);
    await shop.click('#cart-link');
    await shop.click('#checkout');
    await shop.waitForSelector('#cancel');
    await shop.click('#cancel');
    await shop.waitForURL(/#\/orders\//);
    await shop.waitForSelector('#order-view:not(.hidden)[data-status=FAILED]', { timeout: 20000 });
    assert.equal(await shop.textContent('#timeline li[aria-current=step]'), 'Failed');
    assert.equal(await shop.textContent('#order-reason'), 'You cancelled the payment.');
    assert.equal(await shop.getAttribute('#timeline li[data-step=PROCESSING]', 'class'), 'todo', 'a cancelled payment never reached processing');
    const lines = await shop.textContent('#order-lines');
    assert.ok(lines.includes(name), `the line names ${name}: ${lines}`);
    await shop.screenshot({ path: artifacts + 'order-1280-en-cancelled.png', fullPage: true });
    assert.deepEqual(errors, [], 'no script errors');
  } finally {
    await ctx.close();
  }
});

test('a visitor finds a neighbourhood by name; coordinates stay under advanced', async () => {
  const ctx = await newContext(390, 'en');
  const page = await ctx.newPage();
  const errors = watchErrors([page]);
  try {
    await page.goto(base + '/');
    await page.waitForSelector('#address-form');
    assert.equal(await page.isVisible('#lat'), false, 'no coordinate boxes unless asked for');
    await page.fill('#place', '삼성동');
    await page.click('#address-form button.primary');
    await page.waitForSelector('#deals article.deal');
    assert.equal(await page.textContent('#serving'), 'Gangnam, Songpa');
    assert.match(await page.textContent('#addr-now'), /^Samseong-dong/);
    await page.click('#addr-edit > summary');
    await page.selectOption('#preset', { label: 'Suwon (Gyeonggi)' });
    await page.click('#address-form button.primary');
    await page.waitForFunction(() => document.querySelector('#serving').textContent === 'No warehouse delivers to this address');
    assert.deepEqual(errors, [], 'no script errors');
  } finally {
    await ctx.close();
  }
});

test('the shop searches, filters and pages on the server: a product past the first page is found, "more" appends', async () => {
  // More products than a page holds, the shop's or the API's default.
  const login = await fetch(base + '/api/v1/auth/login', {
    method: 'POST', headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email: 'admin@shelflife.test', password: 'shelflife-demo' }),
  });
  assert.equal(login.status, 200);
  const adminTok = (await login.json()).token;
  const made = [];
  for (let i = 1; i <= 120; i++) {
    const n = String(i).padStart(3, '0');
    const res = await fetch(base + '/api/v1/admin/products', {
      method: 'POST', headers: { 'Content-Type': 'application/json', Authorization: 'Bearer ' + adminTok },
      body: JSON.stringify({ sku: `PAGE-${n}`, name: `페이지 상품 ${n}`, name_en: `Paging item ${n}`, category: 'Vegetables', price: 1000 + i }),
    });
    assert.equal(res.status, 201, `product ${n}`);
    made.push(await res.json());
  }
  const last = made.at(-1);
  const at = 'lat=37.5088&lng=127.0631'; // Samseong-dong
  const totalOf = async (query) => Number((await fetch(`${base}/api/v1/products?${at}&limit=1${query}`)).headers.get('X-Total-Count'));
  const total = await totalOf('');
  assert.ok(total > 100, `${total} products near Samseong-dong`);

  const ctx = await newContext(1280, 'en');
  const page = await ctx.newPage();
  const errors = watchErrors([page]);
  const asks = [];
  page.on('request', (r) => { if (r.url().includes('/api/v1/products?')) asks.push(new URL(r.url()).searchParams); });
  const cards = () => page.$$eval('#products article', (els) => els.map((e) => e.id));
  try {
    await page.goto(base + '/');
    await page.fill('#place', 'Samseong-dong');
    await page.click('#address-form button.primary');
    await page.waitForSelector('#products article');
    const first = await cards();
    assert.ok(first.length > 1 && first.length < total, `a first page: ${first.length} of ${total}`);
    assert.ok(!first.includes('product-' + last.id), 'the last product is not on the first page');
    assert.equal(await page.textContent('#products-count'), `${first.length} of ${total} products`);
    assert.equal(await page.textContent('#more'), 'Show more products');

    // "More" asks for the next page and appends it.
    await page.click('#more');
    await page.waitForFunction((n) => document.querySelectorAll('#products article').length > n, first.length);
    const two = await cards();
    assert.equal(two.length, Math.min(2 * first.length, total));
    assert.deepEqual(two.slice(0, first.length), first, 'the first page stays in place');
    assert.equal(asks.at(-1).get('offset'), String(first.length));
    assert.equal(await page.textContent('#products-count'), `${two.length} of ${total} products`);
    assert.deepEqual(await axeScan(page), [], 'accessibility with the "more" button');
    await page.screenshot({ path: artifacts + 'shop-1280-en-more.png', fullPage: true });

    // A search typed in the box goes to the server once typing pauses, and
    // finds a product no page shown so far holds.
    asks.length = 0;
    const typed = 'Paging item 120';
    await page.locator('#q').pressSequentially(typed, { delay: 20 });
    await page.waitForSelector('#product-' + last.id);
    assert.deepEqual(await cards(), ['product-' + last.id]);
    assert.ok(asks.length >= 1 && asks.length <= 3, `typing ${typed.length} letters asked ${asks.length} times`);
    assert.equal(asks.at(-1).get('q'), typed);
    assert.equal(await page.textContent('#products-count'), '1 of 1 products');
    assert.equal(await page.isVisible('#more'), false, 'no "more" when all is shown');
    await page.screenshot({ path: artifacts + 'shop-1280-en-search.png', fullPage: true });

    await page.fill('#q', 'no such product anywhere');
    await page.waitForFunction(() => document.querySelector('#products p')?.textContent === 'No product matches');

    // The category goes to the server too, with the search cleared.
    await page.fill('#q', '');
    await page.selectOption('#category', 'Dairy');
    const dairy = await totalOf('&category=Dairy');
    assert.ok(dairy > 0);
    await page.waitForFunction((n) => document.querySelector('#products-count').textContent === `${n} of ${n} products`, dairy);
    assert.equal(asks.at(-1).get('category'), 'Dairy');
    assert.equal(asks.at(-1).get('q'), null);
    const shownCats = await page.$$eval('#products article > .muted', (els) => [...new Set(els.map((e) => e.textContent))]);
    assert.deepEqual(shownCats, ['Dairy']);

    // In Korean the labels follow.
    await page.selectOption('#category', 'Vegetables');
    await page.waitForSelector('#more:not(.hidden)');
    await page.click('#lang');
    await page.waitForFunction(() => document.documentElement.lang === 'ko');
    assert.equal(await page.textContent('#more'), '상품 더 보기');
    assert.match(await page.textContent('#products-count'), /^상품 \d+개 중 \d+개$/);
    assert.deepEqual(await page.evaluate(foreignText, 'ko'), [], 'Korean only');
    await page.locator('#more').scrollIntoViewIfNeeded();
    await page.screenshot({ path: artifacts + 'shop-1280-ko-more.png' });
    assert.deepEqual(errors, [], 'no script errors');
  } catch (e) {
    await page.screenshot({ path: artifacts + 'failed-paging.png', fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await ctx.close();
  }
});

// foreignText lists the text a page shows in the wrong language: Hangul
// when it is in English, Latin words when it is in Korean. Names (marked
// translate="no": products, places, people, order numbers) and text in a
// language of its own (the language switch) are skipped. Every other text
// node counts, shown or hidden, and so do labels, placeholders and titles.
function foreignText(lang) {
  const bad = lang === 'en' ? /[\u1100-\u11ff\u3130-\u318f\uac00-\ud7af]/ : /[A-Za-z]{2,}/;
  const skip = (e) => e.closest('[translate=no], script, style, [lang]:not(html)');
  const out = [];
  const walk = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walk.nextNode(); n; n = walk.nextNode()) {
    if (!skip(n.parentElement) && bad.test(n.textContent)) out.push(n.textContent.trim());
  }
  for (const e of document.body.querySelectorAll('[aria-label], [placeholder], [title], [alt]')) {
    if (skip(e)) continue;
    for (const a of ['aria-label', 'placeholder', 'title', 'alt']) {
      const v = e.getAttribute(a);
      if (v && bad.test(v)) out.push(`${a}="${v}"`);
    }
  }
  const title = document.title.replace('ShelfLife', '');
  if (bad.test(title)) out.push(`title: ${document.title}`);
  return out;
}

// axeScan runs axe-core in the page. It is evaluated through the DevTools
// protocol: the pages' content security policy rightly refuses inline
// script tags.
async function axeScan(page) {
  if (!await page.evaluate(() => !!window.axe)) await page.evaluate(axeSource);
  const r = await page.evaluate(() => window.axe.run(document, { resultTypes: ['violations'] }));
  return r.violations.filter((v) => v.impact === 'serious' || v.impact === 'critical')
    .map((v) => `${v.id} (${v.impact}): ${v.nodes.slice(0, 3).map((n) => n.target.join(' ')).join(', ')}`);
}

for (const width of [1280, 390]) {
  for (const [name, path, email, ready] of [
    ['shop', '/', 'shopper1@shelflife.test', '#deals article.deal'],
    ['admin', '/admin', 'admin@shelflife.test', '#stock tr[id^=stock-] td[data-deal]'],
  ]) {
    test(`${name} at ${width} px: fits, speaks one language at a time, passes axe`, async () => {
      const ctx = await newContext(width, 'ko');
      const page = await ctx.newPage();
      const errors = watchErrors([page]);
      try {
        await signIn(page, path, email);
        await page.waitForSelector(ready);
        if (name === 'admin') await page.waitForSelector('#tiles .tile');
        if (name === 'admin') await page.waitForSelector('#at-risk li');
        await page.waitForTimeout(300); // let the charts and fonts settle before measuring
        for (const lang of ['ko', 'en', 'ko']) {
          if (await page.evaluate(() => document.documentElement.lang) !== lang) {
            await page.click('#lang');
            await page.waitForFunction((l) => document.documentElement.lang === l, lang);
          }
          const size = await page.evaluate(() => ({ scroll: document.documentElement.scrollWidth, inner: innerWidth }));
          assert.ok(size.scroll <= size.inner, `${name} ${lang}: page is ${size.scroll} px wide in a ${size.inner} px window`);
          assert.deepEqual(await page.evaluate(foreignText, lang), [], `${name} in ${lang}: text in the other language`);
          const violations = await axeScan(page);
          assert.deepEqual(violations, [], `${name} in ${lang}: serious or critical accessibility violations`);
          await page.screenshot({ path: `${artifacts}${name}-${width}-${lang}.png`, fullPage: true });
        }
        assert.deepEqual(errors, [], 'no script errors');
      } finally {
        await ctx.close();
      }
    });
  }
}

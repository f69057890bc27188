// End to end in a real browser: a shopper signs in, sees quantities for the
// address, puts a closing-soon deal in the cart, pays on the fake Kakao Pay
// page and sees PAID; meanwhile the admin dashboard, open in a second page,
// shows the stock drop without a reload. A failing step saves screenshots
// to web/e2e/artifacts/.
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, execFileSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import net from 'node:net';
import { chromium } from 'playwright-core';

const bin = process.env.SHELFLIFE_BIN || '../../bin/shelflife';
const artifacts = new URL('./artifacts/', import.meta.url).pathname;
const db = `shelflife_e2e_${Date.now()}`;
let node, browser, base;

const freePort = () => new Promise((resolve) => {
  const s = net.createServer().listen(0, '127.0.0.1', () => { const p = s.address().port; s.close(() => resolve(p)); });
});

before(async () => {
  const [httpPort, kakaoPort] = [await freePort(), await freePort()];
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

async function signIn(page, path, email) {
  await page.goto(base + path);
  await page.fill('#signin-form input[name=email]', email);
  await page.fill('#signin-form input[name=password]', 'shelflife-demo');
  await page.click('#signin');
}

test('a shopper buys a deal and the admin dashboard sees the stock drop', async () => {
  const ctxAdmin = await browser.newContext({ viewport: { width: 1100, height: 900 } });
  const ctxShop = await browser.newContext({ viewport: { width: 390, height: 844 } }); // a phone
  const admin = await ctxAdmin.newPage();
  const shop = await ctxShop.newPage();
  const errors = [];
  for (const p of [admin, shop]) p.on('pageerror', (e) => errors.push(e.message));
  try {
    await signIn(admin, '/admin', 'admin@shelflife.test');
    await admin.waitForSelector('#stock tr');

    // shopper2 lives in Jamsil, served by the Songpa warehouse only.
    await signIn(shop, '/', 'shopper2@shelflife.test');
    await shop.waitForSelector('#deals article.deal');
    await shop.waitForSelector('#products article');
    const served = await shop.textContent('#serving');
    assert.match(served, /Songpa/, 'the listing is for the shopper\'s address');
    const avail = await shop.$$eval('#products article .avail', (els) => els.map((e) => e.textContent));
    assert.ok(avail.some((a) => /\d/.test(a)), 'products show quantities for the address');

    const card = shop.locator('#deals article.deal').filter({ has: shop.locator('button:not([disabled])') }).first();
    const lotId = Number((await card.getAttribute('id')).replace('deal-', ''));
    const leftBefore = parseInt(await card.locator('.avail').textContent(), 10);

    // The admin row of that lot (warehouse and product) before the sale.
    const lot = await (await fetch(`${base}/api/v1/admin/lots?state=CLOSING_SOON&limit=1000`, {
      headers: { Authorization: 'Bearer ' + await admin.evaluate(() => localStorage.getItem('shelflife.token')) },
    })).json();
    const row = lot.find((l) => l.id === lotId);
    assert.ok(row, 'the deal lot is listed for the admin');
    const dealCell = admin.locator(`#stock-${row.warehouse_id}-${row.product_id} td`).nth(3);
    const adminBefore = Number(await dealCell.textContent());

    await card.locator('button').click();
    await shop.waitForSelector('#cart tr[data-key]');
    await shop.click('#checkout');

    // The fake Kakao Pay's QR page stands in for the shopper's phone.
    await shop.waitForSelector('#approve');
    await shop.click('#approve');
    await shop.waitForURL(/#\/orders\//);
    await shop.waitForFunction(() => document.querySelector('#order-status')?.textContent === 'PAID', null, { timeout: 20000 });

    // The shopper's deal count and the admin's live table both drop, with
    // no reload of either page.
    await shop.waitForFunction(([id, before]) => {
      const el = document.querySelector(`#deal-${id} .avail`);
      return el && parseInt(el.textContent, 10) === before - 1;
    }, [lotId, leftBefore], { timeout: 15000 });
    await admin.waitForFunction(([sel, before]) => Number(document.querySelector(sel)?.textContent) === before - 1,
      [`#stock-${row.warehouse_id}-${row.product_id} td:nth-child(4)`, adminBefore], { timeout: 15000 });
    assert.deepEqual(errors, [], 'no script errors on the pages');
  } catch (e) {
    mkdirSync(artifacts, { recursive: true });
    await shop.screenshot({ path: artifacts + 'shop.png', fullPage: true }).catch(() => {});
    await admin.screenshot({ path: artifacts + 'admin.png', fullPage: true }).catch(() => {});
    throw e;
  } finally {
    await ctxAdmin.close();
    await ctxShop.close();
  }
});

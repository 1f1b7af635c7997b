import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { type Browser, type BrowserContext, chromium, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FulfillmentDaemonWorld, type StatusJson, WOO_STORE } from '../helpers/fulfillment-daemon-world.js';
import { intentsIn } from '../helpers/fulfillment-peek.js';
import { syncRuns } from '../helpers/sqlite-peek.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * The dashboard in a real headless Chromium (Debian's `chromium`, driven by playwright-core),
 * against the daemon as a child process with the sandbox supplier and a strict fake WooCommerce:
 * log in through the URL `psnb2b-sync dashboard` prints, read the figures, press the buttons.
 * And the page as an attacker sees it: a used login link, an action without the CSRF token, and
 * a page on another loopback port (the same *site*, so SameSite cookies still travel).
 */

const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';

let w: FulfillmentDaemonWorld;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** Dialogs other than the page's own confirm() prompts (an `alert` would mean injected script ran). */
const unexpectedDialogs: string[] = [];

async function loginUrl(): Promise<string> {
  const r = await w.cli('dashboard');
  expect(r.code, r.stderr).toBe(0);
  const url = /https?:\/\/\S+\/login\?token=\S+/.exec(r.stdout)?.[0];
  if (!url) throw new Error(`no login URL in: ${r.stdout}`);
  return url;
}

async function newPage(ctx: BrowserContext): Promise<Page> {
  const p = await ctx.newPage();
  p.on('dialog', (d) => {
    if (d.type() === 'confirm') void d.accept();
    else {
      unexpectedDialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss();
    }
  });
  return p;
}

beforeAll(async () => {
  w = await FulfillmentDaemonWorld.start({ honoursIdempotencyKeys: false });
  await w.startDaemon();
  browser = await chromium.launch({ executablePath: CHROMIUM });
  context = await browser.newContext();
  page = await newPage(context);
}, 60_000);

afterAll(async () => {
  await browser?.close();
  await w?.stop();
});

/** The figure the page shows under `data-figure="<path>"`, as a number (or null for "—"). */
async function figures(p: Page): Promise<Record<string, number | null>> {
  const pairs = await p
    .locator('[data-figure]')
    .evaluateAll((els) => els.map((e) => [e.getAttribute('data-figure'), e.textContent?.trim()] as const));
  return Object.fromEntries(pairs.map(([k, v]) => [k, v === '—' ? null : Number(v)]));
}

function statusFigures(s: StatusJson): Record<string, number | null> {
  const out: Record<string, number | null> = {
    'inventory.entries': s.inventory.entries,
    'inventory.lastChanges': s.inventory.lastChanges,
    'balance.usd': s.balance.usd,
    'claims.open': s.claims.open,
    'claims.closingWithin24h': s.claims.closingWithin24h,
  };
  for (const [k, v] of Object.entries(s.orders)) out[`orders.${k}`] = v;
  for (const f of s.storefronts) {
    out[`storefronts.${f.name}.skus`] = f.skus;
    out[`storefronts.${f.name}.unmatched`] = f.unmatched;
    out[`storefronts.${f.name}.missing`] = f.missing;
  }
  return out;
}

describe('login', () => {
  it('the printed URL logs in once: HttpOnly, SameSite=Strict session cookie; the same URL again is refused', async () => {
    const anonymous = await browser.newContext();
    const bare = await (await anonymous.newPage()).goto(`${w.url}/`);
    expect(bare?.status()).toBe(401);
    expect(await bare?.text()).toContain('psnb2b-sync dashboard');

    const url = await loginUrl();
    const res = await page.goto(url);
    expect(res?.status()).toBe(200);
    expect(new URL(page.url()).pathname).toBe('/');
    await expect(page.locator('h1').textContent()).resolves.toBe('psnb2b-sync');
    const cookie = (await context.cookies()).find((c) => c.name === 'psnb2b_session');
    expect(cookie).toMatchObject({ httpOnly: true, sameSite: 'Strict', path: '/' });
    expect(res?.headers()['content-security-policy']).toMatch(/script-src 'nonce-[^']+'/);
    expect(res?.headers()['x-frame-options']).toBe('DENY');

    const again = await (await anonymous.newPage()).goto(url);
    expect(again?.status()).toBe(401);
    expect(await again?.text()).toContain('used or expired');
    expect((await anonymous.cookies()).find((c) => c.name === 'psnb2b_session')).toBeUndefined();
    await anonymous.close();
  });
});

describe('what the page shows', () => {
  it('shows the figures `status --json` prints, once orders have been delivered', async () => {
    const placed = [
      w.placeOrder([{ sku: w.skus[0] as string, quantity: 2 }]),
      w.placeOrder([{ sku: w.skus[3] as string, quantity: 1 }]),
    ];
    await waitUntil(() => placed.every((o) => w.shop.orderStatus(o.id) === 'completed'), {
      timeoutMs: 30_000,
      what: 'both orders delivered',
    });
    // The daemon keeps working (inventory every second): compare a page read between two equal statuses.
    const seen = await waitUntil(
      async () => {
        const before = statusFigures(await w.statusJson());
        await page.reload();
        const shown = await figures(page);
        const after = statusFigures(await w.statusJson());
        return JSON.stringify(before) === JSON.stringify(after) ? { shown, status: after } : null;
      },
      { timeoutMs: 30_000, what: 'a page read between two identical statuses' },
    );
    expect(seen.shown).toEqual(seen.status);
    expect(seen.status['orders.delivered']).toBeGreaterThanOrEqual(2);
    expect(seen.status['balance.usd']).not.toBeNull();
    // Catalogue: every SKU with the supplier's quantity and the shop's acknowledged one.
    await expect(page.locator('#catalogue tr').count()).resolves.toBe(w.skus.length + 1);
    await expect(page.locator('svg.chart path').count()).resolves.toBe(1);
    // No code the buyers received appears on the page.
    const codes = placed.flatMap((o) =>
      w.shop
        .notesOf(o.id, { customer: true })
        .flatMap((n) => n.note.split('\n').filter((l) => l.startsWith('PSN ')))
        .map((l) => l.split(': ')[1] as string),
    );
    expect(codes).toHaveLength(3);
    const html = await page.content();
    for (const c of codes) expect(html).not.toContain(c);
  }, 90_000);
});

describe('actions: the admin API the CLI uses', () => {
  it('resync: the button streams progress to the end, and the run is recorded', async () => {
    const resyncsBefore = syncRuns(w.dbFile).filter((r) => r.kind === 'resync').length;
    await page.reload();
    await page.getByRole('button', { name: 'Resync every SKU now' }).click();
    await page.locator('#resync-text[data-outcome="pushed"]').waitFor({ timeout: 30_000 });
    expect(await page.locator('#resync-text').textContent()).toMatch(
      new RegExp(`${WOO_STORE} \\d+ acknowledged, 0 failed`),
    );
    const bar = page.locator('#resync-progress');
    const progress = await bar.evaluate((b) => {
      const p = b as unknown as { value: number; max: number };
      return { value: p.value, max: p.max };
    });
    expect(progress.max).toBeGreaterThan(1);
    expect(progress.value).toBe(progress.max);
    const resyncs = syncRuns(w.dbFile).filter((r) => r.kind === 'resync');
    expect(resyncs.length).toBe(resyncsBefore + 1);
    expect(resyncs.at(-1)?.outcome).toBe('pushed');
  }, 60_000);

  it('a parked purchase shows its evidence and is resolved from the page', async () => {
    w.supplier.injectFault('commitThenReset');
    const order = w.placeOrder([{ sku: w.skus[1] as string, quantity: 1 }]);
    const parked = await waitUntil(() => intentsIn(w.dbFile, 'parked')[0], {
      timeoutMs: 30_000,
      what: 'the purchase parked',
    });
    await page.reload();
    const row = page.locator(`#parked tr[data-intent="${parked.id}"]`);
    const reference = (await row.locator('code').textContent())?.trim();
    // The operator looks the reference up at the supplier: the order was placed.
    const placedAtSupplier = w.supplier.ledger().orders.find((o) => o.reference === reference);
    expect(placedAtSupplier, `a supplier order with reference ${reference}`).toBeDefined();
    await row.locator('input').fill(placedAtSupplier?.id as string);
    await row.getByRole('button', { name: 'placed: follow it' }).click();
    // The daemon's answer (the message `orders resolve` prints) is shown, as a success.
    const reloaded = page.waitForEvent('load', { timeout: 30_000 });
    await page.locator('#action-note.ok').filter({ hasText: parked.id }).waitFor({ timeout: 30_000 });
    await reloaded;
    await waitUntil(() => w.shop.orderStatus(order.id) === 'completed', {
      timeoutMs: 30_000,
      what: 'the parked order delivered after resolving it on the page',
    });
    expect(intentsIn(w.dbFile, 'parked')).toHaveLength(0);
    const bought = w.supplier.ledger().orders.filter((o) => o.reference === reference);
    expect(bought, 'bought once, not again').toHaveLength(1);
  }, 90_000);

  it('an order held for review is approved from the page (its buyer shown as text, never markup)', async () => {
    const hostile = '<img src=x onerror=alert(1)>@example.com';
    const held = w.shop.placeOrder({
      lines: [{ sku: w.skus[2] as string, quantity: 60 }],
      paymentMethod: 'stripe',
      paid: true,
      email: hostile,
    });
    await waitUntil(
      async () => {
        await page.reload();
        return (await page.locator(`#review tr[data-order="${held.id}"]`).count()) === 1;
      },
      { timeoutMs: 30_000, what: 'the order in the review queue' },
    );
    const row = page.locator(`#review tr[data-order="${held.id}"]`);
    expect(await row.locator('td').nth(2).textContent()).toBe(hostile);
    const reloaded = page.waitForEvent('load', { timeout: 30_000 });
    await row.getByRole('button', { name: 'approve' }).click();
    await page.locator('#action-note.ok').filter({ hasText: 'approved' }).waitFor({ timeout: 30_000 });
    await reloaded;
    await waitUntil(() => w.shop.orderStatus(held.id) === 'completed', {
      timeoutMs: 30_000,
      what: 'the approved order delivered',
    });
    expect(unexpectedDialogs).toEqual([]);
  }, 90_000);
});

describe('what another page cannot do', () => {
  it('an action without the CSRF token is refused, with it the same call goes through', async () => {
    const page = await newPage(context);
    await page.goto(`${w.url}/`);
    const csrf = (await page.locator('meta[name="csrf-token"]').getAttribute('content')) ?? '';
    expect(csrf.length).toBeGreaterThan(20);
    const call = (token: string | null) =>
      page.evaluate(async (token) => {
        const res = await fetch('/admin/sync', {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...(token !== null && { 'x-csrf-token': token }) },
          body: JSON.stringify({ dryRun: true }),
        });
        return { status: res.status, body: await res.text() };
      }, token);
    const refused = await call(null);
    expect(refused.status).toBe(403);
    expect(refused.body).toContain('CSRF');
    expect((await call('not-the-token')).status).toBe(403);
    expect((await call(csrf)).status).toBe(200);
    await page.close();
  });

  it('a page on another loopback port cannot drive an action, by form or by fetch', async () => {
    const attacker = await serveAttacker(w.url);
    const evil = await newPage(context);
    try {
      const before = syncRuns(w.dbFile).filter((r) => r.kind === 'resync').length;
      // The page reports its fetch on the console, then posts its form (a navigation).
      const fetched = evil.waitForEvent('console', {
        predicate: (m) => m.text().startsWith('fetch: '),
        timeout: 15_000,
      });
      const formAnswer = evil.waitForResponse((r) => r.url() === `${w.url}/admin/resync`, {
        timeout: 15_000,
      });
      // Only until it answers: the page navigates away (its form) on its own.
      await evil.goto(attacker.url, { timeout: 15_000, waitUntil: 'commit' });
      expect((await fetched).text()).toBe('fetch: blocked');
      expect([403, 415]).toContain((await formAnswer).status());
      expect(syncRuns(w.dbFile).filter((r) => r.kind === 'resync').length).toBe(before);
    } finally {
      // The page is left to the browser's close in afterAll: closing it while Chromium still
      // settles its refused form navigation can take as long as the test's timeout.
      // Not awaited: a connection the browser still holds must not hide the test's own failure.
      attacker.server.close();
      attacker.server.closeAllConnections();
    }
  });
});

/** A hostile page on another loopback port: a fetch with credentials, and a text/plain form post. */
async function serveAttacker(target: string): Promise<{ server: Server; url: string }> {
  const body = `<!doctype html>
<form method="POST" action="${target}/admin/resync" enctype="text/plain"><input name='{"x":"' value='"}'></form>
<script>
fetch(${JSON.stringify(`${target}/admin/resync`)}, { method: 'POST', credentials: 'include',
  headers: { 'content-type': 'application/json' }, body: '{}' })
  .then((r) => r.status, () => 'blocked')
  .then((s) => { console.log('fetch: ' + s); document.forms[0].submit(); });
</script>`;
  const server = createServer((_req, res) => {
    res.writeHead(200, { 'content-type': 'text/html' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/` };
}

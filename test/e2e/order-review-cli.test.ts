import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { RESENT_LINE } from '../../src/fulfillment/delivery-text.js';
import type { ReviewListing } from '../../src/fulfillment/order-review.js';
import { FulfillmentDaemonWorld, WOO_STORE } from '../helpers/fulfillment-daemon-world.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Spending limits as an operator meets them: the daemon as a child process holds an order over
 * `maxUnitsPerLine` (default 50) for review, and `orders review` / `orders approve` go through
 * its admin API (the daemon holds the lock, so an in-process command could not run).
 */

let w: FulfillmentDaemonWorld;
beforeAll(async () => {
  w = await FulfillmentDaemonWorld.start({ honoursIdempotencyKeys: true });
  await w.startDaemon();
}, 60_000);

afterAll(async () => {
  await w?.stop();
});

const unitsBoughtOf = (e: SandboxEntry) =>
  w.supplier
    .ledger()
    .orders.flatMap((o) => o.items)
    .filter((i) => i.region === e.region && i.denomination === e.denomination)
    .reduce((s, i) => s + i.qty, 0);

describe('orders review / approve through the running daemon', () => {
  it('holds an order over a limit with an alert, lists it, lets a later order through, and buys it whole once approved', async () => {
    const [big, small] = w.catalog as [SandboxEntry, SandboxEntry];
    const held = w.placeOrder([{ sku: w.skus[0] as string, quantity: 60 }]);
    const rows = await waitUntil(
      async () => {
        const r = await w.cli('orders', 'review', '--json');
        const listed = JSON.parse(r.stdout || '[]') as ReviewListing[];
        return listed.length === 1 ? listed : null;
      },
      { timeoutMs: 30_000, what: 'the order listed for review' },
    );
    expect(rows[0]).toMatchObject({
      store: WOO_STORE,
      orderId: String(held.id),
      buyer: 'buyer@example.com',
      limit: 'maxUnitsPerLine',
      valueUsd: (60 * big.priceCents) / 100,
    });
    const text = await w.cli('orders', 'review');
    expect(text.stdout).toContain(`${WOO_STORE}  order ${held.id}`);
    expect((await w.statusJson()).alerts.map((a) => a.kind)).toContain('order-review');

    const later = w.placeOrder([{ sku: w.skus[1] as string, quantity: 1 }]);
    await waitUntil(() => w.shop.orderStatus(later.id) === 'completed', {
      timeoutMs: 30_000,
      what: 'the later order delivered',
    });
    expect(unitsBoughtOf(small)).toBe(1);
    expect(unitsBoughtOf(big)).toBe(0);

    const approved = await w.cli('orders', 'approve', '--store', WOO_STORE, '--order', String(held.id));
    expect(approved.code).toBe(0);
    expect(approved.stdout).toMatch(/approved/);
    await waitUntil(() => w.shop.orderStatus(held.id) === 'completed', {
      timeoutMs: 30_000,
      what: 'the approved order delivered',
    });
    expect(unitsBoughtOf(big)).toBe(60);
    const note = w.shop.notesOf(held.id, { customer: true }).find((n) => n.note.includes('PSN '));
    expect(note?.note.split('\n').filter((l) => l.startsWith('PSN '))).toHaveLength(60);
    expect((await w.statusJson()).alerts.map((a) => a.kind)).not.toContain('order-review');
    const again = await w.cli('orders', 'approve', '--store', WOO_STORE, '--order', String(held.id));
    expect(again.code).toBe(2);
  }, 120_000);

  it('orders resend through the daemon puts the same codes in front of the buyer and buys nothing; report --csv adds up to what the supplier charged', async () => {
    const order = w.placeOrder([{ sku: w.skus[2] as string, quantity: 2 }]);
    await waitUntil(() => w.shop.orderStatus(order.id) === 'completed', {
      timeoutMs: 30_000,
      what: 'delivered',
    });
    const posts = w.supplier.ledger().requests['POST /orders'];
    const resent = await w.cli('orders', 'resend', '--store', WOO_STORE, '--order', String(order.id));
    expect(resent.code).toBe(0);
    expect(resent.stdout).toMatch(/2 code\(s\).*nothing bought/);
    const notes = w.shop.notesOf(order.id, { customer: true }).filter((n) => n.note.includes('[psnb2b:'));
    expect(notes).toHaveLength(2);
    const again = notes.find((n) => n.note.startsWith(RESENT_LINE));
    const first = notes.find((n) => n !== again);
    expect(again?.note).toBe(`${RESENT_LINE}\n${first?.note}`);
    expect(w.supplier.ledger().requests['POST /orders']).toBe(posts);
    // Recorded, with who asked (the CLI's user, through the daemon's admin API) and when.
    const listed = await w.cli('orders');
    expect(listed.stdout).toMatch(
      new RegExp(`${WOO_STORE} order ${order.id} +2 code\\(s\\) .* by cli: .+ at \\d{4}-`),
    );

    const report = await w.cli('report', '--csv');
    expect(report.code).toBe(0);
    const total = report.stdout.trim().split('\n').at(-1)?.split(',') ?? [];
    const charged = w.supplier
      .ledger()
      .orders.filter((o) => o.status === 'delivered')
      .reduce((s, o) => s + o.totalCents, 0);
    expect(total[0]).toBe('total');
    expect(Math.round(Number(total[3]) * 100)).toBe(charged);

    // A day that does not exist is refused, naming its flag: bad usage, exit 2.
    const bad = await w.cli('report', '--from', '2026-02-30');
    expect(bad.code).toBe(2);
    expect(bad.stderr).toMatch(/--from: "2026-02-30" is not a day/);
    const backwards = await w.cli('report', '--from', '2026-12-02', '--to', '2026-12-01');
    expect(backwards.code).toBe(2);
    expect(backwards.stderr).toMatch(/--to: .*before --from/);
  }, 120_000);
});

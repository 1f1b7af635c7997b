import { afterEach, describe, expect, it } from 'vitest';
import { formatSku } from '../../config/sku-template.js';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { linesInState } from '../../src/fulfillment/fulfillment-ledger.js';
import { approveOrder, rejectOrder, reviewListing } from '../../src/fulfillment/order-review.js';
import { readStatus } from '../../src/status.js';
import { type FulfillmentWorld, startFulfillmentWorld } from '../helpers/fulfillment-world.js';

/**
 * design-notes "Spending limits": an order over a limit is held whole for review before any
 * purchase; other orders are not held back; an operator approves (bought as usual) or rejects
 * (never bought, a note to the buyer). Real HTTP to the sandbox supplier and the fake WooCommerce.
 */

let w: FulfillmentWorld | undefined;
afterEach(async () => {
  await w?.close();
  w = undefined;
});

const HOUR = 3_600_000;
const STORE = 'shop-w';
const skuOf = (e: SandboxEntry) => formatSku('PSN-{region}-{denomination}', e);
const byPrice = (world: FulfillmentWorld) =>
  [...world.supplier.catalog()].sort((x, y) => x.priceCents - y.priceCents);
const unitsBoughtOf = (world: FulfillmentWorld, e: SandboxEntry) =>
  world.supplier
    .ledger()
    .orders.flatMap((o) => o.items)
    .filter((i) => i.region === e.region && i.denomination === e.denomination)
    .reduce((s, i) => s + i.qty, 0);
const codeNotes = (world: FulfillmentWorld, id: number) =>
  (world.woo?.notesOf(id, { customer: true }) ?? []).filter((n) => n.note.includes('PSN '));

/** An entry and a quantity worth just over $60 (and under $100), in stock. */
async function overSixtyUsd(world: FulfillmentWorld): Promise<[SandboxEntry, number]> {
  const e = byPrice(world).find((x) => x.priceCents <= 2_000) as SandboxEntry;
  world.supplier.setQty(e.region, e.denomination, 1_000);
  await world.runtime.job.run({});
  return [e, Math.floor(6_000 / e.priceCents) + 1];
}

async function wooWorld(limits: Parameters<typeof startFulfillmentWorld>[0] = {}) {
  w = await startFulfillmentWorld({ withWooCommerce: true, ...limits });
  const world = w;
  const woo = world.woo;
  if (!woo) throw new Error('no WooCommerce store');
  const place = (e: SandboxEntry, quantity: number, email = 'buyer@example.com') =>
    woo.placeOrder({ lines: [{ sku: skuOf(e), quantity }], paymentMethod: 'stripe', paid: true, email });
  const completed = (id: number) => woo.orderStatus(id) === 'completed';
  return { world, woo, place, completed };
}

describe('spending limits', () => {
  it('an order over maxOrderUsd is held for review with an alert, listed, bought only after approve and delivered whole; a later order is not held back', async () => {
    const { world, woo, place, completed } = await wooWorld({ limits: { maxOrderUsd: 100 } });
    const [cheap] = byPrice(world) as [SandboxEntry];
    const dear = byPrice(world).at(-1) as SandboxEntry;
    const units = Math.floor(10_000 / dear.priceCents) + 1; // just over $100
    const big = place(dear, units, 'big@example.com');
    await world.until(() => linesInState(world.runtime.db, 'held').length === 1, 'held for review');
    expect(linesInState(world.runtime.db, 'held')[0]?.holdReason).toBe('review');
    const status = readStatus(world.runtime.db, [{ name: STORE, type: 'woocommerce' }]);
    expect(status.alerts.map((a) => a.kind)).toContain('order-review');
    const listed = reviewListing(world.runtime.db);
    expect(listed).toHaveLength(1);
    expect(listed[0]).toMatchObject({
      store: STORE,
      orderId: String(big.id),
      buyer: 'big@example.com',
      limit: 'maxOrderUsd',
      valueUsd: (units * dear.priceCents) / 100,
    });

    const normal = place(cheap, 1);
    await world.until(() => completed(normal.id), 'the later, normal order delivered');
    expect(unitsBoughtOf(world, dear)).toBe(0);
    for (let i = 0; i < 3; i++) await world.pass();
    expect(unitsBoughtOf(world, dear)).toBe(0);

    const message = await approveOrder(world.f.ctx, STORE, String(big.id));
    expect(message).toContain('approved');
    await world.until(() => completed(big.id), 'approved order delivered');
    expect(unitsBoughtOf(world, dear)).toBe(units);
    expect(
      codeNotes(world, big.id)[0]
        ?.note.split('\n')
        .filter((l) => l.startsWith('PSN ')),
    ).toHaveLength(units);
    expect(reviewListing(world.runtime.db)).toHaveLength(0);
    expect(
      readStatus(world.runtime.db, [{ name: STORE, type: 'woocommerce' }]).alerts.map((a) => a.kind),
    ).not.toContain('order-review');
    expect(woo.orderStatus(normal.id)).toBe('completed');
  });

  it('reject: never bought, a note to the buyer, its lines dropped', async () => {
    const { world, woo, place } = await wooWorld({ limits: { maxOrderUsd: 50 } });
    const dear = byPrice(world).at(-1) as SandboxEntry;
    const units = Math.floor(5_000 / dear.priceCents) + 1;
    const big = place(dear, units);
    await world.until(() => reviewListing(world.runtime.db).length === 1, 'held for review');
    await rejectOrder(world.f.ctx, STORE, String(big.id));
    for (let i = 0; i < 3; i++) await world.pass();
    expect(world.supplier.ledger().requests['POST /orders']).toBe(0);
    expect(linesInState(world.runtime.db, 'dropped')).toHaveLength(1);
    expect(reviewListing(world.runtime.db)).toHaveLength(0);
    expect(woo.notesOf(big.id, { customer: true }).some((n) => /will be refunded/.test(n.note))).toBe(true);
    await expect(approveOrder(world.f.ctx, STORE, String(big.id))).rejects.toThrow(/not held for review/);
  });

  it('maxUnitsPerLine: a line of more units than the limit is held for review', async () => {
    const { world, place } = await wooWorld({ limits: { maxUnitsPerLine: 5 } });
    const [cheap] = byPrice(world) as [SandboxEntry];
    place(cheap, 6);
    await world.until(() => reviewListing(world.runtime.db).length === 1, 'held for review');
    expect(reviewListing(world.runtime.db)[0]?.limit).toBe('maxUnitsPerLine');
    expect(world.supplier.ledger().requests['POST /orders']).toBe(0);
  });

  it('maxDailyUsd counts purchases of a rolling 24 hours', async () => {
    const { world, place, completed } = await wooWorld({ limits: { maxDailyUsd: 100 } });
    const [dear, units] = await overSixtyUsd(world); // two do not fit in $100
    let skew = 0;
    world.f.ctx.now = () => Date.now() + skew;
    const first = place(dear, units, 'a@example.com');
    await world.until(() => completed(first.id), 'first delivered');
    const second = place(dear, units, 'b@example.com');
    await world.until(() => reviewListing(world.runtime.db).length === 1, 'second held');
    expect(reviewListing(world.runtime.db)[0]).toMatchObject({
      orderId: String(second.id),
      limit: 'maxDailyUsd',
    });
    skew = 25 * HOUR;
    const third = place(dear, units, 'c@example.com');
    await world.until(() => completed(third.id), 'a day later the third is bought');
    expect(completed(second.id)).toBe(false);
  });

  it('maxCustomerDailyUsd counts one buyer email only', async () => {
    const { world, place, completed } = await wooWorld({ limits: { maxCustomerDailyUsd: 100 } });
    const [dear, units] = await overSixtyUsd(world);
    const first = place(dear, units, 'same@example.com');
    await world.until(() => completed(first.id), 'first delivered');
    const other = place(dear, units, 'other@example.com');
    await world.until(() => completed(other.id), 'another buyer is not held');
    place(dear, units, 'same@example.com');
    await world.until(() => reviewListing(world.runtime.db).length === 1, 'same buyer held');
    expect(reviewListing(world.runtime.db)[0]).toMatchObject({
      buyer: 'same@example.com',
      limit: 'maxCustomerDailyUsd',
    });
  });
});

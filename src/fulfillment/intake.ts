import { raiseAlert, resolveAlert } from '../alerts.js';
import { type Db, immediate } from '../db/open.js';
import { skuState } from '../db/sku-cache-table.js';
import { describeSafeError, toSafeError } from '../errors.js';
import { loadSnapshot } from '../inventory/snapshot-store.js';
import type { Logger } from '../log.js';
import { entryForSku, entryKey, type SkuMapping } from '../sku.js';
import type { ShopOrder, ShopOrders, Storefront } from '../storefront.js';
import { cancelDelivery, failDelivery, unsettledDeliveryOf } from './delivery-ledger.js';
import { afterPoll, flowPollDue, type LastPoll } from './flow-polling.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import {
  assignedCount,
  deliveredCount,
  getLine,
  insertLine,
  isOwed,
  linesOfOrder,
  moveLine,
  poolUndelivered,
  setLine,
  unitsInActiveIntents,
} from './fulfillment-ledger.js';
import { intakeWindow, type SweepMark } from './intake-window.js';
import { recordLinePrice } from './margin.js';
import { forgetStaleReads, rememberRead } from './order-reads.js';

/**
 * Intake: the only writer of what the shops say is owed. One idempotent intake, keyed by (store,
 * order id, line id), fed by polling (the fulfillment pass and the inventory job share one poll),
 * by webhooks and by the re-reads right before buying and delivering. Snapshots are applied in the
 * shop's own `updatedAt` order: one older than the newest applied for that order is ignored, so a
 * listing read before a refund never undoes it. A reduction (refund, cancel) frees units in this
 * order: not yet bought, then bought but undelivered codes to the pool. Delivered units are never
 * taken back.
 */

export interface IntakeContext {
  db: Db;
  mapping: SkuMapping;
  /** entryKeys the supplier lists (or listed); a matching SKU outside it is held with an alert. */
  knownEntries: () => ReadonlySet<string>;
  log: Logger;
  now: () => number;
}

export interface IntakeResult {
  newLines: number;
  reduced: number;
  pooled: number;
  /** The snapshot was older than one already applied: nothing was written. */
  stale: boolean;
}

type ShopOrdersOf = Storefront & { orders: ShopOrders };

/** The entries the supplier lists, read from the snapshot once for a whole batch of orders. */
export function knownEntriesOf(db: Db): () => ReadonlySet<string> {
  let known: ReadonlySet<string> | undefined;
  return () => {
    known ??= new Set(
      loadSnapshot(db)
        .filter((r) => r.listed)
        .map((r) => entryKey(r)),
    );
    return known;
  };
}

export function intakeContext(ctx: FulfillmentContext, knownEntries = knownEntriesOf(ctx.db)): IntakeContext {
  return { db: ctx.db, mapping: ctx.mapping, knownEntries, log: ctx.log, now: ctx.now };
}

const polls = new WeakMap<FulfillmentContext, Promise<number>>();
/** Each store's last sweep (memory only: a restarted process sweeps first). */
const sweeps = new WeakMap<FulfillmentContext, Map<string, SweepMark>>();
const lastPolls = new WeakMap<FulfillmentContext, LastPoll>();

/**
 * Polls every store for orders changed since its cursor (the shop's own time, minus an overlap:
 * a few seconds on most polls, two minutes on a sweep once a minute, intake-window.ts).
 * A poll already running is joined, never doubled: the fulfillment pass and the inventory job
 * (which takes orders in right before every push) both ask.
 */
export function pollIntake(ctx: FulfillmentContext): Promise<number> {
  const running = polls.get(ctx);
  if (running) return running;
  forgetStaleReads(ctx);
  const at = ctx.now();
  // Stores are read side by side, so one that is down (and retried) does not hold up another.
  const poll = Promise.all([...ctx.stores].map(([name, store]) => pollStore(ctx, name, store)))
    .then((counts) => {
      const sales = counts.reduce((a, b) => a + b, 0);
      lastPolls.set(ctx, afterPoll(lastPolls.get(ctx), at, sales));
      return sales;
    })
    .finally(() => polls.delete(ctx));
  polls.set(ctx, poll);
  return poll;
}

async function pollStore(ctx: FulfillmentContext, name: string, store: ShopOrdersOf): Promise<number> {
  const row = ctx.db.prepare('SELECT cursor FROM intake_cursors WHERE store = ?').get(name) as
    | { cursor: string }
    | undefined;
  const cursor = row?.cursor ?? null;
  const marks = sweeps.get(ctx) ?? new Map<string, SweepMark>();
  sweeps.set(ctx, marks);
  try {
    const readAt = ctx.now();
    const window = intakeWindow(cursor, marks.get(name), readAt);
    const { orders, latest } = await store.orders.listChangedOrders(window.since);
    let n = 0;
    const intake = intakeContext(ctx);
    for (const order of orders) {
      n += takeInOrder(intake, name, order).newLines;
      rememberRead(ctx, name, order, readAt);
    }
    if (latest) {
      ctx.db
        .prepare(
          'INSERT INTO intake_cursors (store, cursor) VALUES (?, ?) ON CONFLICT (store) DO UPDATE SET cursor = excluded.cursor',
        )
        .run(name, latest);
    }
    // Only a sweep that listed counts: one that failed is tried again on the next poll.
    const from = cursor ?? latest;
    if (window.sweep && from) marks.set(name, { at: readAt, cursor: from });
    resolveAlert(ctx.db, 'intake', name, ctx.now());
    return n;
  } catch (e) {
    const safe = toSafeError(e);
    raiseAlert(ctx.db, 'intake', name, `cannot read orders: ${describeSafeError(safe)}`, ctx.now());
    ctx.log.warn(`${name}: order intake failed: ${describeSafeError(safe)}`, { ...LOG, store: name });
    if (safe.retryable !== false) ctx.unreachable.add(name);
    return 0;
  }
}

/** Whether the worker tick polls too: the last poll found new sales and more are due by now. */
export function salesFlowing(ctx: FulfillmentContext): boolean {
  return flowPollDue(lastPolls.get(ctx), ctx.now());
}

/** A webhook said this order changed: read it and take it in. */
export async function intakeOne(ctx: FulfillmentContext, storeName: string, orderId: string): Promise<void> {
  const store = ctx.stores.get(storeName);
  if (!store) return;
  const readAt = ctx.now();
  const order = await store.orders.getOrder(orderId);
  if (!order) return;
  takeInOrder(intakeContext(ctx), storeName, order);
  rememberRead(ctx, storeName, order, readAt);
}

/**
 * Whether this snapshot is older than the newest one applied for the order (then it is ignored),
 * recording its time otherwise. Inside the intake's transaction.
 */
function staleSnapshot(ctx: IntakeContext, store: string, order: ShopOrder): boolean {
  const { db } = ctx;
  const at = Date.parse(order.updatedAt);
  // Orders with nothing of ours are never written, so their times are not kept either.
  const ours = order.lines.some((l) => l.sku !== null && entryForSku(ctx.mapping, l.sku) !== null);
  if (!ours || !Number.isFinite(at)) return false;
  const last = db
    .prepare('SELECT shop_updated_at AS t FROM intake_orders WHERE store = ? AND order_id = ?')
    .get(store, order.id) as { t: number } | undefined;
  if (last && at < last.t) return true;
  db.prepare(
    `INSERT INTO intake_orders (store, order_id, shop_updated_at) VALUES (?, ?, ?)
     ON CONFLICT (store, order_id) DO UPDATE SET shop_updated_at = excluded.shop_updated_at`,
  ).run(store, order.id, at);
  return false;
}

/** What the shop now says a line owes (delivered units included): refunds and cancels lower it. */
function owedNow(order: ShopOrder, shopLineId: string, delivered: number): number {
  const shopLine = order.lines.find((l) => l.id === shopLineId);
  if (!shopLine || order.closed) return delivered;
  return shopLine.unitsToFulfill + delivered;
}

/**
 * A refund or cancel that meets a delivery not yet ended. If none of its writes can have reached
 * the shop, the delivery is cancelled and its codes freed, so the reduction below pools them and
 * nothing is written into the order. If one may have (the buyer may hold the codes), they are
 * never pooled: a closed order fails the delivery with an alert; otherwise the shop may already
 * count units we have not recorded as delivered yet, so the delivery finishes first and the next
 * read reconciles. Returns whether intake goes on with the order.
 */
function settleUnendedDelivery(ctx: IntakeContext, store: string, order: ShopOrder): boolean {
  const { db } = ctx;
  const d = unsettledDeliveryOf(db, store, order.id);
  if (!d) return true;
  const reduced =
    order.closed ||
    linesOfOrder(db, store, order.id).some(
      (l) => isOwed(l) && owedNow(order, l.lineId, deliveredCount(db, l.id)) < l.units,
    );
  if (!reduced) return true;
  const now = ctx.now();
  if (!d.mayHaveWritten) {
    cancelDelivery(db, d, now);
    ctx.log.info(
      `${store} order ${order.number}: changed before its delivery was written; delivery cancelled`,
      {
        ...LOG,
        store,
      },
    );
    return true;
  }
  if (order.closed) {
    failDelivery(
      db,
      d,
      'the order was refunded or cancelled while its codes were being written (a write may have reached it, so they are not pooled)',
      null,
      now,
    );
  }
  return false;
}

export function takeInOrder(ctx: IntakeContext, store: string, order: ShopOrder): IntakeResult {
  const { db } = ctx;
  const now = ctx.now();
  const result: IntakeResult = { newLines: 0, reduced: 0, pooled: 0, stale: false };
  const known = ctx.knownEntries();
  // The order's last change by the shop's clock: its payment, or later (shops keep whole seconds).
  const saleAt = Date.parse(order.updatedAt);
  immediate(db, () => {
    if (staleSnapshot(ctx, store, order)) {
      result.stale = true;
      ctx.log.debug(`${store} order ${order.number}: an older snapshot (${order.updatedAt}) ignored`, {
        ...LOG,
        store,
      });
      return;
    }
    if (!settleUnendedDelivery(ctx, store, order)) return;
    for (const shopLine of order.lines) {
      const entry = shopLine.sku ? entryForSku(ctx.mapping, shopLine.sku) : null;
      if (!entry || !shopLine.sku) continue; // not ours
      const existing = getLine(db, store, order.id, shopLine.id);
      const paid = { paidUnitCents: shopLine.paidUnitCents, currency: order.currency };
      if (existing) recordLinePrice(db, existing.id, paid);
      if (!existing) {
        // Only paid, open orders create work; our own hold keeps an order ours.
        if (!(order.paid || order.ourHold) || order.closed || shopLine.unitsToFulfill <= 0) continue;
        const key = entryKey(entry);
        const unknown = !known.has(key);
        // A SKU on several products of this shop is unmatched: its sales wait for the merchant.
        const duplicate = !unknown && skuState(db, store, shopLine.sku) === 'duplicate';
        const id = insertLine(
          db,
          {
            store,
            orderId: order.id,
            lineId: shopLine.id,
            orderNumber: order.number,
            sku: shopLine.sku,
            entryKey: key,
            units: shopLine.unitsToFulfill,
            receivedAt: now,
            ...(Number.isFinite(saleAt) && { saleAt }),
            ...(unknown && { state: 'held' as const, holdReason: 'unknown-entry' as const }),
            ...(duplicate && { state: 'held' as const, holdReason: 'duplicate-sku' as const }),
          },
          now,
        );
        recordLinePrice(db, id, paid);
        result.newLines++;
        ctx.log.info(
          `${store} order ${order.number}: sale received, ${shopLine.unitsToFulfill}× ${shopLine.sku}`,
          {
            component: 'fulfillment',
            store,
          },
        );
        if (duplicate) {
          raiseAlert(
            db,
            'duplicate-sku',
            `${store}/${shopLine.sku}`,
            `${store}: SKU ${shopLine.sku} is on more than one product; the sale in order ${order.number} is held until only one carries it`,
            now,
          );
        }
        if (unknown) {
          raiseAlert(
            db,
            'unknown-entry',
            `${store}/${order.number}/${shopLine.id}`,
            `order ${order.number} line ${shopLine.sku}: no such entry in the supplier catalogue; line held`,
            now,
          );
        }
        continue;
      }
      if (existing.state === 'delivered' || existing.state === 'dropped') {
        if (existing.state === 'delivered' && order.closed) {
          raiseAlert(
            db,
            'refund-after-delivery',
            `${store}/${order.number}`,
            `order ${order.number} was cancelled or refunded after its codes were delivered: the codes cannot be taken back; consider a claim or contacting the buyer`,
            now,
          );
        }
        continue;
      }
      const delivered = deliveredCount(db, existing.id);
      const owed = owedNow(order, shopLine.id, delivered);
      if (owed > existing.units) {
        setLine(db, existing.id, { units: owed }, now);
        continue;
      }
      if (owed === existing.units) continue;
      // Reduction: free not-yet-bought units first, then pool undelivered codes.
      result.reduced++;
      const assigned = assignedCount(db, existing.id);
      const inFlight = unitsInActiveIntents(db, existing.id);
      const unbought = Math.max(0, existing.units - assigned - inFlight);
      const stillToFree = existing.units - owed - unbought;
      if (stillToFree > 0) result.pooled += poolUndelivered(db, existing.id, stillToFree);
      const next =
        owed === 0 && delivered === 0
          ? 'dropped'
          : owed === delivered && delivered > 0
            ? 'delivered'
            : existing.state;
      if (next === existing.state) setLine(db, existing.id, { units: owed }, now);
      else moveLine(db, existing, next, now, { units: owed });
      ctx.log.info(`order ${order.number} line ${existing.sku}: owed ${existing.units} → ${owed}`, {
        component: 'fulfillment',
        store,
      });
    }
    // A line the shop no longer lists at all (edited order) owes nothing more.
    const listed = new Set(order.lines.map((l) => l.id));
    for (const l of linesOfOrder(db, store, order.id)) {
      if (!listed.has(l.lineId) && isOwed(l)) {
        const delivered = deliveredCount(db, l.id);
        poolUndelivered(db, l.id, l.units);
        moveLine(db, l, delivered > 0 ? 'delivered' : 'dropped', now, { units: delivered });
        result.reduced++;
      }
    }
  });
  return result;
}

import { raiseAlert } from '../alerts.js';
import { type Db, immediate } from '../db/open.js';
import { skuState } from '../db/sku-cache-table.js';
import type { Logger } from '../log.js';
import { entryForSku, entryKey, type SkuMapping } from '../sku.js';
import type { ShopOrder } from '../storefront.js';
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

/**
 * One idempotent intake, keyed by (store, order id, line id), fed by polling, by webhooks and
 * by the re-reads right before buying and delivering. It only ever records what the shop says
 * is owed; a reduction (refund, cancel) frees units in this order: not yet bought, then bought
 * but undelivered codes to the pool. Delivered units are never taken back.
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
}

function hasPendingDelivery(db: Db, store: string, orderId: string): boolean {
  return (
    db
      .prepare("SELECT 1 FROM deliveries WHERE store = ? AND order_id = ? AND state = 'pending'")
      .get(store, orderId) !== undefined
  );
}

export function takeInOrder(ctx: IntakeContext, store: string, order: ShopOrder): IntakeResult {
  const { db } = ctx;
  const now = ctx.now();
  const result: IntakeResult = { newLines: 0, reduced: 0, pooled: 0 };
  // Mid-delivery the shop may already count units we have not recorded as delivered yet; the
  // delivery finishes first, and the next read reconciles.
  if (hasPendingDelivery(db, store, order.id)) return result;
  const known = ctx.knownEntries();
  immediate(db, () => {
    for (const shopLine of order.lines) {
      const entry = shopLine.sku ? entryForSku(ctx.mapping, shopLine.sku) : null;
      if (!entry || !shopLine.sku) continue; // not ours
      const existing = getLine(db, store, order.id, shopLine.id);
      if (!existing) {
        // Only paid, open orders create work; our own hold keeps an order ours.
        if (!(order.paid || order.ourHold) || order.closed || shopLine.unitsToFulfill <= 0) continue;
        const key = entryKey(entry);
        const unknown = !known.has(key);
        // A SKU on several products of this shop is unmatched: its sales wait for the merchant.
        const duplicate = !unknown && skuState(db, store, shopLine.sku) === 'duplicate';
        insertLine(
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
            ...(unknown && { state: 'held' as const, holdReason: 'unknown-entry' as const }),
            ...(duplicate && { state: 'held' as const, holdReason: 'duplicate-sku' as const }),
          },
          now,
        );
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
      const owed = order.closed ? delivered : shopLine.unitsToFulfill + delivered;
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

import { randomUUID } from 'node:crypto';
import { raiseAlert, resolveAlert } from '../alerts.js';
import { immediate } from '../db/open.js';
import { describeSafeError, toSafeError } from '../errors.js';
import { entryForSku, parseEntryKey } from '../sku.js';
import type { Delivery } from '../storefront.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import {
  deliveredCount,
  type LineRow,
  linesOfOrder,
  setLine,
  undeliveredCodesOf,
} from './fulfillment-ledger.js';
import { takeInOrder } from './intake.js';

/**
 * Delivering stored codes into shop orders. A delivery is created (codes reserved for it) only
 * after the order is read again; then each shop write is a recovery point of its own, and the
 * adapter reads back before writing, so a crash between a write and our record of it never
 * sends the buyer a second, different set.
 */

const MAX_BACKOFF_MS = 10 * 60_000;
const ALERT_AFTER_ATTEMPTS = 5;

interface DeliveryRow {
  id: string;
  store: string;
  orderId: string;
  step: number;
  completes: number;
  attempts: number;
  nextTryAt: number;
  createdAt: number;
}

export async function startDeliveries(
  ctx: FulfillmentContext,
  knownEntries: () => ReadonlySet<string>,
): Promise<number> {
  const { db } = ctx;
  const ready = db
    .prepare(
      `SELECT DISTINCT l.store, l.order_id AS orderId FROM shop_lines l JOIN codes c ON c.line = l.id
       WHERE c.delivered_at IS NULL AND c.delivery_id IS NULL AND l.state IN ('open', 'held')
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.store = l.store AND d.order_id = l.order_id AND d.state = 'pending')`,
    )
    .all() as { store: string; orderId: string }[];
  let started = 0;
  for (const { store: storeName, orderId } of ready) {
    const store = ctx.stores.get(storeName);
    if (!store || ctx.unreachable.has(storeName)) continue;
    let order: Awaited<ReturnType<typeof store.orders.getOrder>>;
    try {
      // Right before delivering: a refund or cancellation sends the codes to the pool instead.
      order = await store.orders.getOrder(orderId);
    } catch (e) {
      ctx.unreachable.add(storeName);
      ctx.log.warn(
        `order ${orderId}: cannot read it before delivering (${describeSafeError(toSafeError(e))}); will retry`,
        {
          ...LOG,
          store: storeName,
        },
      );
      continue;
    }
    if (!order) continue;
    takeInOrder({ db, mapping: ctx.mapping, knownEntries, log: ctx.log, now: ctx.now }, storeName, order);
    if (order.merchantHold) continue;
    const shopOrder = order;
    const created = immediate(db, () => {
      const lines = linesOfOrder(db, storeName, orderId).filter(
        (l) => l.state === 'open' || l.state === 'held',
      );
      const withCodes = lines
        .map((l) => ({ line: l, codes: undeliveredCodesOf(db, l.id) }))
        .filter((x) => x.codes.length);
      if (withCodes.length === 0) return false;
      const id = randomUUID();
      const allOursDelivered =
        shopOrder.lines.every((sl) => sl.sku !== null && entryForSku(ctx.mapping, sl.sku) !== null) &&
        linesOfOrder(db, storeName, orderId).every((l) => {
          if (l.state === 'dropped' || l.state === 'delivered') return true;
          const now = withCodes.find((w) => w.line.id === l.id)?.codes.length ?? 0;
          return deliveredCount(db, l.id) + now >= l.units;
        });
      db.prepare(
        `INSERT INTO deliveries (id, store, order_id, completes, state, created_at) VALUES (?, ?, ?, ?, 'pending', ?)`,
      ).run(id, storeName, orderId, allOursDelivered ? 1 : 0, ctx.now());
      const mark = db.prepare('UPDATE codes SET delivery_id = ? WHERE id = ?');
      for (const w of withCodes) for (const c of w.codes) mark.run(id, c.id);
      return true;
    });
    if (created) started++;
  }
  return started;
}

function buildDelivery(ctx: FulfillmentContext, d: DeliveryRow): Delivery {
  const rows = ctx.db
    .prepare(
      `SELECT c.code_enc AS codeEnc, c.entry_key AS entryKey, c.currency, c.supplier_order_id AS supplierOrderId,
              l.line_id AS lineId
       FROM codes c JOIN shop_lines l ON l.id = c.line WHERE c.delivery_id = ? ORDER BY l.id, c.unit_index`,
    )
    .all(d.id) as {
    codeEnc: Buffer;
    entryKey: string;
    currency: string;
    supplierOrderId: string;
    lineId: string;
  }[];
  const lines = new Map<string, Delivery['lines'][number]>();
  for (const r of rows) {
    const line = lines.get(r.lineId) ?? { lineId: r.lineId, codes: [] };
    line.codes.push({
      ...parseEntryKey(r.entryKey),
      currency: r.currency,
      code: ctx.vault.decrypt(r.codeEnc),
    });
    lines.set(r.lineId, line);
  }
  return {
    deliveryId: d.id,
    orderId: d.orderId,
    lines: [...lines.values()],
    supplierOrderIds: [...new Set(rows.map((r) => r.supplierOrderId))],
    deliveredAt: new Date(d.createdAt).toISOString(),
    completesOrder: d.completes === 1,
  };
}

export async function runDeliveries(ctx: FulfillmentContext): Promise<{ done: number }> {
  const { db } = ctx;
  const pending = db
    .prepare(
      `SELECT id, store, order_id AS orderId, step, completes, attempts, next_try_at AS nextTryAt, created_at AS createdAt
       FROM deliveries WHERE state = 'pending' ORDER BY created_at`,
    )
    .all() as DeliveryRow[];
  let done = 0;
  for (const d of pending) {
    if (d.nextTryAt > ctx.now()) continue;
    const store = ctx.stores.get(d.store);
    if (!store || ctx.unreachable.has(d.store)) continue;
    const steps = store.orders.deliverySteps;
    const delivery = buildDelivery(ctx, d);
    let step = d.step;
    try {
      while (step < steps.length) {
        await store.orders.runDeliveryStep(steps[step] as string, delivery);
        step++;
        const reached = step;
        immediate(db, () => db.prepare('UPDATE deliveries SET step = ? WHERE id = ?').run(reached, d.id));
      }
    } catch (e) {
      const safe = toSafeError(e);
      if (safe.retryable && (safe.status === undefined || safe.status >= 500 || safe.status === 429)) {
        ctx.unreachable.add(d.store);
      }
      const attempts = d.attempts + 1;
      const wait = Math.min(MAX_BACKOFF_MS, 2_000 * 2 ** Math.min(attempts, 10));
      immediate(db, () => {
        db.prepare('UPDATE deliveries SET attempts = ?, next_try_at = ?, last_error = ? WHERE id = ?').run(
          attempts,
          ctx.now() + wait,
          JSON.stringify(safe),
          d.id,
        );
        if (attempts >= ALERT_AFTER_ATTEMPTS) {
          raiseAlert(
            db,
            'delivery-failing',
            d.id,
            `delivery into ${d.store} order ${d.orderId} keeps failing: ${describeSafeError(safe)}`,
            ctx.now(),
          );
        }
      });
      ctx.log.warn(
        `delivery into ${d.store} order ${d.orderId} failed at step ${steps[step]} (attempt ${attempts}): ${describeSafeError(safe)}; retrying in ${Math.round(wait / 1000)} s`,
        { ...LOG, store: d.store },
      );
      continue;
    }
    const heldLines = immediate(db, () => {
      const now = ctx.now();
      db.prepare("UPDATE deliveries SET state = 'done', step = ?, done_at = ? WHERE id = ?").run(
        step,
        now,
        d.id,
      );
      db.prepare('UPDATE codes SET delivered_at = ? WHERE delivery_id = ?').run(now, d.id);
      const held: LineRow[] = [];
      for (const l of linesOfOrder(db, d.store, d.orderId)) {
        if (l.state !== 'open' && l.state !== 'held') continue;
        if (l.holdReason) held.push(l);
        if (deliveredCount(db, l.id) >= l.units)
          setLine(db, l.id, { state: 'delivered', holdReason: null }, now);
      }
      resolveAlert(db, 'delivery-failing', d.id, now);
      resolveAlert(db, 'max-wait', `${d.store}/${d.orderId}`, now);
      return held;
    });
    done++;
    const count = delivery.lines.reduce((s, l) => s + l.codes.length, 0);
    ctx.log.info(`delivered ${count} code(s) into ${d.store} order ${d.orderId}`, { ...LOG, store: d.store });
    // A hold we placed while the buyer waited is lifted once the codes are in (a completed order needs none).
    if (heldLines.length && !delivery.completesOrder) {
      try {
        await store.orders.releaseHold(d.orderId);
      } catch (e) {
        ctx.log.warn(
          `could not release our hold on order ${d.orderId}: ${describeSafeError(toSafeError(e))}`,
          LOG,
        );
      }
    }
  }
  return { done };
}

import { randomUUID } from 'node:crypto';
import { raiseAlert, resolveAlert } from '../alerts.js';
import { immediate } from '../db/open.js';
import { describeSafeError, QUERY_REFUSED, toSafeError } from '../errors.js';
import { entryForSku, parseEntryKey } from '../sku.js';
import type { Delivery } from '../storefront.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import {
  deliveredCount,
  inList,
  isOwed,
  type LineRow,
  linesOfOrder,
  moveLine,
  undeliveredCodesOf,
} from './fulfillment-ledger.js';
import { intakeContext, takeInOrder } from './intake.js';
import {
  advance,
  assertInitial,
  type DeliveryPoint,
  OWED_LINE_POINTS,
  terminalPoints,
  UnknownPointError,
  unknownPoint,
} from './recovery-points.js';

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
  state: DeliveryPoint;
  /** The name of the last shop write done (null: none yet). */
  step: string | null;
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
       WHERE c.delivered_at IS NULL AND c.delivery_id IS NULL AND l.state IN (${inList(OWED_LINE_POINTS)})
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
    takeInOrder(intakeContext(ctx, knownEntries), storeName, order);
    if (order.merchantHold) continue;
    const shopOrder = order;
    const created = immediate(db, () => {
      const lines = linesOfOrder(db, storeName, orderId).filter(isOwed);
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
      assertInitial('delivery', id, 'pending');
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

/** The index of the step after the one `d.step` names (null: the first); a name the adapter lacks raises. */
export function nextStepIndex(steps: readonly string[], d: Pick<DeliveryRow, 'id' | 'step'>): number {
  if (d.step === null) return 0;
  const at = steps.indexOf(d.step);
  if (at < 0) throw new UnknownPointError('delivery', d.id, `step ${d.step}`);
  return at + 1;
}

/**
 * The deliveries' completer: every delivery not at a terminal point, by its point; a point not
 * in the table raises.
 */
export async function runDeliveries(ctx: FulfillmentContext): Promise<{ done: number }> {
  const { db } = ctx;
  const unsettled = db
    .prepare(
      `SELECT id, store, order_id AS orderId, state, step, completes, attempts, next_try_at AS nextTryAt, created_at AS createdAt
       FROM deliveries WHERE state NOT IN (${inList(terminalPoints('delivery'))}) ORDER BY created_at`,
    )
    .all() as DeliveryRow[];
  let done = 0;
  for (const d of unsettled) {
    switch (d.state) {
      case 'pending':
        if (await attemptDelivery(ctx, d)) done++;
        break;
      default:
        unknownPoint('delivery', d.id, d.state);
    }
  }
  return { done };
}

/** One attempt at a pending delivery: its remaining shop writes, each recorded by name once done. */
async function attemptDelivery(ctx: FulfillmentContext, d: DeliveryRow): Promise<boolean> {
  const { db } = ctx;
  if (d.nextTryAt > ctx.now()) return false;
  const store = ctx.stores.get(d.store);
  if (!store || ctx.unreachable.has(d.store)) return false;
  const steps = store.orders.deliverySteps;
  const delivery = buildDelivery(ctx, d);
  let step = -1;
  try {
    for (step = nextStepIndex(steps, d); step < steps.length; step++) {
      const name = steps[step] as string;
      await store.orders.runDeliveryStep(name, delivery);
      immediate(db, () =>
        db.prepare("UPDATE deliveries SET step = ? WHERE id = ? AND state = 'pending'").run(name, d.id),
      );
    }
  } catch (e) {
    const safe = toSafeError(e);
    if (safe.retryable && (safe.status === undefined || safe.status >= 500 || safe.status === 429)) {
      ctx.unreachable.add(d.store);
    }
    const attempts = d.attempts + 1;
    // A refused document is a bug: the adapter will not send it again, so say so at once.
    const refused = safe.code === QUERY_REFUSED;
    const wait = refused ? MAX_BACKOFF_MS : Math.min(MAX_BACKOFF_MS, 2_000 * 2 ** Math.min(attempts, 10));
    immediate(db, () => {
      db.prepare('UPDATE deliveries SET attempts = ?, next_try_at = ?, last_error = ? WHERE id = ?').run(
        attempts,
        ctx.now() + wait,
        JSON.stringify(safe),
        d.id,
      );
      if (attempts >= ALERT_AFTER_ATTEMPTS || refused) {
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
      `delivery into ${d.store} order ${d.orderId} failed at step ${steps[step] ?? d.step} (attempt ${attempts}): ${describeSafeError(safe)}; retrying in ${Math.round(wait / 1000)} s`,
      { ...LOG, store: d.store },
    );
    return false;
  }
  const heldLines = immediate(db, () => {
    const now = ctx.now();
    advance(db, 'delivery', d.id, 'pending', 'done', now);
    db.prepare('UPDATE deliveries SET done_at = ? WHERE id = ?').run(now, d.id);
    db.prepare('UPDATE codes SET delivered_at = ? WHERE delivery_id = ?').run(now, d.id);
    const held: LineRow[] = [];
    for (const l of linesOfOrder(db, d.store, d.orderId)) {
      if (!isOwed(l)) continue;
      if (l.holdReason) held.push(l);
      if (deliveredCount(db, l.id) >= l.units) moveLine(db, l, 'delivered', now, { holdReason: null });
    }
    resolveAlert(db, 'delivery-failing', d.id, now);
    resolveAlert(db, 'max-wait', `${d.store}/${d.orderId}`, now);
    return held;
  });
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
  return true;
}

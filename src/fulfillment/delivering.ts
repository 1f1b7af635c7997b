import { randomUUID } from 'node:crypto';
import { raiseAlert, resolveAlert } from '../alerts.js';
import { immediate } from '../db/open.js';
import { describeSafeError, type SafeError, toSafeError } from '../errors.js';
import { entryForSku, parseEntryKey } from '../sku.js';
import type { Delivery, ShopOrder, ShopOrders, Storefront } from '../storefront.js';
import {
  claimWrite,
  type DeliveryRow,
  deliveryById,
  failDelivery,
  resolveDeliveryAlerts,
  unsettledDeliveries,
} from './delivery-ledger.js';
import { type DeliveryTask, orderWorkKey } from './delivery-runner.js';
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
  OWED_LINE_POINTS,
  terminalPoints,
  UnknownPointError,
  unknownPoint,
} from './recovery-points.js';

/**
 * Delivering stored codes into shop orders. A delivery is created (codes reserved for it) only
 * after the order is read again, and the order is read again before every later attempt: a
 * refund or cancellation frees the codes instead (intake.ts). Each shop write is a recovery point
 * of its own, and the adapter reads back before writing, so a crash between a write and our
 * record of it never sends the buyer a second, different set. A delivery ends: `done`, or
 * `failed` (a non-retryable shop error, or MAX_ATTEMPTS) with an alert and its codes kept until
 * an operator decides (delivery-decisions.ts), or `cancelled` (refunded before any write).
 */

const MAX_BACKOFF_MS = 10 * 60_000;
/** A warning alert first, then the delivery ends `failed` for an operator. */
const ALERT_AFTER_ATTEMPTS = 4;
export const MAX_DELIVERY_ATTEMPTS = 8;

type StoreWithOrders = Storefront & { orders: ShopOrders };

/** Wait before attempt n + 1: 10 s, 20 s, 40 s … capped at 10 minutes (about 40 minutes in all). */
export const deliveryBackoffMs = (attempts: number) =>
  Math.min(MAX_BACKOFF_MS, 5_000 * 2 ** Math.min(attempts, 10));

/** Orders with codes to deliver and no delivery under way. */
function readyOrders(ctx: FulfillmentContext): { store: string; orderId: string }[] {
  return ctx.db
    .prepare(
      `SELECT DISTINCT l.store, l.order_id AS orderId FROM shop_lines l JOIN codes c ON c.line = l.id
       WHERE c.delivered_at IS NULL AND c.delivery_id IS NULL AND l.state IN (${inList(OWED_LINE_POINTS)})
         AND NOT EXISTS (SELECT 1 FROM deliveries d WHERE d.store = l.store AND d.order_id = l.order_id
                           AND d.state NOT IN (${inList(terminalPoints('delivery'))}))`,
    )
    .all() as { store: string; orderId: string }[];
}

/**
 * Reads one order right before delivering and, when it still owes codes we hold, creates its
 * delivery (codes reserved for it). Returns the delivery with the order just read, or null.
 */
async function startDelivery(
  ctx: FulfillmentContext,
  storeName: string,
  orderId: string,
  knownEntries: () => ReadonlySet<string>,
): Promise<{ delivery: DeliveryRow; order: ShopOrder } | null> {
  const { db } = ctx;
  const store = ctx.stores.get(storeName);
  if (!store || ctx.unreachable.has(storeName)) return null;
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
    return null;
  }
  if (!order) return null;
  takeInOrder(intakeContext(ctx, knownEntries), storeName, order);
  if (order.merchantHold) return null;
  const shopOrder = order;
  const created = immediate(db, () => {
    const lines = linesOfOrder(db, storeName, orderId).filter(isOwed);
    const withCodes = lines
      .map((l) => ({ line: l, codes: undeliveredCodesOf(db, l.id) }))
      .filter((x) => x.codes.length);
    if (withCodes.length === 0) return null;
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
    return deliveryById(db, id) ?? null;
  });
  return created ? { delivery: created, order: shopOrder } : null;
}

/**
 * Creates a delivery for every order with codes to deliver (its order read, in its store's lane),
 * without writing yet.
 */
export async function startDeliveries(
  ctx: FulfillmentContext,
  knownEntries: () => ReadonlySet<string>,
): Promise<void> {
  await ctx.deliveries.offer(
    readyOrders(ctx).map((r) => ({
      store: r.store,
      keys: [orderWorkKey(r.store, r.orderId)],
      run: async () => (await startDelivery(ctx, r.store, r.orderId, knownEntries)) !== null,
    })),
  ).done;
}

/** A delivery with its codes decrypted (in memory only, for the shop write). */
export function buildDelivery(
  ctx: Pick<FulfillmentContext, 'db' | 'vault'>,
  d: Pick<DeliveryRow, 'id' | 'orderId' | 'createdAt' | 'completes'>,
): Delivery {
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

/**
 * The index of the step after the one `d.step` names (null: the first; a retired name counts as
 * the step it maps to); a name the adapter does not know raises.
 */
export function nextStepIndex(
  steps: readonly string[],
  d: Pick<DeliveryRow, 'id' | 'step'>,
  retired: Readonly<Record<string, string>> = {},
): number {
  if (d.step === null) return 0;
  const at = steps.indexOf(Object.hasOwn(retired, d.step) ? (retired[d.step] as string) : d.step);
  if (at < 0) throw new UnknownPointError('delivery', d.id, `step ${d.step}`);
  return at + 1;
}

/**
 * The deliveries' work, as tasks for the runner (delivery-runner.ts): every delivery not at a
 * terminal point, by its point (a point not in the table raises); with `knownEntries`, also every
 * order with codes to deliver, each read, started and written in one task, so an order never
 * waits for the reads of others. A task reads its row again when it starts: it may have waited
 * in its lane while an intake ended the delivery.
 */
export function deliveryTasks(
  ctx: FulfillmentContext,
  knownEntries?: () => ReadonlySet<string>,
): DeliveryTask[] {
  const tasks: DeliveryTask[] = [];
  for (const d of unsettledDeliveries(ctx.db)) {
    switch (d.state) {
      case 'pending':
        tasks.push({
          store: d.store,
          keys: [orderWorkKey(d.store, d.orderId), d.id],
          run: async () => {
            const now = deliveryById(ctx.db, d.id);
            return now?.state === 'pending' ? attemptDelivery(ctx, now, undefined) : false;
          },
        });
        break;
      case 'failed':
        break; // an operator decides
      default:
        unknownPoint('delivery', d.id, d.state);
    }
  }
  for (const r of knownEntries ? readyOrders(ctx) : []) {
    tasks.push({
      store: r.store,
      keys: [orderWorkKey(r.store, r.orderId)],
      run: async () => {
        const started = await startDelivery(
          ctx,
          r.store,
          r.orderId,
          knownEntries as () => ReadonlySet<string>,
        );
        return started ? attemptDelivery(ctx, started.delivery, started.order) : false;
      },
    });
  }
  return tasks;
}

/** Runs the deliveries' work (`deliveryTasks`) and waits for it: what a one-shot caller needs. */
export async function runDeliveries(
  ctx: FulfillmentContext,
  knownEntries?: () => ReadonlySet<string>,
): Promise<{ done: number }> {
  const done = await ctx.deliveries.offer(deliveryTasks(ctx, knownEntries)).done;
  // Tasks skipped because their order was already in flight end here too.
  await ctx.deliveries.drain();
  return { done };
}

/**
 * Reads the order again right before writing, and takes it in: a refund or cancellation ends the
 * delivery there (intake.ts). Returns the order read when the delivery is still pending and may
 * write now, else null.
 */
async function rereadBeforeWriting(
  ctx: FulfillmentContext,
  d: DeliveryRow,
  store: StoreWithOrders,
  fresh: ShopOrder | undefined,
): Promise<ShopOrder | null> {
  const order = fresh ?? (await store.orders.getOrder(d.orderId));
  if (!order) {
    immediate(ctx.db, () => failDelivery(ctx.db, d, 'the order is no longer in the shop', null, ctx.now()));
    return null;
  }
  if (!fresh) takeInOrder(intakeContext(ctx), d.store, order);
  const now = deliveryById(ctx.db, d.id);
  // A merchant's hold is respected: the delivery waits for it, trying again later.
  if (order.merchantHold && now?.state === 'pending') {
    immediate(ctx.db, () =>
      ctx.db
        .prepare("UPDATE deliveries SET next_try_at = ? WHERE id = ? AND state = 'pending'")
        .run(ctx.now() + MAX_BACKOFF_MS, d.id),
    );
    return null;
  }
  return now?.state === 'pending' ? order : null;
}

/** One attempt at a pending delivery: the order read again, then its remaining shop writes, each recorded by name. */
async function attemptDelivery(
  ctx: FulfillmentContext,
  d: DeliveryRow,
  fresh: ShopOrder | undefined,
): Promise<boolean> {
  const { db } = ctx;
  if (d.nextTryAt > ctx.now()) return false;
  const store = ctx.stores.get(d.store);
  if (!store || ctx.unreachable.has(d.store)) return false;
  const steps = store.orders.deliverySteps;
  let at = 'read';
  let stepsDone = 0;
  try {
    const readBefore = await rereadBeforeWriting(ctx, d, store, fresh);
    if (!readBefore) return false;
    const delivery = buildDelivery(ctx, d);
    // The row as this attempt found it: no earlier attempt may have sent a write (its first step
    // then has nothing to read back).
    const attempt = { readBefore, nothingWrittenYet: !d.mayHaveWritten };
    for (let i = nextStepIndex(steps, d, store.orders.retiredSteps); i < steps.length; i++) {
      const name = steps[i] as string;
      at = name;
      // Before the write leaves, with no await since the row was checked: an intake from here on
      // finds the flag and never pools these codes; one before it ended the delivery, and nothing
      // more is written (a refund while delivering, docs/design.md).
      if (!immediate(db, () => claimWrite(db, d.id))) return false;
      await store.orders.runDeliveryStep(name, delivery, attempt);
      immediate(db, () =>
        db.prepare("UPDATE deliveries SET step = ? WHERE id = ? AND state = 'pending'").run(name, d.id),
      );
      stepsDone++;
    }
    return await finishDelivery(ctx, d, delivery, store);
  } catch (e) {
    const safe = toSafeError(e);
    // A refused request (non-retryable) changed nothing: if it was this attempt's first write and
    // none landed before, the codes still cannot have reached the buyer.
    const nothingWritten =
      !d.mayHaveWritten && stepsDone === 0 && (at === 'read' || safe.retryable === false);
    attemptFailed(ctx, d, safe, at, nothingWritten);
    return false;
  }
}

/** Records a failed attempt: retried with backoff, or `failed` (non-retryable, or too many attempts). */
function attemptFailed(
  ctx: FulfillmentContext,
  d: DeliveryRow,
  safe: SafeError,
  at: string,
  nothingWritten: boolean,
): void {
  const { db } = ctx;
  if (safe.retryable && (safe.status === undefined || safe.status >= 500 || safe.status === 429)) {
    ctx.unreachable.add(d.store);
  }
  const attempts = d.attempts + 1;
  const final = safe.retryable === false || attempts >= MAX_DELIVERY_ATTEMPTS;
  const wait = deliveryBackoffMs(attempts);
  const recorded = immediate(db, () => {
    // An intake ended it while this attempt was out (a refund): that end stands.
    if (deliveryById(db, d.id)?.state !== 'pending') return false;
    const now = ctx.now();
    db.prepare(
      'UPDATE deliveries SET attempts = ?, next_try_at = ?, last_error = ?, may_have_written = ? WHERE id = ?',
    ).run(attempts, now + wait, JSON.stringify(safe), nothingWritten ? 0 : 1, d.id);
    if (final) {
      const cause =
        safe.retryable === false
          ? `refused at ${at}: ${describeSafeError(safe)}`
          : `${attempts} attempts, the last at ${at}: ${describeSafeError(safe)}`;
      failDelivery(db, d, cause, safe, now);
    } else if (attempts >= ALERT_AFTER_ATTEMPTS) {
      raiseAlert(
        db,
        'delivery-failing',
        d.id,
        `delivery into ${d.store} order ${d.orderId} keeps failing (${attempts} of ${MAX_DELIVERY_ATTEMPTS} attempts): ${describeSafeError(safe)}`,
        now,
      );
    }
    return true;
  });
  const log = `delivery into ${d.store} order ${d.orderId} failed at ${at} (attempt ${attempts}): ${describeSafeError(safe)}`;
  if (!recorded) ctx.log.warn(`${log}; it had already ended meanwhile`, { ...LOG, store: d.store });
  else if (final) ctx.log.error(`${log}; failed, an operator decides`, { ...LOG, store: d.store });
  else ctx.log.warn(`${log}; retrying in ${Math.round(wait / 1000)} s`, { ...LOG, store: d.store });
}

/**
 * Every write is in: the delivery is done, its codes delivered, its lines delivered where whole.
 * False when an intake ended it during the last write (a refund): it stays failed for an operator.
 */
async function finishDelivery(
  ctx: FulfillmentContext,
  d: DeliveryRow,
  delivery: Delivery,
  store: StoreWithOrders,
): Promise<boolean> {
  const { db } = ctx;
  const heldLines = immediate(db, () => {
    if (deliveryById(db, d.id)?.state !== 'pending') return null;
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
    resolveDeliveryAlerts(db, d.id, now);
    resolveAlert(db, 'max-wait', `${d.store}/${d.orderId}`, now);
    return held;
  });
  if (!heldLines) return false;
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

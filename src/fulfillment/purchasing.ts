import { raiseAlert, resolveAlert } from '../alerts.js';
import { immediate, setKv } from '../db/open.js';
import { describeSafeError, type SupplierError, toSafeError } from '../errors.js';
import { formatUsd } from '../money.js';
import { entryKey } from '../sku.js';
import { problemShortageSchema } from '../supplier/wire.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import {
  assignFromPool,
  createIntent,
  getIntent,
  type IntentRow,
  intentAllocations,
  isOwed,
  type LineRow,
  lineById,
  linesInState,
  moveIntent,
  moveLine,
  poolCounts,
  setIntent,
  supersedeIntent,
  unitsNeeded,
  unsettledIntents,
} from './fulfillment-ledger.js';
import { takeInOrder } from './intake.js';
import { planPurchase } from './plan-purchase.js';
import { HOLD_NOTES, type HoldReason, OWED_LINE_POINTS, unknownPoint } from './recovery-points.js';

/**
 * Buying: pooled codes first, then one bulk order for the sales of a batch window. The intent
 * is committed before the supplier is called; the call's outcome is recorded in the next
 * transaction. An outcome we cannot know is never guessed at.
 */

export interface CatalogView {
  /** entryKey → supplier quantity as last pulled (listed entries only). */
  qty: ReadonlyMap<string, number>;
  priceCents: ReadonlyMap<string, number>;
  currency: ReadonlyMap<string, string>;
}

export const BALANCE_KV = 'supplier-balance';
/** An intent retried under its key this often without an answer is worth a look. */
const RETRY_ALERT_ATTEMPTS = 5;

const orderKey = (l: Pick<LineRow, 'store' | 'orderId'>) => `${l.store}\u0000${l.orderId}`;

export async function readBalance(ctx: FulfillmentContext): Promise<number> {
  const b = await ctx.supplier.getBalance();
  setKv(ctx.db, BALANCE_KV, JSON.stringify({ cents: b.availableCents, at: ctx.now() }));
  return b.availableCents;
}

/** Our hold on lines (recorded), plus the shop's hold with a note for the buyer where one is due. */
export async function holdLines(
  ctx: FulfillmentContext,
  lines: readonly LineRow[],
  reason: HoldReason,
): Promise<void> {
  const now = ctx.now();
  immediate(ctx.db, () => {
    // Read again: a line delivered or dropped meanwhile is not held.
    for (const l of lines) {
      const cur = lineById(ctx.db, l.id);
      if (cur && isOwed(cur)) moveLine(ctx.db, cur, 'held', now, { holdReason: reason });
    }
  });
  const note = HOLD_NOTES[reason];
  if (!note) return;
  const orders = new Map(lines.map((l) => [orderKey(l), l]));
  for (const l of orders.values()) {
    const store = ctx.stores.get(l.store);
    try {
      await store?.orders.hold(l.orderId, note);
    } catch (e) {
      ctx.log.warn(
        `could not place our hold on order ${l.orderNumber}: ${describeSafeError(toSafeError(e))}`,
        {
          ...LOG,
          store: l.store,
        },
      );
    }
  }
}

export async function releaseLines(ctx: FulfillmentContext, lines: readonly LineRow[]): Promise<void> {
  const now = ctx.now();
  immediate(ctx.db, () => {
    for (const l of lines) {
      const cur = lineById(ctx.db, l.id);
      if (cur?.state === 'held') moveLine(ctx.db, cur, 'open', now, { holdReason: null });
    }
  });
  const orders = new Map(lines.map((l) => [orderKey(l), l]));
  for (const l of orders.values()) {
    try {
      await ctx.stores.get(l.store)?.orders.releaseHold(l.orderId);
    } catch (e) {
      ctx.log.warn(
        `could not release our hold on order ${l.orderNumber}: ${describeSafeError(toSafeError(e))}`,
        LOG,
      );
    }
  }
}

/**
 * Re-reads every order of these lines from its shop right before buying. Returns the orders
 * that could not be read (shop down, order gone): their lines wait, the other shops' do not.
 */
async function rereadOrders(
  ctx: FulfillmentContext,
  lines: readonly LineRow[],
  knownEntries: Set<string>,
): Promise<Set<string>> {
  const unread = new Set<string>();
  const seen = new Set<string>();
  for (const l of lines) {
    const k = orderKey(l);
    if (seen.has(k)) continue;
    seen.add(k);
    const store = ctx.stores.get(l.store);
    if (ctx.unreachable.has(l.store)) {
      unread.add(k);
      continue;
    }
    try {
      const order = await store?.orders.getOrder(l.orderId);
      if (!order) {
        unread.add(k);
        raiseAlert(
          ctx.db,
          'order-missing',
          `${l.store}/${l.orderId}`,
          `order ${l.orderNumber} in ${l.store} cannot be found: not bought`,
          ctx.now(),
        );
        continue;
      }
      takeInOrder(
        { db: ctx.db, mapping: ctx.mapping, knownEntries: () => knownEntries, log: ctx.log, now: ctx.now },
        l.store,
        order,
      );
    } catch (e) {
      unread.add(k);
      ctx.unreachable.add(l.store);
      ctx.log.warn(
        `${l.store} order ${l.orderNumber}: not read before buying (${describeSafeError(toSafeError(e))}); it waits`,
        LOG,
      );
    }
  }
  return unread;
}

export async function purchase(
  ctx: FulfillmentContext,
  catalog: CatalogView,
): Promise<{ intents: number; pooled: number }> {
  const { db } = ctx;
  const now = ctx.now();
  const open = linesInState(db, 'open');
  const needing = open.map((l) => ({
    line: l.id,
    entryKey: l.entryKey,
    need: unitsNeeded(db, l),
    receivedAt: l.receivedAt,
  }));
  const plan = planPurchase({
    lines: needing,
    pool: poolCounts(db),
    supplierQty: catalog.qty,
    now,
    batchWindowMs: ctx.settings.batchWindowMs,
    maxQtyPerItem: ctx.settings.maxQtyPerItem,
  });
  let pooled = 0;
  if (plan.fromPool.length) {
    immediate(db, () => {
      for (const p of plan.fromPool) pooled += assignFromPool(db, p.line, p.entryKey, p.units);
    });
  }
  if (!plan.order && plan.short.length === 0) return { intents: 0, pooled };

  // Right before buying: the shop order may have been refunded or cancelled meanwhile.
  const involved = open.filter(
    (l) => plan.order?.allocations.some((a) => a.line === l.id) || plan.short.some((s) => s.line === l.id),
  );
  const unread = await rereadOrders(ctx, involved, new Set(catalog.qty.keys()));
  const fresh = linesInState(db, 'open').filter((l) => !unread.has(orderKey(l)));
  const replanned = planPurchase({
    lines: fresh.map((l) => ({
      line: l.id,
      entryKey: l.entryKey,
      need: unitsNeeded(db, l),
      receivedAt: l.receivedAt,
    })),
    pool: new Map(),
    supplierQty: catalog.qty,
    now,
    batchWindowMs: 0,
    maxQtyPerItem: ctx.settings.maxQtyPerItem,
  });
  const byId = new Map(fresh.map((l) => [l.id, l]));
  const shortLines = [...new Set(replanned.short.map((s) => s.line))]
    .map((id) => byId.get(id))
    .filter((l) => l !== undefined);
  if (shortLines.length) await holdLines(ctx, shortLines, 'out-of-stock');
  if (!replanned.order) return { intents: 0, pooled };

  // The balance guard: never spend below the configured floor.
  const estimate = replanned.order.items.reduce(
    (s, i) => s + i.qty * (catalog.priceCents.get(i.entryKey) ?? 0),
    0,
  );
  const balance = await readBalance(ctx);
  if (balance - estimate < ctx.settings.minBalanceCents) {
    const lines = [...new Set(replanned.order.allocations.map((a) => a.line))].map(
      (id) => byId.get(id) as LineRow,
    );
    raiseAlert(
      db,
      'min-balance',
      '',
      `supplier balance ${formatUsd(balance)} USD would fall below fulfillment.minBalanceUsd (${formatUsd(ctx.settings.minBalanceCents)}) after a ${formatUsd(estimate)} USD order: ${lines.length} line(s) held until the balance is topped up`,
      ctx.now(),
    );
    await holdLines(ctx, lines, 'min-balance');
    return { intents: 0, pooled };
  }
  resolveAlert(db, 'min-balance', '', ctx.now());
  const allocations = replanned.order.allocations;
  const intent = immediate(db, () =>
    createIntent(db, { allocations, priceCents: catalog.priceCents }, ctx.now()),
  );
  immediate(db, () => setIntent(db, intent.id, { balanceBeforeCents: balance }, ctx.now()));
  await send(ctx, intent.id, catalog);
  return { intents: 1, pooled };
}

/** Sends an intent (first time, after a never-sent error, or after a crash with keys honoured). */
export async function send(ctx: FulfillmentContext, intentId: string, catalog: CatalogView): Promise<void> {
  const { db } = ctx;
  const intent = getIntent(db, intentId) as IntentRow;
  immediate(db, () =>
    moveIntent(
      db,
      intent,
      'sending',
      { attempts: intent.attempts + 1, sentAt: intent.sentAt ?? ctx.now() },
      ctx.now(),
    ),
  );
  const sent = { id: intent.id, state: 'sending' as const };
  const result = await ctx.supplier.createOrder(
    intent.items.map(({ region, denomination, qty }) => ({ region, denomination, qty })),
    { idempotencyKey: intent.idempotencyKey, reference: intent.idempotencyKey },
  );
  const now = ctx.now();
  switch (result.kind) {
    case 'created':
      immediate(db, () =>
        moveIntent(
          db,
          sent,
          'ordered',
          {
            supplierOrderId: result.order.id,
            supplierStatus: result.order.status,
            lastError: null,
            nextCheckAt: now + 500,
          },
          now,
        ),
      );
      ctx.log.info(
        `supplier order ${result.order.id} placed for ${intent.items.map((i) => `${i.qty}× ${i.entryKey}`).join(', ')} (${formatUsd(result.order.totalCents)} USD)`,
        LOG,
      );
      resolveAlert(db, 'balance', '', now);
      resolveAlert(db, 'purchase-retrying', intent.id, now);
      return;
    case 'not-sent':
      // Provably never processed: the same intent goes again later.
      immediate(db, () =>
        moveIntent(
          db,
          sent,
          'created',
          { lastError: toSafeError(result.error), nextCheckAt: now + 5_000 },
          now,
        ),
      );
      return;
    case 'unknown':
      await unknownOutcome(ctx, intent.id, result.error);
      return;
    case 'rejected':
      await rejected(ctx, { ...intent, state: 'sending' }, result.error, catalog);
      return;
  }
}

/** The supplier may or may not have created the order. Same key only if it honours keys; else park. */
export async function unknownOutcome(
  ctx: FulfillmentContext,
  intentId: string,
  error: SupplierError | null,
): Promise<void> {
  const { db } = ctx;
  const now = ctx.now();
  const safe = error
    ? toSafeError(error)
    : { kind: 'internal' as const, message: 'the process stopped after sending' };
  const sending = { id: intentId, state: 'sending' as const };
  if (ctx.settings.honoursIdempotencyKeys) {
    immediate(db, () => {
      moveIntent(db, sending, 'sending', { lastError: safe, nextCheckAt: now + 5_000 }, now);
      if ((getIntent(db, intentId)?.attempts ?? 0) >= RETRY_ALERT_ATTEMPTS) {
        raiseAlert(
          db,
          'purchase-retrying',
          intentId,
          `order intent ${intentId} has been sent ${RETRY_ALERT_ATTEMPTS}+ times without a clear answer (${describeSafeError(safe)}); still retrying under the same key`,
          now,
        );
      }
    });
    ctx.log.warn(
      `order intent ${intentId}: outcome unknown (${describeSafeError(safe)}); retrying under the same key`,
      LOG,
    );
    return;
  }
  let after: number | null = null;
  try {
    after = await readBalance(ctx);
  } catch {
    after = null;
  }
  immediate(db, () => {
    moveIntent(db, sending, 'parked', { lastError: safe, balanceAfterCents: after }, ctx.now());
    raiseAlert(
      db,
      'intent-parked',
      intentId,
      `order intent ${intentId}: the supplier may or may not have placed it (${describeSafeError(safe)}); not retried because supplier.honoursIdempotencyKeys is false. Check the supplier for reference ${intentId}, then \`psnb2b-sync orders resolve\``,
      ctx.now(),
    );
  });
  ctx.log.error(`order intent ${intentId} parked for an operator: ${describeSafeError(safe)}`, LOG);
}

async function rejected(
  ctx: FulfillmentContext,
  intent: IntentRow,
  error: SupplierError,
  catalog: CatalogView,
): Promise<void> {
  const { db } = ctx;
  const now = ctx.now();
  const safe = toSafeError(error);
  const allocations = intentAllocations(db, intent.id);
  const lines = linesInState(db, ...OWED_LINE_POINTS).filter((l) => allocations.some((a) => a.line === l.id));
  if (error.status === 409) {
    // Short at the supplier: buy what it has now (a new intent), the rest waits on its stock.
    const available = new Map<string, number>();
    const items = Array.isArray(error.problem?.items) ? (error.problem.items as unknown[]) : [];
    for (const raw of items) {
      const p = problemShortageSchema.safeParse(raw);
      if (p.success && p.data.region && p.data.denomination !== undefined) {
        available.set(
          entryKey({ region: p.data.region, denomination: p.data.denomination }),
          Math.max(0, p.data.available ?? 0),
        );
      }
    }
    const kept: typeof allocations = [];
    const shortLines = new Set<number>();
    for (const a of allocations) {
      const left = available.has(a.entryKey) ? (available.get(a.entryKey) as number) : a.units;
      const units = Math.min(left, a.units);
      if (available.has(a.entryKey)) available.set(a.entryKey, left - units);
      if (units > 0) kept.push({ ...a, units });
      if (units < a.units) shortLines.add(a.line);
    }
    const next = immediate(db, () => {
      setIntent(db, intent.id, { lastError: safe }, now);
      if (kept.length === 0) {
        moveIntent(db, intent, 'rejected', {}, now);
        return null;
      }
      return supersedeIntent(db, intent, kept, catalog.priceCents, now);
    });
    ctx.log.warn(`supplier short for intent ${intent.id}: ${describeSafeError(safe)}`, LOG);
    const held = lines.filter((l) => shortLines.has(l.id));
    if (next) await send(ctx, next.id, catalog);
    // Units not covered by the new intent wait for stock; the planner publishes less meanwhile.
    if (held.length) await holdLines(ctx, held, 'out-of-stock');
    return;
  }
  immediate(db, () => moveIntent(db, intent, 'rejected', { lastError: safe }, now));
  if (error.status === 402) {
    raiseAlert(
      db,
      'balance',
      '',
      `the supplier refused an order for insufficient balance (${describeSafeError(safe)}): ${lines.length} line(s) held until the balance is back`,
      now,
    );
    await holdLines(ctx, lines, 'balance');
    return;
  }
  raiseAlert(
    db,
    'purchase-rejected',
    intent.id,
    `the supplier refused order intent ${intent.id}: ${describeSafeError(safe)}`,
    now,
  );
  await holdLines(ctx, lines, 'unknown-entry');
}

/**
 * The intents' completer: every intent not at a terminal point, by its point. `created` (never
 * sent) and `sending` (a crash or an unknown outcome) go on here; `ordered` is followed by
 * supplier-follow.ts; `parked` waits for an operator. A point not in the table raises.
 */
export async function resumeIntents(ctx: FulfillmentContext, catalog: CatalogView): Promise<void> {
  const now = ctx.now();
  for (const intent of unsettledIntents(ctx.db)) {
    switch (intent.state) {
      case 'created':
        if (intent.nextCheckAt <= now) await send(ctx, intent.id, catalog);
        break;
      case 'sending':
        if (intent.nextCheckAt > now) break;
        if (ctx.settings.honoursIdempotencyKeys) await send(ctx, intent.id, catalog);
        else await unknownOutcome(ctx, intent.id, null);
        break;
      case 'ordered':
      case 'parked':
        break;
      default:
        unknownPoint('intent', intent.id, intent.state);
    }
  }
}

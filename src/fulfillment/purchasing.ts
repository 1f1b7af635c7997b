import { z } from 'zod';
import { raiseAlert, resolveAlert } from '../alerts.js';
import { type Db, immediate, setKv } from '../db/open.js';
import { describeSafeError, type SupplierError, toSafeError } from '../errors.js';
import { loadSnapshot } from '../inventory/snapshot-store.js';
import {
  buyableQty,
  REFUSALS_PER_HOUR,
  recentRefusals,
  recordBought,
  recordRefusal,
  shortfalls,
} from '../inventory/supplier-shortfalls.js';
import { formatUsd } from '../money.js';
import { entryKey } from '../sku.js';
import type { ShopOrder } from '../storefront.js';
import { lastSendAt } from '../supplier/pacer.js';
import { region } from '../supplier/wire.js';
import { recordBalance } from './balance-history.js';
import { recordCharges } from './cost-report.js';
import { fitOldestFirst } from './fit-oldest-first.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import {
  assignFromPool,
  createIntent,
  getIntent,
  type IntentItem,
  type IntentRow,
  intentAllocations,
  type LineRow,
  lineById,
  linesInState,
  moveIntent,
  poolCounts,
  setIntent,
  supersedeIntent,
  unitsNeeded,
  unsettledIntents,
} from './fulfillment-ledger.js';
import { holdLines, orderKey } from './holds.js';
import { intakeContext, takeInOrder } from './intake.js';
import { alertLowMargins } from './margin.js';
import { freshRead } from './order-reads.js';
import { screenOrders } from './order-review.js';
import { planPurchase } from './plan-purchase.js';
import { OWED_LINE_POINTS, unknownPoint } from './recovery-points.js';

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

export async function readBalance(ctx: FulfillmentContext): Promise<number> {
  const b = await ctx.supplier.getBalance();
  setKv(ctx.db, BALANCE_KV, JSON.stringify({ cents: b.availableCents, at: ctx.now() }));
  recordBalance(ctx.db, b.availableCents, ctx.now());
  return b.availableCents;
}

/**
 * Reads every order of these lines from its shop right before buying — or takes it as a listing
 * or webhook read it less than a minute ago (order-reads.ts): that read is recent enough to be
 * the one before buying, and its snapshot is already taken in. Returns the orders read, and those
 * that could not be (shop down, order gone): their lines wait, the other shops' do not.
 */
async function rereadOrders(
  ctx: FulfillmentContext,
  lines: readonly LineRow[],
  knownEntries: Set<string>,
): Promise<{ read: Map<string, ShopOrder>; unread: Set<string> }> {
  const read = new Map<string, ShopOrder>();
  const unread = new Set<string>();
  const seen = new Set<string>();
  for (const l of lines) {
    const k = orderKey(l);
    if (seen.has(k)) continue;
    seen.add(k);
    const store = ctx.stores.get(l.store);
    const recent = freshRead(ctx, l.store, l.orderId);
    if (recent) {
      read.set(k, recent);
      continue;
    }
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
      read.set(k, order);
      takeInOrder(
        intakeContext(ctx, () => knownEntries),
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
  return { read, unread };
}

const needing = (db: Db, lines: readonly LineRow[]) =>
  lines.map((l) => ({
    line: l.id,
    entryKey: l.entryKey,
    need: unitsNeeded(db, l),
    receivedAt: l.receivedAt,
    ...(l.saleAt !== null && { saleAt: l.saleAt }),
  }));

/**
 * What may be ordered of each entry now, read afresh (a 201 earlier in this pass lowers it): the
 * snapshot, less units of intents not yet sent or answered, less what refusals of the last hour forbid.
 */
export function buyable(ctx: Pick<FulfillmentContext, 'db' | 'now'>): Map<string, number> {
  const { db } = ctx;
  const now = ctx.now();
  const unanswered = db
    .prepare(
      `SELECT il.entry_key AS k, SUM(il.units) AS n FROM intent_lines il JOIN purchase_intents pi ON pi.id = il.intent_id
       WHERE pi.state IN ('created', 'sending') GROUP BY il.entry_key`,
    )
    .all() as { k: string; n: number }[];
  const pending = new Map(unanswered.map((r) => [r.k, r.n]));
  const snapshot = new Map(
    loadSnapshot(db)
      .filter((r) => r.listed)
      .map((r) => [entryKey(r), Math.max(0, r.qty - (pending.get(entryKey(r)) ?? 0))]),
  );
  return buyableQty(snapshot, shortfalls(db), recentRefusals(db, now), now);
}

export async function purchase(
  ctx: FulfillmentContext,
  catalog: CatalogView,
): Promise<{ intents: number; pooled: number }> {
  const { db } = ctx;
  const now = ctx.now();
  const supplierQty = buyable(ctx);
  const open = linesInState(db, 'open');
  // Bulk orders go evenly paced within the quota: under load the batch window stretches.
  const pacing = { lastBulkAt: lastSendAt(db, 'bulk'), bulkIntervalMs: ctx.settings.bulkIntervalMs };
  const plan = planPurchase({
    lines: needing(db, open),
    pool: poolCounts(db),
    supplierQty,
    now,
    batchWindowMs: ctx.settings.batchWindowMs,
    ...pacing,
    maxQtyPerItem: ctx.settings.maxQtyPerItem,
  });
  const due = plan.order !== null || plan.short.length > 0;
  if (!due && plan.fromPool.length === 0) return { intents: 0, pooled: 0 };

  // Right before buying (or handing out pooled codes): the shop order may have been refunded or
  // cancelled meanwhile, and each order is checked against the spending limits once.
  const planned = new Set(
    [...plan.fromPool, ...(plan.order?.allocations ?? []), ...plan.short].map((p) => p.line),
  );
  const involved = open.filter((l) => planned.has(l.id));
  const { read, unread } = await rereadOrders(ctx, involved, new Set(catalog.qty.keys()));
  const readOpen = () =>
    linesInState(db, 'open').filter((l) => !unread.has(orderKey(l)) && planned.has(l.id));
  await screenOrders(ctx, readOpen(), read, catalog.priceCents);
  const fresh = readOpen();
  const byId = new Map(fresh.map((l) => [l.id, l]));
  const replanned = planPurchase({
    lines: needing(db, fresh),
    pool: poolCounts(db),
    supplierQty,
    now,
    // Decided above: the lines still to buy after the re-read go now.
    ...(due ? { batchWindowMs: 0 } : { batchWindowMs: ctx.settings.batchWindowMs, ...pacing }),
    maxQtyPerItem: ctx.settings.maxQtyPerItem,
  });
  let pooled = 0;
  if (replanned.fromPool.length) {
    immediate(db, () => {
      for (const p of replanned.fromPool) pooled += assignFromPool(db, p.line, p.entryKey, p.units);
    });
  }
  const shortLines = [...new Set(replanned.short.map((s) => s.line))]
    .map((id) => byId.get(id))
    .filter((l) => l !== undefined);
  await holdLines(ctx, shortLines, 'out-of-stock');
  if (!replanned.order) return { intents: 0, pooled };

  // The balance guard: never spend below the configured floor. Lines are taken oldest first as
  // far as the balance goes; the rest wait for it, so one big line cannot hold back small ones.
  const priceOf = (k: string) => catalog.priceCents.get(k) ?? 0;
  const allocations = replanned.order.allocations;
  const cost = (line: number) =>
    allocations.filter((a) => a.line === line).reduce((s, a) => s + a.units * priceOf(a.entryKey), 0);
  const lines = [...new Set(allocations.map((a) => a.line))].map((id) => byId.get(id) as LineRow);
  const balance = await readBalance(ctx);
  const affordable = fitOldestFirst(
    lines,
    (l) => cost(l.id),
    () => '',
    new Map([['', balance - ctx.settings.minBalanceCents]]),
  );
  const unaffordable = lines.filter((l) => !affordable.includes(l));
  if (unaffordable.length) {
    const need = unaffordable.reduce((s, l) => s + cost(l.id), 0);
    raiseAlert(
      db,
      'min-balance',
      '',
      `supplier balance ${formatUsd(balance)} USD would fall below fulfillment.minBalanceUsd (${formatUsd(ctx.settings.minBalanceCents)}) with another ${formatUsd(need)} USD: ${unaffordable.length} line(s) held until the balance covers them`,
      ctx.now(),
    );
    await holdLines(ctx, unaffordable, 'min-balance');
  }
  if (affordable.length === 0) return { intents: 0, pooled };
  const bought = new Set(affordable.map((l) => l.id));
  const intent = immediate(db, () => {
    const created = createIntent(
      db,
      { allocations: allocations.filter((a) => bought.has(a.line)), priceCents: catalog.priceCents },
      ctx.now(),
    );
    if (created) setIntent(db, created.id, { balanceBeforeCents: balance }, ctx.now());
    return created;
  });
  // Null: another buyer covered these lines while this one awaited the shop and the balance.
  if (!intent) return { intents: 0, pooled };
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
      immediate(db, () => {
        for (const i of intent.items) recordBought(db, i.entryKey, i.qty);
        resolveAlert(db, 'purchase-retrying', intent.id, now);
        // Margin at purchase, at the unit prices the supplier actually charged: never a silent loss.
        const charged = new Map(result.order.items.map((i) => [entryKey(i), i.unitPriceCents]));
        recordCharges(db, intent.id, result.order.items, now);
        const bought = new Set(intentAllocations(db, intent.id).map((a) => a.line));
        const lines = [...bought].map((id) => lineById(db, id)).filter((l) => l !== undefined);
        alertLowMargins(db, lines, (k) => charged.get(k), ctx.settings.margin, now);
      });
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

/** The 409 body: what is short, by entry, for entries of this intent only. */
const shortageSchema = z.array(
  z.looseObject({
    region,
    denomination: z.number().positive(),
    available: z.number().int().nonnegative(),
  }),
);

/**
 * entryKey → what the supplier says it has, from a 409 on this intent; null when the body does
 * not parse, names an entry we did not order, or leaves every item whole (re-sending it would
 * only be refused again).
 */
export function readShortage(problem: unknown, items: readonly IntentItem[]): Map<string, number> | null {
  const raw = (problem as { items?: unknown } | undefined)?.items;
  const parsed = shortageSchema.safeParse(raw);
  if (!parsed.success || parsed.data.length === 0) return null;
  const ordered = new Map(items.map((i) => [i.entryKey, i.qty]));
  const available = new Map<string, number>();
  for (const p of parsed.data) {
    const k = entryKey(p);
    const qty = ordered.get(k);
    if (qty === undefined || p.available >= qty) return null;
    available.set(k, p.available);
  }
  return available;
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
  const shortage = error.status === 409 ? readShortage(error.problem, intent.items) : null;
  if (shortage) {
    // Short at the supplier: a new intent for what it has (sent by the next pass, never in a
    // loop here); the rest waits on its stock, and the snapshot drops to what the 409 said.
    const kept: typeof allocations = [];
    const shortLines = new Set<number>();
    const left = new Map(shortage);
    for (const a of allocations) {
      const has = left.get(a.entryKey) ?? a.units;
      const units = Math.min(has, a.units);
      if (left.has(a.entryKey)) left.set(a.entryKey, has - units);
      if (units > 0) kept.push({ ...a, units });
      if (units < a.units) shortLines.add(a.line);
    }
    const spent: string[] = [];
    immediate(db, () => {
      for (const [k, available] of shortage) {
        if (recordRefusal(db, k, available, now) >= REFUSALS_PER_HOUR) spent.push(k);
      }
      setIntent(db, intent.id, { lastError: safe }, now);
      if (kept.length === 0) moveIntent(db, intent, 'rejected', {}, now);
      else supersedeIntent(db, intent, kept, catalog.priceCents, now);
      for (const k of spent) {
        raiseAlert(
          db,
          'out-of-stock',
          k,
          `the supplier refused ${REFUSALS_PER_HOUR} orders for ${k} in the last hour (its feed may lag its order desk); sales of it wait until the hour has passed or the feed moves`,
          now,
        );
      }
    });
    ctx.log.warn(`supplier short for intent ${intent.id}: ${describeSafeError(safe)}`, LOG);
    await holdLines(
      ctx,
      lines.filter((l) => shortLines.has(l.id)),
      'out-of-stock',
    );
    return;
  }
  immediate(db, () => moveIntent(db, intent, 'rejected', { lastError: safe }, now));
  if (error.status === 402) {
    raiseAlert(
      db,
      'balance',
      '',
      `the supplier refused an order for insufficient balance (${describeSafeError(safe)}): ${lines.length} line(s) held until the balance covers them`,
      now,
    );
    await holdLines(ctx, lines, 'balance');
    return;
  }
  // Any other 4xx, or a 409 we cannot read: never re-sent by itself, an operator decides.
  raiseAlert(
    db,
    'purchase-rejected',
    intent.id,
    `the supplier refused order intent ${intent.id} (${describeSafeError(safe)}${error.status === 409 ? '; its shortage list does not parse' : ''}): ${lines.length} line(s) held; \`psnb2b-sync orders approve --store NAME --order ID\` buys them again`,
    now,
  );
  await holdLines(ctx, lines, 'rejected');
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

import { raiseAlert } from '../alerts.js';
import { immediate } from '../db/open.js';
import { describeSafeError, toSafeError } from '../errors.js';
import { checkCodes } from './check-codes.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import {
  type IntentRow,
  intentAllocations,
  intentsIn,
  isKnownCode,
  moveIntent,
  setIntent,
  storeCodes,
  supersedeIntent,
} from './fulfillment-ledger.js';
import type { CatalogView } from './purchasing.js';

/**
 * Follows accepted supplier orders to `delivered` (a signed webhook only makes the next check
 * sooner; polling is the fallback), then fetches the codes, checks the whole answer and stores
 * it encrypted in one transaction — before any attempt to deliver them.
 */

const MIN_POLL_MS = 2_000;
const MAX_POLL_MS = 30_000;
/**
 * Status polls share the supplier's 60/min with everything else, and a poll waiting for a pacer
 * slot holds up its pass: a few per pass, the longest-waiting first, leave room for buying,
 * inventory and claims. A signed supplier webhook makes an order due at once.
 */
const MAX_POLLS_PER_PASS = 4;
/**
 * A poll that would wait for a pacer slot (a full bucket, a 429's Retry-After) is put off to a
 * later pass, first in line, so the pass and every supplier call behind it go on. For this long
 * at most: a bucket always full (a low requestsPerMinute) must not starve it.
 */
const MAX_POLL_DEFER_MS = 60_000;

export function pollDelay(intent: Pick<IntentRow, 'createdAt'>, now: number): number {
  // Soon after ordering, delivery is usually seconds away; later, back off.
  return Math.min(MAX_POLL_MS, Math.max(MIN_POLL_MS, Math.floor((now - intent.createdAt) / 5)));
}

export async function followOrders(
  ctx: FulfillmentContext,
  catalog: CatalogView,
): Promise<{ stored: number }> {
  let stored = 0;
  const due = intentsIn(ctx.db, 'ordered')
    .filter((i) => i.nextCheckAt <= ctx.now() && i.supplierOrderId)
    .sort((a, b) => a.nextCheckAt - b.nextCheckAt)
    .slice(0, MAX_POLLS_PER_PASS);
  for (const intent of due) {
    // Put off while the bucket is busy; a minute overdue, it waits its turn like any call.
    const overdue = ctx.now() - intent.nextCheckAt;
    if (overdue < MAX_POLL_DEFER_MS && ctx.supplier.generalDelayMs() > 0) break;
    try {
      if (await followOne(ctx, intent, catalog)) stored++;
    } catch (e) {
      const safe = toSafeError(e);
      immediate(ctx.db, () =>
        setIntent(
          ctx.db,
          intent.id,
          { lastError: safe, nextCheckAt: ctx.now() + pollDelay(intent, ctx.now()) },
          ctx.now(),
        ),
      );
      ctx.log.warn(
        `supplier order ${intent.supplierOrderId}: ${describeSafeError(safe)}; will check again`,
        LOG,
      );
    }
  }
  return { stored };
}

async function followOne(ctx: FulfillmentContext, intent: IntentRow, catalog: CatalogView): Promise<boolean> {
  const { db } = ctx;
  const orderId = intent.supplierOrderId as string;
  const order = await ctx.supplier.getOrder(orderId);
  const now = ctx.now();
  if (order.status === 'pending' || order.status === 'paid') {
    immediate(db, () =>
      setIntent(
        db,
        intent.id,
        { supplierStatus: order.status, nextCheckAt: now + pollDelay(intent, now) },
        now,
      ),
    );
    return false;
  }
  if (order.status === 'failed') {
    // A new intent for what its lines still need; the failed one is superseded in the same transaction.
    const next = immediate(db, () => {
      setIntent(db, intent.id, { supplierStatus: 'failed' }, now);
      return supersedeIntent(db, intent, intentAllocations(db, intent.id), catalog.priceCents, now);
    });
    ctx.log.warn(
      `supplier order ${orderId} failed (${order.failure?.code ?? 'no reason given'}); ${next ? `re-buying as intent ${next.id}` : 'nothing left to re-buy (its sales were refunded)'}`,
      LOG,
    );
    return false;
  }
  // delivered: the claim window runs from the supplier's own delivery time.
  const deliveredAt = Date.parse(order.updatedAt);
  const answer = await ctx.supplier.getOrderCodes(orderId);
  const check = checkCodes(intent.items, answer.codes, (code) => isKnownCode(db, ctx.vault, code));
  if (!check.ok) {
    immediate(db, () => {
      moveIntent(
        db,
        intent,
        'parked',
        {
          supplierStatus: 'delivered',
          supplierDeliveredAt: deliveredAt,
          lastError: {
            kind: 'supplier',
            message: `codes answer refused (${check.problem}): ${check.detail}`,
          },
        },
        ctx.now(),
      );
      raiseAlert(
        db,
        'codes-mismatch',
        intent.id,
        `supplier order ${orderId}: the codes answer was refused (${check.problem}: ${check.detail}); nothing was applied. Check with the supplier, then \`psnb2b-sync orders resolve ${intent.id}\``,
        ctx.now(),
      );
    });
    ctx.log.error(`supplier order ${orderId}: codes answer refused (${check.problem}); intent parked`, LOG);
    return false;
  }
  const result = immediate(db, () => {
    const r = storeCodes(
      db,
      ctx.vault,
      intent,
      orderId,
      answer.codes,
      (k) => catalog.currency.get(k) ?? '',
      ctx.now(),
    );
    moveIntent(
      db,
      intent,
      'stored',
      { supplierStatus: 'delivered', supplierDeliveredAt: deliveredAt, lastError: null },
      ctx.now(),
    );
    return r;
  });
  ctx.log.info(
    `supplier order ${orderId}: ${answer.codes.length} code(s) stored encrypted (${result.assigned} assigned, ${result.pooled} to the pool)`,
    LOG,
  );
  return true;
}

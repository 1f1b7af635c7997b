import { raiseAlert, resolveAlert } from '../alerts.js';
import { getKv, immediate } from '../db/open.js';
import { skuState } from '../db/sku-cache-table.js';
import { describeSafeError, toSafeError } from '../errors.js';
import { loadSnapshot } from '../inventory/snapshot-store.js';
import { entryKey } from '../sku.js';
import { deliveryTasks } from './delivering.js';
import { fitOldestFirst } from './fit-oldest-first.js';
import { type FulfillmentContext, LOG } from './fulfillment-context.js';
import { type LineRow, linesInState, setLine, unitsNeeded } from './fulfillment-ledger.js';
import { releaseLines, settleHoldAlerts } from './holds.js';
import { knownEntriesOf, pollIntake } from './intake.js';
import { expireLowMarginAlerts } from './margin.js';
import { BALANCE_KV, buyable, type CatalogView, purchase, readBalance, resumeIntents } from './purchasing.js';
import { BALANCE_HOLDS, HOLD_NOTES } from './recovery-points.js';
import { followOrders } from './supplier-follow.js';

/**
 * One pass of the money path (`runPass` lists its phases). Passes never overlap; anything a pass
 * leaves unfinished is a row at a named recovery point (recovery-points.ts) that the next pass,
 * or the next process, resumes from where the row says. Deliveries are handed to the runner
 * (`ctx.deliveries`) and go on in the background: a pass never waits for a shop's writes.
 */

const BALANCE_RECHECK_MS = 30_000;
/** `status` shows the balance; it is read at start and then this often (one supplier call). */
const BALANCE_REFRESH_MS = 5 * 60_000;

function lastBalance(
  ctx: Pick<FulfillmentContext, 'db' | 'now'>,
): { cents: number; at: number; ageMs: number } | null {
  const last = getKv(ctx.db, BALANCE_KV);
  if (!last) return null;
  const b = JSON.parse(last) as { cents: number; at: number };
  return { cents: b.cents, at: b.at, ageMs: ctx.now() - b.at };
}

export interface PassReport {
  intake: number;
  intents: number;
  stored: number;
  /** Deliveries handed to the runner (they finish in the background). */
  deliveries: number;
}

export function catalogView(ctx: Pick<FulfillmentContext, 'db'>): CatalogView {
  const rows = loadSnapshot(ctx.db);
  return {
    qty: new Map(rows.filter((r) => r.listed).map((r) => [entryKey(r), r.qty])),
    priceCents: new Map(rows.map((r) => [entryKey(r), r.priceCents])),
    currency: new Map(rows.map((r) => [entryKey(r), r.currency])),
  };
}

/**
 * Our holds end by themselves when their cause is gone, each by its own rule (design-notes
 * "Holds, and what releases each one"); `rejected` and `review` wait for an operator.
 */
async function releaseHolds(ctx: FulfillmentContext, catalog: CatalogView): Promise<void> {
  const { db } = ctx;
  const held = linesInState(db, 'held');
  const release: LineRow[] = [];
  for (const l of held) {
    if (l.holdReason === 'duplicate-sku' && skuState(db, l.store, l.sku) !== 'duplicate') {
      release.push(l);
      resolveAlert(db, 'duplicate-sku', `${l.store}/${l.sku}`, ctx.now());
    }
    if (l.holdReason === 'unknown-entry' && catalog.qty.has(l.entryKey)) {
      release.push(l);
      resolveAlert(db, 'unknown-entry', `${l.store}/${l.orderNumber}/${l.lineId}`, ctx.now());
    }
  }
  // Out of stock: what the supplier may be asked for now (the feed moved, or a backoff retry is
  // due, within the hour's refusals) covers these lines, oldest first.
  const forStock = held.filter((l) => l.holdReason === 'out-of-stock');
  if (forStock.length) {
    release.push(
      ...fitOldestFirst(
        forStock,
        (l) => unitsNeeded(db, l),
        (l) => l.entryKey,
        buyable(ctx),
      ),
    );
  }
  // Balance: a fresh balance covers the next line's cost, one line at a time, oldest first.
  const forBalance = held.filter((l) => l.holdReason !== null && BALANCE_HOLDS.includes(l.holdReason));
  if (forBalance.length) {
    const last = lastBalance(ctx);
    const fresh = last && last.ageMs < BALANCE_RECHECK_MS && last.at > newestBalanceHold(ctx);
    const balance = fresh ? last.cents : await readBalance(ctx);
    const covered = fitOldestFirst(
      forBalance,
      (l) => unitsNeeded(db, l) * (catalog.priceCents.get(l.entryKey) ?? 0),
      () => '',
      new Map([['', balance - ctx.settings.minBalanceCents]]),
    );
    if (covered.length) {
      ctx.log.info(`supplier balance covers ${covered.length} of ${forBalance.length} held line(s)`, LOG);
      release.push(...covered);
    }
  }
  await releaseLines(ctx, release);
  immediate(db, () => settleHoldAlerts(db, ctx.now()));
}

/** When the last line was held for money: a balance read before that cannot release it. */
function newestBalanceHold(ctx: Pick<FulfillmentContext, 'db'>): number {
  const row = ctx.db
    .prepare(
      `SELECT MAX(updated_at) AS t FROM shop_lines WHERE state = 'held' AND hold_reason IN (${BALANCE_HOLDS.map((r) => `'${r}'`).join(', ')})`,
    )
    .get() as { t: number | null };
  return row.t ?? 0;
}

/** Nobody waits forever: past maxWait a line gets our hold with a note to the buyer, and an alert. */
async function enforceMaxWait(ctx: FulfillmentContext): Promise<void> {
  const cutoff = ctx.now() - ctx.settings.maxWaitMs;
  const late = linesInState(ctx.db, 'open', 'held').filter(
    (l) => l.receivedAt < cutoff && l.holdReason !== 'max-wait',
  );
  const orders = new Map<string, LineRow>();
  for (const l of late) if (!l.holdReason) orders.set(`${l.store}\u0000${l.orderId}`, l);
  for (const l of orders.values()) {
    immediate(ctx.db, () => {
      for (const x of late)
        if (x.store === l.store && x.orderId === l.orderId && !x.holdReason) {
          setLine(ctx.db, x.id, { holdReason: 'max-wait' }, ctx.now());
        }
      raiseAlert(
        ctx.db,
        'max-wait',
        `${l.store}/${l.orderId}`,
        `order ${l.orderNumber} in ${l.store} has waited over ${Math.round(ctx.settings.maxWaitMs / 60_000)} minutes for its codes`,
        ctx.now(),
      );
    });
    try {
      await ctx.stores.get(l.store)?.orders.hold(l.orderId, HOLD_NOTES['max-wait'] as string);
    } catch (e) {
      ctx.log.warn(`could not hold order ${l.orderNumber}: ${describeSafeError(toSafeError(e))}`, LOG);
    }
  }
}

export async function runPass(ctx: FulfillmentContext, opts: { poll: boolean }): Promise<PassReport> {
  const report: PassReport = { intake: 0, intents: 0, stored: 0, deliveries: 0 };
  ctx.unreachable.clear();
  if (opts.poll) report.intake = await pollIntake(ctx);
  const catalog = catalogView(ctx);
  const phase = async (name: string, fn: () => Promise<void>) => {
    try {
      await fn();
    } catch (e) {
      // One phase failing (a shop down, the supplier unreachable) does not stop the others.
      ctx.log.warn(`fulfillment ${name}: ${describeSafeError(toSafeError(e))}`, LOG);
    }
  };
  await phase('balance', async () => {
    if ((lastBalance(ctx)?.ageMs ?? Number.POSITIVE_INFINITY) >= BALANCE_REFRESH_MS) await readBalance(ctx);
  });
  await phase('holds', () => releaseHolds(ctx, catalog));
  immediate(ctx.db, () => expireLowMarginAlerts(ctx.db, ctx.now()));
  await phase('max-wait', () => enforceMaxWait(ctx));
  await phase('resume', () => resumeIntents(ctx, catalog));
  await phase('purchase', async () => {
    report.intents = (await purchase(ctx, catalog)).intents;
  });
  // Not awaited: a slow order holds one lane of its store, never this pass or the next bulk order.
  const deliver = async () => {
    report.deliveries += ctx.deliveries.offer(deliveryTasks(ctx, knownEntriesOf(ctx.db))).accepted;
  };
  // Codes already stored go out first: a supplier poll waiting for a pacer slot never delays them.
  await phase('deliver', deliver);
  await phase('follow', async () => {
    report.stored = (await followOrders(ctx, catalog)).stored;
  });
  if (report.stored > 0) await phase('deliver', deliver);
  return report;
}

/** Whether anything is in flight that a prompt next pass would move on (deliveries running count). */
export function hasWork(ctx: Pick<FulfillmentContext, 'db' | 'deliveries'>): boolean {
  if (ctx.deliveries.inFlight > 0) return true;
  const row = ctx.db
    .prepare(
      `SELECT (SELECT COUNT(*) FROM shop_lines WHERE state = 'open')
            + (SELECT COUNT(*) FROM purchase_intents WHERE state IN ('created', 'sending', 'ordered'))
            + (SELECT COUNT(*) FROM deliveries WHERE state = 'pending') AS n`,
    )
    .get() as { n: number };
  return row.n > 0;
}

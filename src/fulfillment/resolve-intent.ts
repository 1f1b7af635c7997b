import { resolveAlert } from '../alerts.js';
import { type Db, immediate } from '../db/open.js';
import { UsageError } from '../errors.js';
import { recordCharges } from './cost-report.js';
import type { FulfillmentContext } from './fulfillment-context.js';
import {
  getIntent,
  type IntentRow,
  intentAllocations,
  linesInState,
  moveIntent,
  moveLine,
  supersedeIntent,
} from './fulfillment-ledger.js';
import type { CatalogView } from './purchasing.js';
import { OWED_LINE_POINTS } from './recovery-points.js';

/**
 * `orders resolve`: an operator settles a parked intent after checking the supplier for its
 * reference. Found there → follow that order; not there → buy again under a new key; or give
 * up on it (its lines are held for the operator).
 */

export type ResolveAction =
  | { kind: 'supplier-order'; supplierOrderId: string }
  | { kind: 'rebuy' }
  | { kind: 'abandon' };

export async function resolveIntent(
  ctx: FulfillmentContext,
  intentId: string,
  action: ResolveAction,
  catalog: CatalogView,
): Promise<string> {
  const { db } = ctx;
  const intent = parkedIntent(db, intentId);
  const now = ctx.now();
  const clear = () => {
    resolveAlert(db, 'intent-parked', intentId, now);
    resolveAlert(db, 'codes-mismatch', intentId, now);
  };
  switch (action.kind) {
    case 'supplier-order': {
      const order = await ctx.supplier.getOrder(action.supplierOrderId);
      if (order.reference && order.reference !== intent.idempotencyKey) {
        throw new UsageError(
          `supplier order ${order.id} carries reference ${order.reference}, not this intent's ${intent.idempotencyKey}`,
        );
      }
      immediate(db, () => {
        // Checked again after the await: another decision (or the pipeline) may have moved it.
        parkedIntent(db, intentId);
        const owner = db
          .prepare('SELECT id FROM purchase_intents WHERE supplier_order_id = ? AND id != ?')
          .get(order.id, intentId) as { id: string } | undefined;
        if (owner) throw new UsageError(`supplier order ${order.id} already belongs to intent ${owner.id}`);
        moveIntent(
          db,
          intent,
          'ordered',
          {
            supplierOrderId: order.id,
            supplierStatus: order.status,
            nextCheckAt: 0,
            lastError: null,
          },
          now,
        );
        // Its unit prices as the supplier reports them: the cost report counts it like any other.
        recordCharges(db, intentId, order.items, now);
        clear();
      });
      return `intent ${intentId} now follows supplier order ${order.id} (${order.status})`;
    }
    case 'rebuy': {
      const next = immediate(db, () => {
        parkedIntent(db, intentId);
        clear();
        return supersedeIntent(db, intent, intentAllocations(db, intentId), catalog.priceCents, now);
      });
      return next
        ? `intent ${intentId} superseded by ${next.id}, which will be bought under a new key`
        : `intent ${intentId} superseded; its sales were refunded meanwhile, nothing to re-buy`;
    }
    case 'abandon': {
      const lines = new Set(intentAllocations(db, intentId).map((a) => a.line));
      immediate(db, () => {
        parkedIntent(db, intentId);
        moveIntent(db, intent, 'abandoned', {}, now);
        for (const l of linesInState(db, ...OWED_LINE_POINTS)) {
          if (lines.has(l.id)) moveLine(db, l, 'held', now, { holdReason: 'abandoned' });
        }
        clear();
      });
      return `intent ${intentId} abandoned; its ${lines.size} line(s) are held for you`;
    }
  }
}

/** The intent, if it is still parked; otherwise a clear refusal. Read inside every transaction that decides. */
function parkedIntent(db: Db, intentId: string): IntentRow {
  const intent = getIntent(db, intentId);
  if (!intent) throw new UsageError(`no purchase intent ${intentId}`);
  if (intent.state !== 'parked')
    throw new UsageError(`intent ${intentId} is ${intent.state}, not parked: nothing to resolve`);
  return intent;
}

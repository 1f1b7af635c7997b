import { type IntentRow, intentsIn } from '../../src/fulfillment/fulfillment-ledger.js';
import type { FulfillmentWorld } from './fulfillment-world.js';

/**
 * A purchase whose outcome is unknown and parked: the supplier commits the order but the answer
 * is lost (`commitThenReset`), with keys not honoured. Returns the parked intent and the order the
 * supplier did make, for `orders resolve`.
 */
export async function parkedPurchase(
  world: FulfillmentWorld,
  quantity: number,
): Promise<{ intent: IntentRow; supplierOrderId: string; reference: string | null }> {
  world.supplier.injectFault('commitThenReset', { count: 1 });
  world.shop.placeOrder({ lines: [{ sku: world.skus[0] as string, quantity }] });
  await world.until(() => intentsIn(world.runtime.db, 'parked').length === 1, 'parked');
  const [order] = world.supplier.ledger().orders;
  const [intent] = intentsIn(world.runtime.db, 'parked');
  if (!order || !intent) throw new Error('no parked purchase');
  return { intent, supplierOrderId: order.id, reference: order.reference ?? null };
}

import { describe, expect, it } from 'vitest';
import {
  holdState,
  intakeQuery,
  isClosed,
  isPaid,
  OUR_HOLD_HANDLE,
  topicEnum,
  unitsToFulfill,
} from '../../../adapters/shopify/shopify-paid-rules.js';

describe('Shopify paid rules (pure)', () => {
  it.each([
    ['PAID', null, true, false],
    ['PARTIALLY_REFUNDED', null, true, false],
    ['PENDING', null, false, false],
    ['AUTHORIZED', null, false, false],
    ['PARTIALLY_PAID', null, false, false],
    ['EXPIRED', null, false, false],
    ['REFUNDED', null, false, true],
    ['VOIDED', null, false, true],
    ['PAID', '2026-01-01T00:00:00Z', true, true],
    [null, null, false, false],
  ] as const)('financial %s, cancelledAt %s → paid %s, closed %s', (status, cancelledAt, paid, closed) => {
    expect(isPaid({ displayFinancialStatus: status })).toBe(paid);
    expect(isClosed({ displayFinancialStatus: status, cancelledAt })).toBe(closed);
  });

  it('units are unfulfilledQuantity, never negative', () => {
    expect(unitsToFulfill({ unfulfilledQuantity: 3 })).toBe(3);
    expect(unitsToFulfill({ unfulfilledQuantity: 0 })).toBe(0);
    expect(unitsToFulfill({ unfulfilledQuantity: -1 })).toBe(0);
  });

  const ours = { handle: OUR_HOLD_HANDLE, heldByRequestingApp: true };
  const merchant = { handle: null, heldByRequestingApp: false };
  it.each([
    ['no holds', [{ status: 'OPEN', fulfillmentHolds: [] }], false, false],
    ['ours', [{ status: 'ON_HOLD', fulfillmentHolds: [ours] }], false, true],
    ['merchant', [{ status: 'ON_HOLD', fulfillmentHolds: [merchant] }], true, false],
    ['both', [{ status: 'ON_HOLD', fulfillmentHolds: [ours, merchant] }], true, true],
    // Our handle placed by another app is not ours.
    [
      'handle only',
      [{ status: 'ON_HOLD', fulfillmentHolds: [{ handle: OUR_HOLD_HANDLE, heldByRequestingApp: false }] }],
      true,
      false,
    ],
    ['closed FO', [{ status: 'CLOSED', fulfillmentHolds: [merchant] }], false, false],
  ])('holds: %s', (_name, fulfillmentOrders, merchantHold, ourHold) => {
    expect(holdState({ fulfillmentOrders })).toEqual({ merchantHold, ourHold });
  });

  it('intake query is the NOTES query plus the updated_at cursor; topics normalise', () => {
    expect(intakeQuery('2026-01-02T03:04:05.000Z')).toBe(
      "(financial_status:paid OR financial_status:partially_refunded) (fulfillment_status:unfulfilled OR fulfillment_status:partial) status:open updated_at:>='2026-01-02T03:04:05.000Z'",
    );
    expect(topicEnum('orders/paid')).toBe('ORDERS_PAID');
    expect(topicEnum('ORDERS_UPDATED')).toBe('ORDERS_UPDATED');
  });
});

import { describe, expect, it } from 'vitest';
import { type PurchaseInput, planPurchase } from '../../src/fulfillment/plan-purchase.js';

const base = (over: Partial<PurchaseInput>): PurchaseInput => ({
  lines: [],
  pool: new Map(),
  supplierQty: new Map([
    ['US:50', 100],
    ['TR:250', 3],
  ]),
  now: 10_000,
  batchWindowMs: 5_000,
  maxQtyPerItem: 1000,
  ...over,
});

describe('planPurchase', () => {
  it('waits until the oldest sale is a batch window old, then buys every waiting sale in one order', () => {
    const lines = [
      { line: 1, entryKey: 'US:50', need: 2, receivedAt: 6_000 },
      { line: 2, entryKey: 'US:50', need: 1, receivedAt: 9_000 },
    ];
    expect(planPurchase(base({ lines })).order).toBeNull();
    const plan = planPurchase(base({ lines, now: 11_000 }));
    expect(plan.order?.items).toEqual([{ region: 'US', denomination: 50, qty: 3, entryKey: 'US:50' }]);
    expect(plan.order?.allocations).toEqual([
      { line: 1, entryKey: 'US:50', units: 2 },
      { line: 2, entryKey: 'US:50', units: 1 },
    ]);
  });

  it('counts the window from when the shop made the sale, so a sale the intake saw late waits no longer', () => {
    // Paid at 4 s by the shop's clock, taken in by the next poll at 9 s: due at 9 s (paid + 5 s),
    // not at 14 s (taken in + 5 s).
    const lines = [{ line: 1, entryKey: 'US:50', need: 1, receivedAt: 9_000, saleAt: 4_000 }];
    expect(planPurchase(base({ lines, now: 8_900 })).order).toBeNull();
    expect(planPurchase(base({ lines, now: 9_000 })).order?.allocations).toEqual([
      { line: 1, entryKey: 'US:50', units: 1 },
    ]);
    // The oldest sale by the shop's time decides, whichever was taken in first.
    const two = [
      { line: 2, entryKey: 'US:50', need: 1, receivedAt: 7_000, saleAt: 7_000 },
      { line: 3, entryKey: 'US:50', need: 1, receivedAt: 9_000, saleAt: 4_500 },
    ];
    expect(planPurchase(base({ lines: two, now: 9_500 })).order?.items[0]?.qty).toBe(2);
  });

  it('never starts the window later than the intake, nor skips the pacing, whatever the shop clock says', () => {
    // A shop clock ahead of ours: the window counts from the intake as before.
    const ahead = [{ line: 1, entryKey: 'US:50', need: 1, receivedAt: 6_000, saleAt: 60_000 }];
    expect(planPurchase(base({ lines: ahead, now: 10_999 })).order).toBeNull();
    expect(planPurchase(base({ lines: ahead, now: 11_000 })).order).not.toBeNull();
    // A shop clock far behind: the window is spent, but bulk orders stay one pacing interval apart.
    const behind = [{ line: 1, entryKey: 'US:50', need: 1, receivedAt: 10_000, saleAt: -3_600_000 }];
    const paced = { lastBulkAt: 8_000, bulkIntervalMs: 6_667 };
    expect(planPurchase(base({ lines: behind, now: 10_000, ...paced })).order).toBeNull();
    expect(planPurchase(base({ lines: behind, now: 14_667, ...paced })).order).not.toBeNull();
  });

  it('takes pooled codes first, oldest sale first, and buys only the rest', () => {
    const lines = [
      { line: 2, entryKey: 'US:50', need: 2, receivedAt: 2_000 },
      { line: 1, entryKey: 'US:50', need: 2, receivedAt: 1_000 },
    ];
    const plan = planPurchase(base({ lines, pool: new Map([['US:50', 3]]) }));
    expect(plan.fromPool).toEqual([
      { line: 1, entryKey: 'US:50', units: 2 },
      { line: 2, entryKey: 'US:50', units: 1 },
    ]);
    expect(plan.order?.allocations).toEqual([{ line: 2, entryKey: 'US:50', units: 1 }]);
  });

  it('buys what the supplier lists and reports the rest short, first buyer first', () => {
    const lines = [
      { line: 1, entryKey: 'TR:250', need: 2, receivedAt: 1_000 },
      { line: 2, entryKey: 'TR:250', need: 2, receivedAt: 2_000 },
      { line: 3, entryKey: 'GB:10', need: 1, receivedAt: 2_000 },
    ];
    const plan = planPurchase(base({ lines }));
    expect(plan.order?.allocations).toEqual([
      { line: 1, entryKey: 'TR:250', units: 2 },
      { line: 2, entryKey: 'TR:250', units: 1 },
    ]);
    expect(plan.short).toEqual([
      { line: 2, entryKey: 'TR:250', units: 1 },
      { line: 3, entryKey: 'GB:10', units: 1 },
    ]);
  });

  it('never asks for more of one item than the supplier allows in one order', () => {
    const lines = [{ line: 1, entryKey: 'US:50', need: 80, receivedAt: 0 }];
    const plan = planPurchase(base({ lines, maxQtyPerItem: 50 }));
    expect(plan.order?.items[0]?.qty).toBe(50);
    expect(plan.short).toEqual([{ line: 1, entryKey: 'US:50', units: 30 }]);
  });
});

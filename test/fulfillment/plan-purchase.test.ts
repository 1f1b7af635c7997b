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

import { describe, expect, it } from 'vitest';
import { fitOldestFirst } from '../../src/fulfillment/fit-oldest-first.js';
import { readShortage } from '../../src/fulfillment/purchasing.js';
import { brokenLimit, type SpendingLimits } from '../../src/fulfillment/spending-limits.js';
import {
  buyableQty,
  capPull,
  retryDelayMs,
  type Shortfall,
} from '../../src/inventory/supplier-shortfalls.js';

/** The pure decisions behind the hold release rules and the spending limits. */

const items = [
  { region: 'US', denomination: 50, qty: 3, entryKey: 'US:50' },
  { region: 'TR', denomination: 250, qty: 2, entryKey: 'TR:250' },
];
const short = (over: Partial<Shortfall> = {}): Shortfall => ({
  entryKey: 'US:50',
  feedQty: 40,
  available: 0,
  refusals: 1,
  retryAt: 1_000,
  ...over,
});

describe('readShortage: a 409 we can act on, or none', () => {
  it('reads what is short of the entries ordered', () => {
    const problem = { items: [{ region: 'US', denomination: 50, requested: 3, available: 2 }] };
    expect(readShortage(problem, items)).toEqual(new Map([['US:50', 2]]));
  });
  it.each([
    ['no items', {}],
    ['items not a list', { items: 'short' }],
    ['an empty list', { items: [] }],
    ['an entry without available', { items: [{ region: 'US', denomination: 50 }] }],
    ['an entry we did not order', { items: [{ region: 'GB', denomination: 10, available: 0 }] }],
    ['nothing actually short', { items: [{ region: 'US', denomination: 50, available: 3 }] }],
  ])('%s: null (held for an operator, never re-sent)', (_what, problem) => {
    expect(readShortage(problem, items)).toBeNull();
  });
});

describe('refusals per entry', () => {
  it('backs off 1, 2, 4, 8, 16, then 30 minutes', () => {
    expect([1, 2, 3, 4, 5, 6, 9].map((n) => retryDelayMs(n) / 60_000)).toEqual([1, 2, 4, 8, 16, 30, 30]);
  });
  it('caps a pull whose feed did not move, and lifts the cap when it did', () => {
    const caps = new Map([['US:50', short({ available: 2 })]]);
    const same = capPull([{ region: 'US', denomination: 50, qty: 40 }], caps);
    expect(same).toEqual({ rows: [{ region: 'US', denomination: 50, qty: 2 }], moved: [] });
    const moved = capPull([{ region: 'US', denomination: 50, qty: 39 }], caps);
    expect(moved).toEqual({ rows: [{ region: 'US', denomination: 50, qty: 39 }], moved: ['US:50'] });
  });
  it('buyable: the snapshot; the feed once a retry is due; nothing once 4 refusals of the hour are spent', () => {
    const snap = new Map([['US:50', 0]]);
    const caps = new Map([['US:50', short()]]);
    expect(buyableQty(snap, caps, new Map([['US:50', 1]]), 999).get('US:50')).toBe(0);
    expect(buyableQty(snap, caps, new Map([['US:50', 1]]), 1_000).get('US:50')).toBe(40);
    expect(buyableQty(snap, caps, new Map([['US:50', 4]]), 5_000).get('US:50')).toBe(0);
    expect(buyableQty(new Map([['US:50', 40]]), new Map(), new Map([['US:50', 4]]), 0).get('US:50')).toBe(0);
  });
});

describe('fitOldestFirst', () => {
  it('takes each line its budget still covers, oldest first, skipping one that does not fit', () => {
    const lines = [
      { id: 3, receivedAt: 30, cost: 5 },
      { id: 1, receivedAt: 10, cost: 100 },
      { id: 2, receivedAt: 20, cost: 10 },
    ];
    const taken = fitOldestFirst(
      lines,
      (l) => l.cost,
      () => '',
      new Map([['', 16]]),
    );
    expect(taken.map((l) => l.id)).toEqual([2, 3]);
  });
});

describe('brokenLimit', () => {
  const limits: SpendingLimits = {
    maxOrderCents: 200_000,
    maxUnitsPerLine: 50,
    maxDailyCents: 500_000,
    maxCustomerDailyCents: 100_000,
  };
  const none = { dayCents: 0, buyerDayCents: 0 };
  const order = { valueCents: 10_000, maxLineUnits: 1, buyer: 'a@example.com' };
  it('passes an order under every limit', () => {
    expect(brokenLimit(order, limits, none)).toBeNull();
  });
  it.each([
    ['maxUnitsPerLine', { ...order, maxLineUnits: 51 }, none],
    ['maxOrderUsd', { ...order, valueCents: 200_001 }, none],
    ['maxDailyUsd', order, { dayCents: 490_001, buyerDayCents: 0 }],
    ['maxCustomerDailyUsd', order, { dayCents: 0, buyerDayCents: 90_001 }],
  ])('%s', (limit, o, spent) => {
    expect(brokenLimit(o, limits, spent)?.limit).toBe(limit);
  });
  it('a limit set to null is off', () => {
    const off = { ...limits, maxOrderCents: null, maxUnitsPerLine: null, maxCustomerDailyCents: null };
    expect(brokenLimit({ ...order, valueCents: 190_000, maxLineUnits: 500 }, off, none)).toBeNull();
  });
});

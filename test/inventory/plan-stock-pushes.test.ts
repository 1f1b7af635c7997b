import { describe, expect, it } from 'vitest';
import { type PlanInput, planStockPushes, publishedTarget } from '../../src/inventory/plan-stock-pushes.js';

const mapping = { template: 'PSN-{region}-{denomination}', overrides: {} };
const entries = [
  { region: 'US', denomination: 50, currency: 'USD', qty: 120 },
  { region: 'TR', denomination: 250, currency: 'TRY', qty: 0 },
  { region: 'GB', denomination: 7.5, currency: 'GBP', qty: 3 },
];

function input(over: Partial<PlanInput> = {}): PlanInput {
  return {
    entries,
    checkpoint: new Map(),
    mapping,
    reserve: 0,
    allocation: 'shared',
    weight: 1,
    soldNotOrdered: new Map(),
    ...over,
  };
}

describe('planStockPushes', () => {
  it('pushes every SKU to a store that never acknowledged anything', () => {
    expect(planStockPushes(input()).map((p) => [p.sku, p.quantity, p.previous])).toEqual([
      ['PSN-US-50', 120, null],
      ['PSN-TR-250', 0, null],
      ['PSN-GB-7.5', 3, null],
    ]);
  });

  it('pushes only what differs from the store checkpoint (matched without case)', () => {
    const checkpoint = new Map([
      ['psn-us-50', 120],
      ['psn-tr-250', 5],
      ['psn-gb-7.5', 3],
    ]);
    expect(planStockPushes(input({ checkpoint })).map((p) => [p.sku, p.quantity, p.previous])).toEqual([
      ['PSN-TR-250', 0, 5],
    ]);
  });

  it('a full plan (resync) pushes everything regardless of the checkpoint', () => {
    const checkpoint = new Map([['psn-us-50', 120]]);
    expect(planStockPushes(input({ checkpoint, full: true }))).toHaveLength(3);
  });

  it('subtracts the reserve and units sold but not yet ordered, never below 0', () => {
    const plan = planStockPushes(input({ reserve: 2, soldNotOrdered: new Map([['US:50', 10]]) }));
    expect(plan.map((p) => p.quantity)).toEqual([108, 0, 1]);
    expect(publishedTarget(1, 2, 0)).toBe(0);
  });

  it('splits by weight with floor under allocation: split', () => {
    const plan = planStockPushes(input({ allocation: 'split', weight: 0.3 }));
    expect(plan.map((p) => p.quantity)).toEqual([36, 0, 0]);
  });

  it('publishes overrides too, and one SKU is never claimed by two entries', () => {
    const overrides = {
      'PSN-TR-250': { region: 'US', denomination: 50 },
      'OWN-GB': { region: 'GB', denomination: 7.5 },
    };
    const plan = planStockPushes(input({ mapping: { ...mapping, overrides } }));
    expect(plan.map((p) => [p.sku, p.quantity])).toEqual([
      ['PSN-US-50', 120],
      ['PSN-TR-250', 120],
      ['PSN-GB-7.5', 3],
      ['OWN-GB', 3],
    ]);
  });
});

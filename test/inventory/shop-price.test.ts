import { describe, expect, it } from 'vitest';
import { type PriceRules, roundUp, shopPriceCents } from '../../src/inventory/shop-price.js';

/** design-notes "Prices": the price function, in integer cents. */

const rules = (over: Partial<PriceRules> = {}): PriceRules => ({
  markupBp: 1_500,
  markupFixedCents: 0,
  endingCents: 99,
  fxRates: { EUR: 0.92, JPY: 150 },
  overrides: new Map(),
  ...over,
});

describe('shop price', () => {
  it('cost × (1 + markup) + fixed, rounded up to end in .99', () => {
    expect(shopPriceCents(4_625, 'PSN-US-50', 'USD', rules())).toBe(5_399); // 53.1875 → 53.99
    expect(shopPriceCents(4_625, 'PSN-US-50', 'USD', rules({ markupFixedCents: 100 }))).toBe(5_499);
    expect(shopPriceCents(1_000, 'PSN-US-10', 'USD', rules({ markupBp: 0, endingCents: null }))).toBe(1_000);
    // Already ending in .99 stays; one cent over goes to the next .99.
    expect(roundUp(1_299, 99)).toBe(1_299);
    expect(roundUp(1_300, 99)).toBe(1_399);
    expect(roundUp(1_300, 0)).toBe(1_300);
    expect(roundUp(1_301, 0)).toBe(1_400);
  });

  it('converts with the shop currency rate; no rate → null', () => {
    // 10.00 USD × 1.15 = 11.50 USD × 0.92 = 10.58 EUR → 10.99
    expect(shopPriceCents(1_000, 'PSN-DE-10', 'EUR', rules())).toBe(1_099);
    expect(shopPriceCents(1_000, 'PSN-DE-10', 'EUR', rules({ endingCents: null }))).toBe(1_058);
    expect(shopPriceCents(1_000, 'PSN-DE-10', 'GBP', rules())).toBeNull();
    // A float rate never adds a cent: 100 × 0.92 is 92.00000000000001 in doubles.
    expect(shopPriceCents(100, 'X', 'EUR', rules({ markupBp: 0, endingCents: null }))).toBe(92);
  });

  it('an override wins, whatever the cost (SKU compared without case)', () => {
    const r = rules({ overrides: new Map([['psn-us-50', 4_999]]) });
    expect(shopPriceCents(9_000, 'PSN-US-50', 'USD', r)).toBe(4_999);
    expect(shopPriceCents(9_000, 'PSN-US-50', 'GBP', r)).toBe(4_999);
  });
});

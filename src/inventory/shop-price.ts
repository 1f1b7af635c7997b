import type { PricingConfig } from '../../config/schema.js';
import { usdToCents } from '../money.js';
import { skuKey } from '../sku.js';

/**
 * Shop prices that follow the supplier (design-notes "Prices"), decided without I/O and in
 * integer cents: cost in USD × (1 + markupPercent/100) + markupFixed, converted to the shop's
 * currency with its rate, then rounded up to end in `rounding` ("0.99") or to the cent ("none").
 * A per-SKU override (in the shop's currency) wins. Rounding is always up: never below the rule.
 */

export interface PriceRules {
  /** Basis points: 15 % = 1500. */
  markupBp: number;
  markupFixedCents: number;
  /** The cents every price ends in (99 for "0.99"), or null for "none". */
  endingCents: number | null;
  /** Shop currency units per USD (USD: 1). */
  fxRates: Readonly<Record<string, number>>;
  /** skuKey → price in the shop's currency, cents. */
  overrides: ReadonlyMap<string, number>;
}

/** The price one store shows for one SKU, in cents of `currency`; null when that currency has no rate. */
export function shopPriceCents(
  costUsdCents: number,
  sku: string,
  currency: string,
  rules: PriceRules,
): number | null {
  const override = rules.overrides.get(skuKey(sku));
  if (override !== undefined) return override;
  const rate = currency === 'USD' ? 1 : rules.fxRates[currency];
  if (rate === undefined) return null;
  const usd = Math.ceil((costUsdCents * (10_000 + rules.markupBp)) / 10_000) + rules.markupFixedCents;
  // The rate is a decimal (0.92); a tiny epsilon keeps 100 × 0.92 = 92.00000000000001 at 92.
  const local = Math.ceil(usd * rate - 1e-6);
  return roundUp(local, rules.endingCents);
}

/** The smallest amount ≥ `cents` that ends in `ending` cents (`1_234`, 99 → `1_299`). */
export function roundUp(cents: number, ending: number | null): number {
  if (ending === null) return cents;
  return cents + ((((ending - cents) % 100) + 100) % 100);
}

/** `catalog.pricing` as the price function takes it (config amounts to integer cents once). */
export function priceRules(c: PricingConfig): PriceRules {
  return {
    markupBp: Math.round(c.markupPercent * 100),
    markupFixedCents: usdToCents(c.markupFixed, 'catalog.pricing.markupFixed'),
    endingCents: c.rounding === 'none' ? null : Number(c.rounding.slice(2)),
    fxRates: c.fxRates,
    overrides: new Map(
      Object.entries(c.overrides).map(([sku, price]) => [
        skuKey(sku),
        usdToCents(price, `catalog.pricing.overrides.${sku}`),
      ]),
    ),
  };
}

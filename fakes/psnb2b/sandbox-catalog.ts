import { SeededRandom } from './seeded-random.js';

/**
 * The sandbox supplier's default catalogue: real PSN store regions, their face currencies and
 * the denominations those stores sell, priced at a wholesale discount off face value in USD.
 */

export interface SandboxEntry {
  region: string;
  currency: string;
  denomination: number;
  priceCents: number;
  qty: number;
  /** A delisted entry is missing from `GET /inventory` and cannot be ordered. */
  listed: boolean;
}

interface RegionSpec {
  region: string;
  currency: string;
  /** Approximate USD per unit of face currency; only shapes sandbox prices. */
  usdPerUnit: number;
  denominations: readonly number[];
}

export const SANDBOX_REGIONS: readonly RegionSpec[] = [
  { region: 'US', currency: 'USD', usdPerUnit: 1, denominations: [10, 20, 25, 50, 60, 70, 75, 100] },
  { region: 'GB', currency: 'GBP', usdPerUnit: 1.27, denominations: [5, 10, 15, 20, 25, 35, 50, 100] },
  { region: 'DE', currency: 'EUR', usdPerUnit: 1.08, denominations: [5, 10, 20, 25, 50, 75, 100] },
  { region: 'TR', currency: 'TRY', usdPerUnit: 0.029, denominations: [100, 250, 500, 750, 1000, 1500, 2000] },
  { region: 'IN', currency: 'INR', usdPerUnit: 0.012, denominations: [500, 1000, 2000, 3000, 4000] },
  { region: 'FR', currency: 'EUR', usdPerUnit: 1.08, denominations: [10, 20, 25, 50, 100] },
  { region: 'IT', currency: 'EUR', usdPerUnit: 1.08, denominations: [10, 20, 25, 50, 100] },
  { region: 'ES', currency: 'EUR', usdPerUnit: 1.08, denominations: [10, 20, 25, 50, 100] },
  { region: 'CA', currency: 'CAD', usdPerUnit: 0.73, denominations: [10, 20, 25, 50, 75, 100] },
  { region: 'AU', currency: 'AUD', usdPerUnit: 0.66, denominations: [10, 20, 30, 50, 60, 100] },
  { region: 'JP', currency: 'JPY', usdPerUnit: 0.0067, denominations: [1000, 3000, 5000, 10000] },
  { region: 'BR', currency: 'BRL', usdPerUnit: 0.18, denominations: [30, 60, 100, 150, 250] },
  { region: 'PL', currency: 'PLN', usdPerUnit: 0.25, denominations: [20, 50, 100, 200, 300] },
  { region: 'SE', currency: 'SEK', usdPerUnit: 0.095, denominations: [100, 200, 250, 500] },
  { region: 'MX', currency: 'MXN', usdPerUnit: 0.055, denominations: [200, 300, 500, 1000] },
  { region: 'SA', currency: 'USD', usdPerUnit: 1, denominations: [10, 20, 50, 100] },
  { region: 'AE', currency: 'USD', usdPerUnit: 1, denominations: [5, 10, 20, 50, 100] },
];

/** Wholesale price in cents: face value in USD less a 5–14 % discount, at least one cent. */
export function sandboxPriceCents(
  spec: Pick<RegionSpec, 'usdPerUnit'>,
  denomination: number,
  rng: SeededRandom,
) {
  const discount = 0.86 + rng.next() * 0.09;
  return Math.max(1, Math.round(denomination * spec.usdPerUnit * discount * 100));
}

export interface CatalogOptions {
  entries: number;
  seed: number;
}

/**
 * `entries` entries, shuffled across regions by `seed`. Beyond the real denominations (about
 * 90), further ones are invented above each region's largest, so large benchmarks work too.
 * About one in ten starts out of stock.
 */
export function generateSandboxCatalog(opts: CatalogOptions): SandboxEntry[] {
  if (!Number.isInteger(opts.entries) || opts.entries < 0) throw new RangeError('entries must be ≥ 0');
  const rng = new SeededRandom(opts.seed);
  const real = rng.shuffle(SANDBOX_REGIONS.flatMap((spec) => spec.denominations.map((d) => ({ spec, d }))));
  const picked = real.slice(0, opts.entries);
  for (let k = 1; picked.length < opts.entries; k++) {
    for (const spec of SANDBOX_REGIONS) {
      if (picked.length >= opts.entries) break;
      const top = spec.denominations[spec.denominations.length - 1] ?? 100;
      const step = spec.denominations[0] ?? 10;
      picked.push({ spec, d: top + step * k });
    }
  }
  return picked.map(({ spec, d }) => ({
    region: spec.region,
    currency: spec.currency,
    denomination: d,
    priceCents: sandboxPriceCents(spec, d, rng),
    qty: rng.chance(0.1) ? 0 : rng.int(1, 500),
    listed: true,
  }));
}

/** The face currency of a region in the sandbox (`USD` for an unknown one). */
export function sandboxCurrency(region: string): string {
  return SANDBOX_REGIONS.find((s) => s.region === region)?.currency ?? 'USD';
}

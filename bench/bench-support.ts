import { formatSku } from '../config/sku-template.js';
import { generateSandboxCatalog, type SandboxEntry } from '../fakes/psnb2b/sandbox-catalog.js';
import { skuKey } from '../src/sku.js';
import type { CachedSku, SkuCache } from '../src/storefront.js';

/** Small pieces the benchmarks share. */

export const SKU_TEMPLATE = 'PSN-{region}-{denomination}';

/** `n` realistic catalogue entries (real denominations first, invented ones beyond) and their SKUs. */
export function benchCatalog(n: number): { entries: SandboxEntry[]; skus: string[] } {
  const entries = generateSandboxCatalog({ entries: n, seed: 7 });
  return { entries, skus: entries.map((e) => formatSku(SKU_TEMPLATE, e)) };
}

/** The SKU cache port in memory (the daemon keeps it in SQLite; the calls to the shop are the same). */
export class MapSkuCache implements SkuCache {
  private readonly m = new Map<string, CachedSku>();
  get(sku: string): CachedSku | undefined {
    return this.m.get(skuKey(sku));
  }
  set(entries: CachedSku[]): void {
    for (const e of entries) this.m.set(skuKey(e.sku), { ...e });
  }
  delete(sku: string): void {
    this.m.delete(skuKey(sku));
  }
}

/** Every `step`-th index so that `count` of `n` items are picked, spread over the catalogue. */
export function spreadPick(n: number, count: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < count; i++) out.push(Math.floor((i * n) / count));
  return out;
}

export function fmt(n: number, digits = 0): string {
  return n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });
}

export function ms(t: number): string {
  return t >= 10_000 ? `${fmt(t / 1000, 1)} s` : `${fmt(t)} ms`;
}

import { skuKey } from '../../src/sku.js';
import type { CachedSku, SkuCache } from '../../src/storefront.js';

/** The SKU cache port in memory, keyed like the SQLite one (SKU without case or trailing spaces). */
export class MemorySkuCache implements SkuCache {
  private readonly entries = new Map<string, CachedSku>();

  get(sku: string): CachedSku | undefined {
    return this.entries.get(skuKey(sku));
  }

  set(entries: CachedSku[]): void {
    for (const e of entries) this.entries.set(skuKey(e.sku), { ...e });
  }

  delete(sku: string): void {
    this.entries.delete(skuKey(sku));
  }

  get size(): number {
    return this.entries.size;
  }

  all(): CachedSku[] {
    return [...this.entries.values()];
  }
}

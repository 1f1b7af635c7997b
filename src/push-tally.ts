import type { SafeError, StorefrontError } from './errors.js';
import type { CallCounts, StockTarget } from './storefront.js';

/**
 * Everything one stock push learns, settled target by target. Every adapter keeps its push in
 * one of these, so `acknowledged`, `failed` and "the store is unreachable" mean the same in all.
 */
export class PushTally {
  readonly acknowledged: StockTarget[] = [];
  readonly missing: string[] = [];
  readonly duplicate: string[] = [];
  readonly failed: { sku: string; error: SafeError }[] = [];
  readonly calls: CallCounts = { reads: 0, writes: 0 };
  /** A call got an answer from the store. */
  reached = false;
  /** The first "store unreachable" error (no answer, 5xx, 429 after retries): thrown if nothing ever reached it. */
  unreachable: StorefrontError | undefined;
  settled = 0;

  constructor(readonly total: number) {}

  ack(g: { targets: StockTarget[] }): void {
    this.acknowledged.push(...g.targets);
    this.settled += g.targets.length;
  }
  miss(g: { targets: StockTarget[] }): void {
    this.missing.push(...g.targets.map((t) => t.sku));
    this.settled += g.targets.length;
  }
  dup(g: { targets: StockTarget[] }): void {
    this.duplicate.push(...g.targets.map((t) => t.sku));
    this.settled += g.targets.length;
  }
  fail(g: { targets: StockTarget[] }, error: SafeError): void {
    for (const t of g.targets) this.failed.push({ sku: t.sku, error });
    this.settled += g.targets.length;
  }
  callFailed(e: StorefrontError): void {
    const unreachable = e.retryable && (e.status === undefined || e.status >= 500 || e.status === 429);
    if (unreachable) this.unreachable ??= e;
    else this.reached = true;
  }
}

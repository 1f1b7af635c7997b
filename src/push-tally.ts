import { AppError, type SafeError, type StorefrontError, toSafeError } from './errors.js';
import { skuKey } from './sku.js';
import type { CachedSku, CallCounts, StockReading, StockTarget, StorefrontContext } from './storefront.js';

/** The targets that share one SKU key (normally exactly one), with the quantity they agree on. */
export interface Wanted {
  key: string;
  quantity: number;
  /** The price to set with the quantity, if any (written and confirmed together). */
  price?: string;
  targets: StockTarget[];
}

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

/** The SKUs to read, as wanted entries (a read has no target: quantity 0 is a placeholder). */
export function readTargets(store: string, skus: readonly string[], tally: PushTally): Wanted[] {
  return groupTargets(
    store,
    skus.map((sku) => ({ sku, quantity: 0 })),
    tally,
  );
}

/** A read's answer from its tally; throws when the store never answered (as a push does). */
export function readingOf(tally: PushTally, quantities: StockReading['quantities']): StockReading {
  if (!tally.reached && tally.unreachable) throw tally.unreachable;
  return {
    quantities,
    missing: tally.missing,
    duplicate: tally.duplicate,
    failed: tally.failed,
    calls: { ...tally.calls },
  };
}

/**
 * One entry per SKU key, compared as the shops compare SKUs. A quantity that is not a whole
 * number ≥ 0, or two different ones for one SKU, is never sent: those targets fail in the tally.
 */
export function groupTargets(store: string, targets: readonly StockTarget[], tally: PushTally): Wanted[] {
  const byKey = new Map<string, Wanted>();
  for (const t of targets) {
    const key = skuKey(t.sku);
    const w = byKey.get(key);
    if (w) w.targets.push(t);
    else
      byKey.set(key, {
        key,
        quantity: t.quantity,
        ...(t.price !== undefined && { price: t.price }),
        targets: [t],
      });
  }
  const out: Wanted[] = [];
  for (const w of byKey.values()) {
    const bad = w.targets.find((t) => !Number.isSafeInteger(t.quantity) || t.quantity < 0);
    const conflicting = w.targets.some((t) => t.quantity !== w.quantity || t.price !== w.price);
    if (bad || conflicting || w.key === '') {
      const reason =
        w.key === '' ? 'empty SKU' : bad ? `invalid quantity ${bad.quantity}` : 'conflicting targets';
      tally.fail(
        w,
        toSafeError(new AppError('internal', `${store}: ${reason} for SKU "${w.targets[0]?.sku}"`)),
      );
    } else out.push(w);
  }
  return out;
}

/**
 * Sorts what a shop's SKU lookup found onto the wanted SKUs, compared as the shops compare
 * them: none is `missing`, several is `duplicate` (never written), one is `matched`, with the
 * ref `match` returns. Misses and duplicates are settled in the tally; the cache entries to
 * write are returned.
 */
export function sortLookups<T extends { sku: string; id: string | number }>(
  wanted: readonly Wanted[],
  found: readonly T[],
  tally: PushTally,
  checkedAt: number,
  match: (w: Wanted, item: T) => unknown,
): CachedSku[] {
  const byKey = new Map<string, T[]>();
  for (const item of found) {
    const k = skuKey(item.sku);
    byKey.set(k, [...(byKey.get(k) ?? []), item]);
  }
  const entries: CachedSku[] = [];
  for (const w of wanted) {
    const matches = byKey.get(w.key) ?? [];
    const first = matches[0];
    const sku = first?.sku ?? w.targets[0]?.sku ?? w.key;
    if (!first) {
      entries.push({ sku, state: 'missing', ref: null, checkedAt });
      tally.miss(w);
    } else if (matches.length > 1) {
      entries.push({ sku, state: 'duplicate', ref: matches.map((m) => m.id), checkedAt });
      tally.dup(w);
    } else {
      entries.push({ sku, state: 'matched', ref: match(w, first), checkedAt });
    }
  }
  return entries;
}

/**
 * The cache first: a matched SKU goes by its cached ref; a missing or duplicate one is trusted
 * (and settled) until `missingRecheckMs` has passed, since the merchant may add or fix the
 * product; everything else must be looked up in the shop.
 */
export function triageByCache<R>(
  wanted: readonly Wanted[],
  ctx: Pick<StorefrontContext, 'cache' | 'missingRecheckMs' | 'now'>,
  tally: PushTally,
  isRef: (ref: unknown) => ref is R,
): { cached: { wanted: Wanted; ref: R }[]; unknown: Wanted[] } {
  const cached: { wanted: Wanted; ref: R }[] = [];
  const unknown: Wanted[] = [];
  const now = ctx.now();
  for (const w of wanted) {
    const entry = ctx.cache.get(w.key);
    if (entry?.state === 'matched' && isRef(entry.ref)) cached.push({ wanted: w, ref: entry.ref });
    else if (entry && entry.state !== 'matched' && now - entry.checkedAt < ctx.missingRecheckMs) {
      if (entry.state === 'missing') tally.miss(w);
      else tally.dup(w);
    } else unknown.push(w);
  }
  return { cached, unknown };
}

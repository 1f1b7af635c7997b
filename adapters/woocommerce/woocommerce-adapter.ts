import type { WooStoreConfig } from '../../config/schema.js';
import { type SafeError, StorefrontError, toSafeError } from '../../src/errors.js';
import {
  groupTargets,
  PushTally,
  readingOf,
  readTargets,
  sortLookups,
  triageByCache,
  type Wanted,
} from '../../src/push-tally.js';
import { skuKey } from '../../src/sku.js';
import type {
  AccessCheck,
  CallCounts,
  PushOptions,
  PushOutcome,
  ShopOrders,
  StockReading,
  StockTarget,
  Storefront,
  StorefrontContext,
} from '../../src/storefront.js';
import { type RetryPolicy, WooCommerceClient } from './woocommerce-client.js';
import { WooCommerceOrders } from './woocommerce-orders.js';

/**
 * WooCommerce stock pushes. SKUs resolve to a product or a variation through the SKU cache
 * (looked up with `GET products?sku=a,b,…` when unknown); stock is written with
 * `products/batch` for simple products and `products/<parent>/variations/batch` per parent,
 * at most 100 items a call, and a target is acknowledged only when its item in the batch
 * response shows the quantity we sent.
 *
 * What carries stock: a simple (or any other non-variable, non-grouped, non-external) product
 * and a variation. A variable parent, a grouped or an external product never does — its SKU is
 * not a match (a variable parent's stock status follows its variations), so a SKU found only
 * there is reported `missing`, and it does not make a variation with the same SKU a duplicate.
 */

/** The cached locator: the product or variation id, and the parent for a variation. */
export interface WooRef {
  id: number;
  parentId: number | null;
}

export interface WooCommerceAdapterOptions {
  retry?: Partial<RetryPolicy>;
}

/** What a lookup needs of a product (`_fields` keeps the answer small). */
interface WooLookupItem {
  id: number;
  sku: string;
  type: string;
  parent_id: number;
  manage_stock?: unknown;
  stock_quantity?: unknown;
}

interface WooBatchItem {
  id: number;
  sku?: unknown;
  manage_stock?: unknown;
  stock_quantity?: unknown;
  regular_price?: unknown;
  error?: { code?: unknown; message?: unknown; data?: { status?: unknown } };
}

const BATCH_LIMIT = 100;
const LOOKUP_SKUS = 100;
/** Keep lookup URLs well under common 8 KB request-line limits (SKUs are repeated in the signature). */
const LOOKUP_URL_CHARS = 3000;
const LOOKUP_FIELDS = 'id,sku,type,parent_id,manage_stock,stock_quantity';
const NOT_STOCK_CARRYING = new Set(['variable', 'grouped', 'external']);
/** Per-item errors meaning "this id is not (or no longer) a product/variation you can write here". */
const GONE_CODES = new Set([
  'woocommerce_rest_product_invalid_id',
  'woocommerce_rest_invalid_product_id',
  'woocommerce_rest_product_variation_invalid_id',
]);

function isRef(v: unknown): v is WooRef {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return Number.isInteger(r.id) && (r.parentId === null || Number.isInteger(r.parentId));
}

function isLookupItem(v: unknown): v is WooLookupItem {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return (
    Number.isInteger(r.id) &&
    typeof r.sku === 'string' &&
    typeof r.type === 'string' &&
    (r.parent_id === undefined || Number.isInteger(r.parent_id))
  );
}

interface Resolved {
  wanted: Wanted;
  ref: WooRef;
  /** What the store showed when it was looked up (null: stock not managed); unknown for a cached ref. */
  stock?: number | null;
}

/** Everything one push learns (the shared tally). */
class PushState extends PushTally {}

export class WooCommerceStorefront implements Storefront {
  readonly type = 'woocommerce';
  readonly name: string;
  /** Order intake and delivery (woocommerce-orders.ts), over the same client and request queue. */
  readonly orders: ShopOrders;
  private readonly client: WooCommerceClient;

  get requests(): Readonly<CallCounts> {
    return this.client.calls;
  }

  /** WooCommerce's OAuth refuses requests beyond 15 minutes of skew; the core alerts at 5. */
  get clockSkewMs(): number | undefined {
    return this.client.clockSkewMs;
  }

  constructor(
    config: WooStoreConfig,
    private readonly ctx: StorefrontContext,
    opts: WooCommerceAdapterOptions = {},
  ) {
    this.name = config.name;
    this.client = new WooCommerceClient({
      store: config.name,
      url: config.url,
      consumerKey: config.consumerKey,
      consumerSecret: config.consumerSecret,
      timeoutMs: config.timeoutMs,
      concurrency: config.concurrency,
      log: ctx.log,
      ...(opts.retry && { retry: opts.retry }),
    });
    this.orders = new WooCommerceOrders({
      store: config.name,
      client: this.client,
      unpaidMethods: config.unpaidMethods,
      webhookSecret: config.webhookSecret,
      log: ctx.log,
      now: ctx.now,
    });
  }

  async pushStock(targets: StockTarget[], options: PushOptions = {}): Promise<PushOutcome> {
    const state = new PushState(targets.length);
    const progress = () => options.onProgress?.(state.settled, state.total);
    const wanted = groupTargets(this.name, targets, state);

    // 1. Resolve through the cache; ask the store only about what it does not know.
    const { cached, unknown } = triageByCache(wanted, this.ctx, state, isRef);
    const resolved: Resolved[] = [...cached];
    resolved.push(...(await this.lookup(unknown, state)));

    // 2. Write; a per-item "no such product here" re-resolves that SKU once and writes it again.
    const gone = await this.write(resolved, state, progress);
    if (gone.length > 0) {
      for (const r of gone) this.ctx.cache.delete(r.wanted.key);
      const again = await this.lookup(
        gone.map((r) => r.wanted),
        state,
      );
      const stillGone = await this.write(again, state, progress);
      for (const r of stillGone) {
        this.ctx.cache.delete(r.wanted.key);
        state.fail(
          r.wanted,
          toSafeError(
            new StorefrontError({
              store: this.name,
              message: `SKU ${r.wanted.targets[0]?.sku}: product ${r.ref.id} was not writable even after re-resolving`,
              retryable: true,
            }),
          ),
        );
      }
    }

    const attemptedCalls = state.calls.reads + state.calls.writes > 0;
    if (attemptedCalls && !state.reached && state.acknowledged.length === 0 && state.unreachable) {
      // The store answered nothing at all: the core keeps every checkpoint and retries the run.
      throw state.unreachable;
    }
    progress();
    if (state.duplicate.length > 0) {
      this.ctx.log.warn('woocommerce: SKUs on more than one product are not published', {
        store: this.name,
        skus: state.duplicate,
      });
    }
    this.ctx.log.debug('woocommerce: stock pushed', {
      store: this.name,
      targets: targets.length,
      acknowledged: state.acknowledged.length,
      missing: state.missing.length,
      duplicate: state.duplicate.length,
      failed: state.failed.length,
      ...state.calls,
    });
    return {
      acknowledged: state.acknowledged,
      missing: state.missing,
      duplicate: state.duplicate,
      failed: state.failed,
      calls: { ...state.calls },
    };
  }

  /** Looks every SKU up (the cache is not trusted for a read): what the store shows now. */
  async readStock(skus: readonly string[]): Promise<StockReading> {
    const state = new PushState(skus.length);
    const resolved = await this.lookup(readTargets(this.name, skus, state), state);
    return readingOf(
      state,
      resolved.map((r) => ({ sku: r.wanted.targets[0]?.sku ?? r.wanted.key, quantity: r.stock ?? null })),
    );
  }

  /**
   * A key's permissions are checked by WooCommerce before any route runs, so an empty batch
   * write (`POST products/batch {}`, which changes nothing) is refused for a read-only key and
   * accepted for a read/write one.
   */
  async checkAccess(): Promise<AccessCheck> {
    const refused = (e: StorefrontError) => e.status === 401 || e.status === 403;
    try {
      await this.client.get('products', { params: { per_page: 1, _fields: 'id' } });
    } catch (e) {
      const err = this.asStorefrontError(e);
      return {
        verdict: 'fail',
        detail: refused(err)
          ? `key refused (${err.status}): check consumerKey and consumerSecret, and that url is the store's home URL: ${err.message}`
          : `not reachable: ${err.message}`,
      };
    }
    try {
      await this.client.post('products/batch', {}, { idempotent: true });
      return {
        verdict: 'ok',
        detail:
          'key accepted, with write permission (tried with an empty batch write, which changes nothing)',
      };
    } catch (e) {
      const err = this.asStorefrontError(e);
      return {
        verdict: 'fail',
        detail: refused(err)
          ? `key may read but not write (${err.status}): give it Read/Write permission (WooCommerce → Settings → Advanced → REST API)`
          : `write check failed: ${err.message}`,
      };
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  /** `GET products?sku=…` in chunks, every page; updates the cache with what it learns. */
  private async lookup(wanted: Wanted[], state: PushState): Promise<Resolved[]> {
    const lookable: Wanted[] = [];
    for (const w of wanted) {
      // WooCommerce splits the sku filter on commas: such a SKU cannot be looked up at all.
      if (w.key.includes(',')) {
        state.fail(
          w,
          toSafeError(
            new StorefrontError({
              store: this.name,
              message: `SKU "${w.targets[0]?.sku}" contains a comma and cannot be looked up`,
              retryable: false,
            }),
          ),
        );
      } else lookable.push(w);
    }
    const chunks: Wanted[][] = [];
    let chunk: Wanted[] = [];
    let chars = 0;
    for (const w of lookable) {
      const len = encodeURIComponent(w.key).length + 3;
      if (chunk.length > 0 && (chunk.length >= LOOKUP_SKUS || chars + len > LOOKUP_URL_CHARS)) {
        chunks.push(chunk);
        chunk = [];
        chars = 0;
      }
      chunk.push(w);
      chars += len;
    }
    if (chunk.length > 0) chunks.push(chunk);
    const results = await Promise.all(chunks.map((c) => this.lookupChunk(c, state)));
    return results.flat();
  }

  private async lookupChunk(chunk: Wanted[], state: PushState): Promise<Resolved[]> {
    const sku = chunk.map((w) => w.targets[0]?.sku.trim() ?? w.key).join(',');
    const found: WooLookupItem[] = [];
    try {
      for (let page = 1, pages = 1; page <= pages; page++) {
        const res = await this.client.get<unknown>('products', {
          params: { sku, per_page: 100, page, _fields: LOOKUP_FIELDS },
          counts: state.calls,
        });
        state.reached = true;
        if (!Array.isArray(res.data))
          throw this.badResponse('GET', 'products', 'expected an array of products');
        for (const item of res.data) {
          if (!isLookupItem(item))
            throw this.badResponse('GET', 'products', 'a product lacks id, sku or type');
          found.push(item);
        }
        pages = res.totalPages ?? 1;
      }
    } catch (e) {
      const err = this.asStorefrontError(e);
      state.callFailed(err);
      for (const w of chunk) state.fail(w, toSafeError(err));
      return [];
    }

    const resolved: Resolved[] = [];
    const stockCarrying = found.filter((item) => !NOT_STOCK_CARRYING.has(item.type) && item.sku !== '');
    const entries = sortLookups(chunk, stockCarrying, state, this.ctx.now(), (w, item) => {
      const ref: WooRef = {
        id: item.id,
        parentId: item.type === 'variation' && item.parent_id > 0 ? item.parent_id : null,
      };
      const managed = item.manage_stock === true && typeof item.stock_quantity === 'number';
      resolved.push({ wanted: w, ref, stock: managed ? (item.stock_quantity as number) : null });
      return ref;
    });
    this.ctx.cache.set(entries);
    return resolved;
  }

  /** Batch writes; returns the items the store says are not there (to re-resolve). */
  private async write(resolved: Resolved[], state: PushState, progress: () => void): Promise<Resolved[]> {
    const byEndpoint = new Map<string, Resolved[]>();
    for (const r of resolved) {
      const endpoint =
        r.ref.parentId === null ? 'products/batch' : `products/${r.ref.parentId}/variations/batch`;
      const group = byEndpoint.get(endpoint);
      if (group) group.push(r);
      else byEndpoint.set(endpoint, [r]);
    }
    const calls: Promise<Resolved[]>[] = [];
    for (const [endpoint, items] of byEndpoint) {
      for (let i = 0; i < items.length; i += BATCH_LIMIT) {
        calls.push(this.writeBatch(endpoint, items.slice(i, i + BATCH_LIMIT), state).finally(progress));
      }
    }
    return (await Promise.all(calls)).flat();
  }

  private async writeBatch(endpoint: string, items: Resolved[], state: PushState): Promise<Resolved[]> {
    // Never a null: a null in a WooCommerce write can mean "0" or "stop managing stock".
    // A price (catalog.pricing) rides in the same item as the stock: no extra call.
    const update = items.map((r) => ({
      id: r.ref.id,
      manage_stock: true,
      stock_quantity: r.wanted.quantity,
      ...(r.wanted.price !== undefined && { regular_price: r.wanted.price }),
    }));
    let returned: WooBatchItem[];
    try {
      // Absolute quantities: sending the same batch twice is harmless, so it may be retried.
      const res = await this.client.post<unknown>(
        endpoint,
        { update },
        { idempotent: true, counts: state.calls },
      );
      state.reached = true;
      const body = res.data as { update?: unknown } | null;
      if (!body || typeof body !== 'object' || !Array.isArray(body.update)) {
        throw this.badResponse('POST', endpoint, 'batch response has no update list');
      }
      returned = body.update.filter((x): x is WooBatchItem => !!x && typeof x === 'object');
    } catch (e) {
      const err = this.asStorefrontError(e);
      state.callFailed(err);
      for (const r of items) state.fail(r.wanted, toSafeError(err));
      return [];
    }

    const byId = new Map<number, WooBatchItem>();
    for (const item of returned) byId.set(Number(item.id), item);
    const gone: Resolved[] = [];
    for (const r of items) {
      const item = byId.get(r.ref.id);
      const sku = r.wanted.targets[0]?.sku ?? r.wanted.key;
      if (!item) {
        state.fail(r.wanted, this.itemError(endpoint, `SKU ${sku}: not in the batch response`));
      } else if (item.error) {
        const code = typeof item.error.code === 'string' ? item.error.code : undefined;
        const status = typeof item.error.data?.status === 'number' ? item.error.data.status : undefined;
        if ((code && GONE_CODES.has(code)) || status === 404) {
          gone.push(r);
          continue;
        }
        const message = typeof item.error.message === 'string' ? item.error.message : 'item failed';
        state.fail(r.wanted, this.itemError(endpoint, `SKU ${sku}: ${message}`, status, code));
      } else if (typeof item.sku === 'string' && skuKey(item.sku) !== r.wanted.key) {
        // The cached id now carries another SKU (the merchant re-used the product): find ours again.
        this.ctx.log.warn('woocommerce: product no longer carries the cached SKU', {
          store: this.name,
          sku,
          id: r.ref.id,
        });
        gone.push(r);
      } else if (item.stock_quantity !== r.wanted.quantity || item.manage_stock !== true) {
        state.fail(
          r.wanted,
          this.itemError(
            endpoint,
            `SKU ${sku}: store shows ${String(item.stock_quantity)}, not ${r.wanted.quantity}`,
          ),
        );
      } else if (r.wanted.price !== undefined && item.regular_price !== r.wanted.price) {
        state.fail(
          r.wanted,
          this.itemError(endpoint, `SKU ${sku}: store shows another price than ${r.wanted.price}`),
        );
      } else state.ack(r.wanted);
    }
    return gone;
  }

  private itemError(endpoint: string, message: string, status?: number, code?: string): SafeError {
    return toSafeError(
      new StorefrontError({
        store: this.name,
        method: 'POST',
        path: `/wp-json/wc/v3/${endpoint}`,
        message,
        ...(status !== undefined && { status }),
        ...(code && { code }),
        retryable: status === undefined || status >= 500,
      }),
    );
  }

  private badResponse(method: string, endpoint: string, message: string): StorefrontError {
    return new StorefrontError({
      store: this.name,
      method,
      path: `/wp-json/wc/v3/${endpoint}`,
      message: `unexpected response: ${message}`,
      code: 'bad-response',
    });
  }

  private asStorefrontError(e: unknown): StorefrontError {
    if (e instanceof StorefrontError) return e;
    return new StorefrontError({ store: this.name, message: toSafeError(e).message });
  }
}

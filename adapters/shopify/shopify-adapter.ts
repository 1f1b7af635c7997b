import { randomUUID } from 'node:crypto';
import type { ShopifyStoreConfig } from '../../config/schema.js';
import { type SafeError, StorefrontError, toSafeError } from '../../src/errors.js';
import { decimalTextToCents } from '../../src/money.js';
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
  CachedSku,
  CallCounts,
  PushOptions,
  PushOutcome,
  ShopOrders,
  StockReading,
  StockTarget,
  Storefront,
  StorefrontContext,
} from '../../src/storefront.js';
import { type RetryPolicy, type ShopifyDocument, ShopifyGraphqlClient } from './shopify-client.js';
import { ShopifyOrders } from './shopify-orders.js';

/**
 * Shopify stock pushes through the Admin GraphQL API (2026-10).
 *
 * A SKU resolves to one variant (and its inventory item) through the SKU cache; unknown SKUs
 * are searched with `productVariants(query: "sku:\"A\" OR …")`, a fuzzy search, so every hit
 * is compared exactly (SKU without case, as the cache keys it) and a SKU on two variants is a
 * duplicate, never published. Cached SKUs are re-read by id just before writing (`nodes`), which
 * also gives the current quantity the compare-and-set needs and notices a SKU that moved or was
 * duplicated since.
 *
 * Availability is the variant's `inventoryPolicy: DENY` with a tracked item, so 0 means
 * unsellable; products are never hidden or drafted. Variants that need it get a one-time
 * `productVariantsBulkUpdate` (per product), items not stocked at the location a one-time
 * `inventoryActivate` that sets the target as it activates. Everything else is written with
 * `inventorySetQuantities`, ≤ 250 quantities a call, `changeFromQuantity` = the quantity just
 * read, under a fresh `@idempotent` key; a stale compare-and-set re-reads those items and tries
 * once more. A target is acknowledged only when the mutation's changes show it.
 */

/** The cached locator of a SKU (ids are Shopify GIDs). */
export interface ShopifyRef {
  variantId: string;
  inventoryItemId: string;
  /** `productVariantsBulkUpdate` works per product. */
  productId: string;
  /** Stocked at `locationId` when last seen. */
  stocked: boolean;
  locationId: string;
  policyDeny: boolean;
  tracked: boolean;
}

export interface ShopifyAdapterOptions {
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
}

/** Totals of one-time fixes since start (they are not part of the per-push minimum). */
export interface OneTimeCounts {
  activations: number;
  policyUpdates: number;
}

const SET_LIMIT = 250;
const LOOKUP_SKUS = 50;
/** Room for the near-matches Shopify's fuzzy search adds; more pages are followed. */
const LOOKUP_PAGE = 100;
const LOOKUP_MAX_PAGES = 20;
const REFRESH_IDS = 150;
const BULK_UPDATE_LIMIT = 250;
const LOCATIONS_PAGE = 50;
/** Requested cost of one variant read with STOCK_VARIANT: variant, product, item, level, quantities. */
const VARIANT_COST = 5;
const MUTATION_COST = 10;

const STOCK_VARIANT = /* GraphQL */ `
  fragment StockVariant on ProductVariant {
    id
    sku
    price
    inventoryPolicy
    product { id }
    inventoryItem {
      id
      tracked
      duplicateSkuCount
      inventoryLevel(locationId: $locationId) { quantities(names: ["available"]) { name quantity } }
    }
  }
`;

const LOOKUP_QUERY = /* GraphQL */ `
  query StockLookup($query: String!, $first: Int!, $after: String, $locationId: ID!) {
    productVariants(first: $first, after: $after, query: $query) {
      nodes { ...StockVariant }
      pageInfo { hasNextPage endCursor }
    }
  }
  ${STOCK_VARIANT}
`;

const REFRESH_QUERY = /* GraphQL */ `
  query StockRefresh($ids: [ID!]!, $locationId: ID!) {
    nodes(ids: $ids) { id ...StockVariant }
  }
  ${STOCK_VARIANT}
`;

const LOCATION_QUERY = /* GraphQL */ `
  query StockLocation($id: ID!) {
    location(id: $id) { id name isActive fulfillsOnlineOrders }
  }
`;

const LOCATIONS_QUERY = /* GraphQL */ `
  query StockLocations($first: Int!) {
    location { id name isActive fulfillsOnlineOrders }
    locations(first: $first) { nodes { id name isActive fulfillsOnlineOrders } }
  }
`;

/** One call per product: the one-time policy fix and (catalog.pricing) changed prices together. */
const VARIANT_MUTATION = /* GraphQL */ `
  mutation StockVariantUpdate($productId: ID!, $variants: [ProductVariantsBulkInput!]!) {
    productVariantsBulkUpdate(productId: $productId, variants: $variants) {
      productVariants { id price inventoryPolicy inventoryItem { id tracked } }
      userErrors { field message code }
    }
  }
`;

const ACTIVATE_MUTATION = /* GraphQL */ `
  mutation StockActivate($inventoryItemId: ID!, $locationId: ID!, $available: Int!, $key: String!) {
    inventoryActivate(inventoryItemId: $inventoryItemId, locationId: $locationId, available: $available)
      @idempotent(key: $key) {
      inventoryLevel { id quantities(names: ["available"]) { name quantity } }
      userErrors { field message }
    }
  }
`;

const SET_MUTATION = /* GraphQL */ `
  mutation StockSet($input: InventorySetQuantitiesInput!, $key: String!) {
    inventorySetQuantities(input: $input) @idempotent(key: $key) {
      inventoryAdjustmentGroup {
        id
        changes(quantityNames: ["available"]) { name quantityAfterChange item { id } location { id } }
      }
      userErrors { field message code }
    }
  }
`;

const SAMPLE_LOCATION = 'gid://shopify/Location/1';
const SAMPLE_ITEM = 'gid://shopify/InventoryItem/1';
const SAMPLE_KEY = '00000000-0000-4000-8000-000000000000';
const many = <T>(n: number, make: (i: number) => T): T[] => Array.from({ length: n }, (_v, i) => make(i + 1));

/** Every document this module sends, at its largest variables (held to the cost cap by a test). */
export const STOCK_DOCUMENTS: readonly ShopifyDocument[] = [
  {
    query: LOOKUP_QUERY,
    maxVariables: {
      query: many(LOOKUP_SKUS, (i) => `sku:"PSN-US-${i}"`).join(' OR '),
      first: LOOKUP_PAGE,
      after: 'eyJsYXN0X2lkIjoxfQ',
      locationId: SAMPLE_LOCATION,
    },
  },
  {
    query: REFRESH_QUERY,
    maxVariables: {
      ids: many(REFRESH_IDS, (i) => `gid://shopify/ProductVariant/${i}`),
      locationId: SAMPLE_LOCATION,
    },
  },
  { query: LOCATION_QUERY, maxVariables: { id: SAMPLE_LOCATION } },
  { query: LOCATIONS_QUERY, maxVariables: { first: LOCATIONS_PAGE } },
  {
    query: VARIANT_MUTATION,
    maxVariables: {
      productId: 'gid://shopify/Product/1',
      variants: many(BULK_UPDATE_LIMIT, (i) => ({
        id: `gid://shopify/ProductVariant/${i}`,
        price: '19.99',
        inventoryPolicy: 'DENY',
        inventoryItem: { tracked: true },
      })),
    },
  },
  {
    query: ACTIVATE_MUTATION,
    maxVariables: {
      inventoryItemId: SAMPLE_ITEM,
      locationId: SAMPLE_LOCATION,
      available: 1,
      key: SAMPLE_KEY,
    },
  },
  {
    query: SET_MUTATION,
    maxVariables: {
      input: {
        name: 'available',
        reason: 'correction',
        referenceDocumentUri: 'gid://psnb2b-sync/StockPush/1',
        quantities: many(SET_LIMIT, (i) => ({
          inventoryItemId: `gid://shopify/InventoryItem/${i}`,
          locationId: SAMPLE_LOCATION,
          quantity: 1,
          changeFromQuantity: null,
        })),
      },
      key: SAMPLE_KEY,
    },
  },
];

// ---- wire shapes (checked as they arrive: a missing field is a bad response, not a crash) ----

interface WireVariant {
  id: string;
  sku: string | null;
  price: string;
  inventoryPolicy: string;
  product: { id: string };
  inventoryItem: {
    id: string;
    tracked: boolean;
    duplicateSkuCount: number;
    inventoryLevel: { quantities: { name: string; quantity: number }[] } | null;
  };
}

interface WireLocation {
  id: string;
  name: string;
  isActive: boolean;
  fulfillsOnlineOrders: boolean;
}

interface WireUserError {
  field?: string[] | null;
  message?: string;
  code?: string | null;
}

function isWireVariant(v: unknown): v is WireVariant {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  const item = r.inventoryItem as Record<string, unknown> | null | undefined;
  const product = r.product as Record<string, unknown> | null | undefined;
  const level = item?.inventoryLevel as { quantities?: unknown } | null | undefined;
  return (
    typeof r.id === 'string' &&
    (typeof r.sku === 'string' || r.sku === null) &&
    typeof r.price === 'string' &&
    typeof r.inventoryPolicy === 'string' &&
    typeof product?.id === 'string' &&
    typeof item?.id === 'string' &&
    typeof item.tracked === 'boolean' &&
    typeof item.duplicateSkuCount === 'number' &&
    (level === null || Array.isArray(level?.quantities))
  );
}

function isRef(v: unknown): v is ShopifyRef {
  if (!v || typeof v !== 'object') return false;
  const r = v as Record<string, unknown>;
  return (
    typeof r.variantId === 'string' &&
    typeof r.inventoryItemId === 'string' &&
    typeof r.productId === 'string' &&
    typeof r.locationId === 'string' &&
    typeof r.stocked === 'boolean' &&
    typeof r.policyDeny === 'boolean' &&
    typeof r.tracked === 'boolean'
  );
}

/** `available` at the location, or null when the item is not stocked there. */
function availableOf(v: WireVariant): number | null {
  const level = v.inventoryItem.inventoryLevel;
  if (!level) return null;
  const q = level.quantities.find((x) => x.name === 'available');
  return typeof q?.quantity === 'number' ? q.quantity : null;
}

/** A SKU inside a Shopify search string: quoted, with `\` and `"` escaped. */
const searchTerm = (sku: string): string => `sku:"${sku.replace(/[\\"]/g, (c) => `\\${c}`)}"`;

const toLocationGid = (id: string): string => (/^\d+$/.test(id) ? `gid://shopify/Location/${id}` : id);

/** A resolved SKU with what was just read of it. */
interface Current {
  wanted: Wanted;
  ref: ShopifyRef;
  /** `available` at the location now; null = not stocked there. */
  available: number | null;
  /** The variant's price now (shop currency). */
  price: string;
  /** The cached ref, to write the cache only when something changed. */
  cachedRef: ShopifyRef | undefined;
}

/** An item a set call did not apply; `stale` when its own compare-and-set failed. */
interface Retry {
  current: Current;
  stale: boolean;
}

/** Everything one push learns: the shared tally, plus Shopify's one-time fixes. */
class PushState extends PushTally {
  readonly oneTime: OneTimeCounts = { activations: 0, policyUpdates: 0 };
  setCalls = 0;
  /** `productVariantsBulkUpdate` calls that carried a price (one per product with a changed price). */
  priceCalls = 0;
}

export class ShopifyStorefront implements Storefront {
  readonly type = 'shopify';
  readonly name: string;
  /** One-time fixes since start (activations, policy/tracking updates), for reports and benchmarks. */
  readonly oneTime: OneTimeCounts = { activations: 0, policyUpdates: 0 };
  /** What the last push did, call by call kind. */
  lastPush: { setCalls: number; priceCalls: number; activations: number; policyUpdates: number } | undefined;
  /** Order intake and delivery (shopify-orders.ts), over the same client, queue and pacer. */
  readonly orders: ShopOrders;
  private readonly client: ShopifyGraphqlClient;
  private readonly configuredLocation: string | undefined;
  private location: WireLocation | undefined;

  get requests(): Readonly<CallCounts> {
    return this.client.counts;
  }

  constructor(
    config: ShopifyStoreConfig,
    private readonly ctx: StorefrontContext,
    opts: ShopifyAdapterOptions = {},
  ) {
    this.name = config.name;
    this.configuredLocation = config.locationId ? toLocationGid(config.locationId) : undefined;
    this.client = new ShopifyGraphqlClient({
      store: config.name,
      shop: config.shop,
      accessToken: config.accessToken,
      apiSecretKey: config.apiSecretKey,
      timeoutMs: config.timeoutMs,
      log: ctx.log,
      ...(opts.retry && { retry: opts.retry }),
      ...(opts.sleep && { sleep: opts.sleep }),
    });
    this.orders = new ShopifyOrders({
      store: config.name,
      client: this.client,
      apiSecretKey: config.apiSecretKey,
      log: ctx.log,
      now: ctx.now,
    });
  }

  /** The shop's clock minus ours, from its last `Date` header (the `clock-skew` alert reads it). */
  get clockSkewMs(): number | undefined {
    return this.client.clockSkewMs;
  }

  async pushStock(targets: StockTarget[], options: PushOptions = {}): Promise<PushOutcome> {
    const state = new PushState(targets.length);
    const progress = () => options.onProgress?.(state.settled, state.total);
    const wanted = groupTargets(this.name, targets, state);
    if (wanted.length === 0) return this.outcome(state);

    // The location every quantity is read and written at; a store that cannot tell us throws.
    const location = await this.ensureLocation(state);

    // 1. Resolve: the cache first (re-read by id), the fuzzy search for the rest.
    const { cached, unknown } = triageByCache(wanted, this.ctx, state, isRef);
    const refreshed = await this.refresh(cached, location.id, state);
    const current = [
      ...refreshed.current,
      ...(await this.lookup([...unknown, ...refreshed.relookup], location.id, state)),
    ];
    progress();

    // 2. One-time fixes, then 3. the quantities.
    const ready = await this.updateVariants(current, state, progress);
    const toSet = await this.activate(ready, location.id, state, progress);
    await this.setQuantities(toSet, location.id, state, progress);

    this.rememberRefs(current);
    const attempted = state.calls.reads + state.calls.writes > 0;
    if (attempted && !state.reached && state.acknowledged.length === 0 && state.unreachable) {
      // The store answered nothing at all: the core keeps every checkpoint and retries the run.
      throw state.unreachable;
    }
    progress();
    return this.outcome(state);
  }

  /** Searches every SKU (the cache is not trusted for a read): `available` at the stock location now. */
  async readStock(skus: readonly string[]): Promise<StockReading> {
    const state = new PushState(skus.length);
    const wanted = readTargets(this.name, skus, state);
    if (wanted.length === 0) return readingOf(state, []);
    const location = await this.ensureLocation(state);
    const current = await this.lookup(wanted, location.id, state);
    return readingOf(
      state,
      current.map((c) => ({ sku: c.wanted.targets[0]?.sku ?? c.wanted.key, quantity: c.available })),
    );
  }

  /**
   * The token is checked by a read (the stock location). Shopify has no write that changes
   * nothing, so the write scopes are named for the merchant to check, not tried.
   */
  async checkAccess(): Promise<AccessCheck> {
    try {
      const location = await this.ensureLocation(new PushState(0));
      return {
        verdict: 'warn',
        detail: `token accepted (stock location "${location.name}"); write scopes not tried (no harmless write exists): the app needs write_inventory, write_products, write_orders, write_merchant_managed_fulfillment_orders`,
      };
    } catch (e) {
      return { verdict: 'fail', detail: toSafeError(e).message };
    }
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private outcome(state: PushState): PushOutcome {
    this.oneTime.activations += state.oneTime.activations;
    this.oneTime.policyUpdates += state.oneTime.policyUpdates;
    this.lastPush = { setCalls: state.setCalls, priceCalls: state.priceCalls, ...state.oneTime };
    if (state.duplicate.length > 0) {
      this.ctx.log.warn('shopify: SKUs on more than one variant are not published', {
        store: this.name,
        skus: state.duplicate,
      });
    }
    if (state.oneTime.activations + state.oneTime.policyUpdates > 0) {
      this.ctx.log.info('shopify: one-time fixes', { store: this.name, ...state.oneTime });
    }
    this.ctx.log.debug('shopify: stock pushed', {
      store: this.name,
      targets: state.total,
      acknowledged: state.acknowledged.length,
      missing: state.missing.length,
      duplicate: state.duplicate.length,
      failed: state.failed.length,
      setCalls: state.setCalls,
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

  private badResponse(operation: string, what: string): StorefrontError {
    return new StorefrontError({
      store: this.name,
      method: 'POST',
      path: '/admin/api/2026-10/graphql.json',
      message: `${operation}: ${what}`,
      code: 'BAD_RESPONSE',
    });
  }

  /** Runs a call unless the store already stopped answering in this push; failures are recorded. */
  private async call<T>(
    state: PushState,
    run: () => Promise<T>,
  ): Promise<{ ok: true; data: T } | { ok: false; error: StorefrontError }> {
    if (state.unreachable) return { ok: false, error: state.unreachable };
    try {
      const data = await run();
      state.reached = true;
      return { ok: true, data };
    } catch (e) {
      const error =
        e instanceof StorefrontError
          ? e
          : new StorefrontError({ store: this.name, message: toSafeError(e).message, retryable: false });
      state.callFailed(error);
      return { ok: false, error };
    }
  }

  // ---- location -------------------------------------------------------------------------------

  /** config.locationId, or the primary location if it fulfils online orders, else the first that does. */
  private async ensureLocation(state: PushState): Promise<WireLocation> {
    if (this.location) return this.location;
    const fail = (message: string, retryable = false) =>
      new StorefrontError({ store: this.name, message, retryable, code: 'LOCATION' });
    let chosen: WireLocation | undefined;
    if (this.configuredLocation) {
      const res = await this.call(state, () =>
        this.client.request<{ location: WireLocation | null }>({
          operation: 'StockLocation',
          query: LOCATION_QUERY,
          variables: { id: this.configuredLocation },
          cost: 1,
          kind: 'read',
          counts: state.calls,
        }),
      );
      if (!res.ok) throw res.error;
      const loc = res.data.location;
      if (!loc?.isActive)
        throw fail(
          `location ${this.configuredLocation} (storefronts[].locationId) is not an active location of this shop`,
        );
      chosen = loc;
    } else {
      const res = await this.call(state, () =>
        this.client.request<{ location: WireLocation | null; locations: { nodes: WireLocation[] } }>({
          operation: 'StockLocations',
          query: LOCATIONS_QUERY,
          variables: { first: LOCATIONS_PAGE },
          cost: 1 + 2 + LOCATIONS_PAGE,
          kind: 'read',
          counts: state.calls,
        }),
      );
      if (!res.ok) throw res.error;
      const primary = res.data.location;
      chosen =
        primary?.isActive && primary.fulfillsOnlineOrders
          ? primary
          : res.data.locations?.nodes?.find((l) => l.isActive && l.fulfillsOnlineOrders);
      if (!chosen) throw fail('no active location fulfils online orders; set storefronts[].locationId');
    }
    this.location = chosen;
    this.ctx.log.info(`shopify: stock is written at location "${chosen.name}"`, {
      store: this.name,
      location: chosen.id,
    });
    return chosen;
  }

  // ---- resolve --------------------------------------------------------------------------------

  private currentOf(wanted: Wanted, v: WireVariant, locationId: string, cachedRef?: ShopifyRef): Current {
    const available = availableOf(v);
    return {
      wanted,
      available,
      price: v.price,
      cachedRef,
      ref: {
        variantId: v.id,
        inventoryItemId: v.inventoryItem.id,
        productId: v.product.id,
        stocked: available !== null,
        locationId,
        policyDeny: v.inventoryPolicy === 'DENY',
        tracked: v.inventoryItem.tracked,
      },
    };
  }

  /**
   * Re-reads cached SKUs by id (exact, no search). A variant that is gone, now carries another
   * SKU, or shares its SKU with another variant goes back through the search.
   */
  private async refresh(
    cached: { wanted: Wanted; ref: ShopifyRef }[],
    locationId: string,
    state: PushState,
  ): Promise<{ current: Current[]; relookup: Wanted[] }> {
    const current: Current[] = [];
    const relookup: Wanted[] = [];
    for (let i = 0; i < cached.length; i += REFRESH_IDS) {
      const chunk = cached.slice(i, i + REFRESH_IDS);
      const res = await this.call(state, () =>
        this.client.request<{ nodes: unknown[] }>({
          operation: 'StockRefresh',
          query: REFRESH_QUERY,
          variables: { ids: chunk.map((c) => c.ref.variantId), locationId },
          cost: chunk.length * VARIANT_COST,
          kind: 'read',
          counts: state.calls,
        }),
      );
      const nodes = res.ok ? res.data.nodes : undefined;
      if (!res.ok || !Array.isArray(nodes) || nodes.length !== chunk.length) {
        const error = res.ok
          ? this.badResponse('StockRefresh', 'nodes do not match the ids asked for')
          : res.error;
        for (const c of chunk) state.fail(c.wanted, toSafeError(error));
        continue;
      }
      chunk.forEach((c, j) => {
        const node = nodes[j];
        if (node === null) relookup.push(c.wanted);
        else if (!isWireVariant(node))
          state.fail(c.wanted, toSafeError(this.badResponse('StockRefresh', 'a variant lacks a field')));
        else if (
          node.sku === null ||
          skuKey(node.sku) !== c.wanted.key ||
          node.inventoryItem.duplicateSkuCount > 0
        ) {
          relookup.push(c.wanted);
        } else current.push(this.currentOf(c.wanted, node, locationId, c.ref));
      });
    }
    for (const w of relookup) this.ctx.cache.delete(w.key);
    return { current, relookup };
  }

  /** The fuzzy search in chunks, every page; exact matches only; updates the cache with what it learns. */
  private async lookup(wanted: Wanted[], locationId: string, state: PushState): Promise<Current[]> {
    const out: Current[] = [];
    for (let i = 0; i < wanted.length; i += LOOKUP_SKUS) {
      out.push(...(await this.lookupChunk(wanted.slice(i, i + LOOKUP_SKUS), locationId, state)));
    }
    return out;
  }

  private async lookupChunk(chunk: Wanted[], locationId: string, state: PushState): Promise<Current[]> {
    const query = chunk.map((w) => searchTerm(w.targets[0]?.sku.trim() ?? w.key)).join(' OR ');
    const found: WireVariant[] = [];
    let after: string | null = null;
    let failure: StorefrontError | undefined;
    for (let page = 0; page < LOOKUP_MAX_PAGES; page++) {
      const res = await this.call(state, () =>
        this.client.request<{
          productVariants: { nodes: unknown[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } };
        }>({
          operation: 'StockLookup',
          query: LOOKUP_QUERY,
          variables: { query, first: LOOKUP_PAGE, after, locationId },
          cost: 2 + LOOKUP_PAGE * VARIANT_COST,
          kind: 'read',
          counts: state.calls,
        }),
      );
      if (!res.ok) {
        failure = res.error;
        break;
      }
      const conn = res.data.productVariants;
      if (!conn || !Array.isArray(conn.nodes) || !conn.nodes.every(isWireVariant)) {
        failure = this.badResponse('StockLookup', 'a variant lacks a field');
        break;
      }
      found.push(...(conn.nodes as WireVariant[]));
      if (!conn.pageInfo?.hasNextPage) {
        after = null;
        break;
      }
      after = conn.pageInfo.endCursor;
      if (page === LOOKUP_MAX_PAGES - 1) {
        failure = this.badResponse('StockLookup', `more than ${LOOKUP_MAX_PAGES} pages of near-matches`);
      }
    }
    if (failure) {
      for (const w of chunk) state.fail(w, toSafeError(failure));
      return [];
    }

    const current: Current[] = [];
    // The search is fuzzy (prefix, tokens): only an exact SKU is a match.
    const withSku = found.filter((v): v is WireVariant & { sku: string } => v.sku !== null);
    const entries = sortLookups(chunk, withSku, state, this.ctx.now(), (w, variant) => {
      const c = this.currentOf(w, variant, locationId);
      c.cachedRef = c.ref;
      current.push(c);
      return c.ref;
    });
    this.ctx.cache.set(entries);
    return current;
  }

  /** Writes a ref back only when it changed (a flag fixed, an item activated, a fresh lookup is already stored). */
  private rememberRefs(current: Current[]): void {
    const changed: CachedSku[] = [];
    const checkedAt = this.ctx.now();
    for (const c of current) {
      const before = c.cachedRef;
      if (before && JSON.stringify(before) === JSON.stringify(c.ref)) continue;
      changed.push({
        sku: c.wanted.targets[0]?.sku ?? c.wanted.key,
        state: 'matched',
        ref: c.ref,
        checkedAt,
      });
    }
    if (changed.length > 0) this.ctx.cache.set(changed);
  }

  // ---- one-time fixes -------------------------------------------------------------------------

  /** `inventoryPolicy: DENY` and a tracked item, so stock 0 means unsellable; per product, only where needed. */
  /**
   * Variants whose policy or tracking needs the one-time fix, or whose price (catalog.pricing)
   * differs from the wanted one, are updated with one `productVariantsBulkUpdate` per product
   * (≤ 250 variants a call); a variant is ready for its quantity only once the answer confirms it.
   */
  private async updateVariants(
    current: Current[],
    state: PushState,
    progress: () => void,
  ): Promise<Current[]> {
    const ready: Current[] = [];
    const byProduct = new Map<string, Current[]>();
    const needsPolicy = (c: Current) => !(c.ref.policyDeny && c.ref.tracked);
    const needsPrice = (c: Current) =>
      c.wanted.price !== undefined && decimalTextToCents(c.price) !== decimalTextToCents(c.wanted.price);
    for (const c of current) {
      if (!needsPolicy(c) && !needsPrice(c)) ready.push(c);
      else byProduct.set(c.ref.productId, [...(byProduct.get(c.ref.productId) ?? []), c]);
    }
    for (const [productId, all] of byProduct) {
      for (let i = 0; i < all.length; i += BULK_UPDATE_LIMIT) {
        const batch = all.slice(i, i + BULK_UPDATE_LIMIT);
        const res = await this.call(state, () =>
          this.client.request<{
            productVariantsBulkUpdate: {
              productVariants:
                | {
                    id: string;
                    price: string;
                    inventoryPolicy: string;
                    inventoryItem: { tracked: boolean };
                  }[]
                | null;
              userErrors: WireUserError[];
            } | null;
          }>({
            operation: 'StockVariantUpdate',
            query: VARIANT_MUTATION,
            variables: {
              productId,
              variants: batch.map((c) => ({
                id: c.ref.variantId,
                ...(needsPrice(c) && { price: c.wanted.price }),
                ...(needsPolicy(c) && { inventoryPolicy: 'DENY', inventoryItem: { tracked: true } }),
              })),
            },
            cost: MUTATION_COST,
            kind: 'write',
            counts: state.calls,
          }),
        );
        if (!res.ok) {
          for (const c of batch) state.fail(c.wanted, toSafeError(res.error));
          continue;
        }
        if (batch.some(needsPolicy)) state.oneTime.policyUpdates++;
        if (batch.some(needsPrice)) state.priceCalls++;
        const payload = res.data.productVariantsBulkUpdate;
        const confirmed = new Map((payload?.productVariants ?? []).map((v) => [v.id, v]));
        const problem = payload?.userErrors?.[0];
        for (const c of batch) {
          const v = confirmed.get(c.ref.variantId);
          const priceOk =
            c.wanted.price === undefined ||
            (v !== undefined && decimalTextToCents(v.price) === decimalTextToCents(c.wanted.price));
          if (v?.inventoryPolicy === 'DENY' && v.inventoryItem?.tracked === true && priceOk) {
            c.ref = { ...c.ref, policyDeny: true, tracked: true };
            c.price = v.price;
            ready.push(c);
          } else {
            state.fail(
              c.wanted,
              this.itemError(
                'StockVariantUpdate',
                c,
                problem?.message ?? (priceOk ? 'inventory policy not confirmed' : 'price not confirmed'),
                problem?.code ?? undefined,
              ),
            );
          }
        }
        progress();
      }
    }
    return ready;
  }

  /** Items not stocked at the location are activated there with the target as their first quantity. */
  private async activate(
    current: Current[],
    locationId: string,
    state: PushState,
    progress: () => void,
  ): Promise<Current[]> {
    const toSet: Current[] = [];
    for (const c of current) {
      if (c.available !== null) {
        toSet.push(c);
        continue;
      }
      const res = await this.call(state, () =>
        this.client.request<{
          inventoryActivate: {
            inventoryLevel: { quantities: { name: string; quantity: number }[] } | null;
            userErrors: WireUserError[];
          } | null;
        }>({
          operation: 'StockActivate',
          query: ACTIVATE_MUTATION,
          variables: {
            inventoryItemId: c.ref.inventoryItemId,
            locationId,
            available: c.wanted.quantity,
            key: randomUUID(),
          },
          cost: MUTATION_COST,
          kind: 'write',
          counts: state.calls,
        }),
      );
      if (!res.ok) {
        state.fail(c.wanted, toSafeError(res.error));
        continue;
      }
      state.oneTime.activations++;
      const payload = res.data.inventoryActivate;
      const quantity = payload?.inventoryLevel?.quantities?.find((q) => q.name === 'available')?.quantity;
      if (typeof quantity !== 'number') {
        state.fail(
          c.wanted,
          this.itemError('StockActivate', c, payload?.userErrors?.[0]?.message ?? 'activation not confirmed'),
        );
        continue;
      }
      c.available = quantity;
      c.ref = { ...c.ref, stocked: true, locationId };
      // Already active elsewhere in time (a race): what it holds is now the compare-and-set base.
      if (quantity === c.wanted.quantity) state.ack(c.wanted);
      else toSet.push(c);
      progress();
    }
    return toSet;
  }

  // ---- quantities -----------------------------------------------------------------------------

  /**
   * `inventorySetQuantities` in calls of ≤ 250. Items already at their target are acknowledged
   * without a write. Items a call did not apply (a stale compare-and-set, or the rest of an
   * all-or-nothing call) are re-read and sent again under a new key. An item stale a second
   * time fails (its quantity keeps moving; the next run tries again), and the items it held
   * back get one last call without it.
   */
  private async setQuantities(
    current: Current[],
    locationId: string,
    state: PushState,
    progress: () => void,
  ): Promise<void> {
    let pending = current;
    for (let round = 0; round < 3 && pending.length > 0; round++) {
      const retry: Retry[] = [];
      await this.writeAll(pending, locationId, state, progress, round === 2 ? undefined : retry);
      if (retry.length === 0) return;
      let next = retry;
      if (round === 1) {
        next = [];
        for (const r of retry) {
          if (r.stale) {
            state.fail(
              r.current.wanted,
              this.itemError(
                'StockSet',
                r.current,
                'quantity kept moving while writing',
                'CHANGE_FROM_QUANTITY_STALE',
              ),
            );
          } else next.push(r);
        }
      }
      pending = await this.reread(
        next.map((r) => r.current),
        locationId,
        state,
      );
    }
  }

  /** Acknowledges what is already at its target, writes the rest; with `retry`, collects what to try again. */
  private async writeAll(
    items: Current[],
    locationId: string,
    state: PushState,
    progress: () => void,
    retry?: Retry[],
  ): Promise<void> {
    const toWrite: Current[] = [];
    for (const c of items) {
      if (c.available === c.wanted.quantity) state.ack(c.wanted);
      else toWrite.push(c);
    }
    for (let i = 0; i < toWrite.length; i += SET_LIMIT) {
      const again = await this.setBatch(
        toWrite.slice(i, i + SET_LIMIT),
        locationId,
        state,
        retry === undefined,
      );
      retry?.push(...again);
      progress();
    }
  }

  /** Fresh quantities for items to retry; an item that can no longer be read fails. */
  private async reread(items: Current[], locationId: string, state: PushState): Promise<Current[]> {
    const byId = new Map(items.map((c) => [c.ref.variantId, c]));
    const { current, relookup } = await this.refresh(
      items.map((c) => ({ wanted: c.wanted, ref: c.ref })),
      locationId,
      state,
    );
    for (const w of relookup) {
      state.fail(
        w,
        toSafeError(
          new StorefrontError({
            store: this.name,
            message: `SKU ${w.targets[0]?.sku} changed while writing; looked up again next run`,
          }),
        ),
      );
    }
    const out: Current[] = [];
    for (const c of current) {
      const before = byId.get(c.ref.variantId);
      if (c.available === null) {
        state.fail(c.wanted, this.itemError('StockSet', c, 'no longer stocked at the location'));
        continue;
      }
      // Keep the flags the fixes set; the fresh read only brings the quantity.
      out.push({
        ...c,
        cachedRef: before?.cachedRef,
        ref: before ? { ...before.ref, stocked: true } : c.ref,
      });
    }
    return out;
  }

  /** One call; returns the items to re-read and retry (or, on the last round, fails them). */
  private async setBatch(
    batch: Current[],
    locationId: string,
    state: PushState,
    lastRound: boolean,
  ): Promise<Retry[]> {
    const res = await this.call(state, () =>
      this.client.request<{
        inventorySetQuantities: {
          inventoryAdjustmentGroup: {
            changes: {
              name: string;
              quantityAfterChange: number | null;
              item: { id: string };
              location: { id: string };
            }[];
          } | null;
          userErrors: WireUserError[];
        } | null;
      }>({
        operation: 'StockSet',
        query: SET_MUTATION,
        variables: {
          input: {
            name: 'available',
            reason: 'correction',
            referenceDocumentUri: `gid://psnb2b-sync/StockPush/${randomUUID()}`,
            quantities: batch.map((c) => ({
              inventoryItemId: c.ref.inventoryItemId,
              locationId,
              quantity: c.wanted.quantity,
              changeFromQuantity: c.available,
            })),
          },
          key: randomUUID(),
        },
        cost: MUTATION_COST,
        kind: 'write',
        counts: state.calls,
      }),
    );
    state.setCalls++;
    if (!res.ok) {
      for (const c of batch) state.fail(c.wanted, toSafeError(res.error));
      return [];
    }
    const payload = res.data.inventorySetQuantities;
    if (!payload || !Array.isArray(payload.userErrors)) {
      const error = toSafeError(this.badResponse('StockSet', 'no payload'));
      for (const c of batch) state.fail(c.wanted, error);
      return [];
    }
    const confirmed = new Map<string, number | null>();
    for (const ch of payload.inventoryAdjustmentGroup?.changes ?? []) {
      if (ch.name === 'available' && ch.location?.id === locationId)
        confirmed.set(ch.item?.id, ch.quantityAfterChange);
    }
    // Per-item errors name the item by its index in `quantities`; others concern the whole call.
    const itemErrors = new Map<number, WireUserError>();
    let callError: WireUserError | undefined;
    for (const e of payload.userErrors) {
      const f = e.field ?? [];
      const index = f[1] === 'quantities' ? Number(f[2]) : Number.NaN;
      if (Number.isInteger(index) && index >= 0 && index < batch.length) itemErrors.set(index, e);
      else callError ??= e;
    }
    const retry: Retry[] = [];
    batch.forEach((c, i) => {
      const after = confirmed.get(c.ref.inventoryItemId);
      const err = itemErrors.get(i);
      if (after !== undefined && after === c.wanted.quantity) {
        state.ack(c.wanted);
      } else if (err && err.code !== 'CHANGE_FROM_QUANTITY_STALE') {
        // Not a race: the item itself was refused. Forget it, so the next run resolves it afresh.
        this.ctx.cache.delete(c.wanted.key);
        state.fail(c.wanted, this.itemError('StockSet', c, err.message ?? 'refused', err.code ?? undefined));
      } else if (callError && callError.code !== 'IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED') {
        state.fail(
          c.wanted,
          this.itemError('StockSet', c, callError.message ?? 'refused', callError.code ?? undefined),
        );
      } else if (err || callError || payload.userErrors.length > 0) {
        // Stale, or left out of an all-or-nothing call that something else in it failed.
        if (lastRound) {
          state.fail(
            c.wanted,
            this.itemError(
              'StockSet',
              c,
              'quantity kept moving while writing',
              err?.code ?? 'CHANGE_FROM_QUANTITY_STALE',
            ),
          );
        } else retry.push({ current: c, stale: err?.code === 'CHANGE_FROM_QUANTITY_STALE' });
      } else {
        state.fail(c.wanted, this.itemError('StockSet', c, 'the change was not confirmed'));
      }
    });
    return retry;
  }

  private itemError(operation: string, c: Current, message: string, code?: string): SafeError {
    return toSafeError(
      new StorefrontError({
        store: this.name,
        method: 'POST',
        path: '/admin/api/2026-10/graphql.json',
        message: `${operation}: SKU ${c.wanted.targets[0]?.sku}: ${message}`,
        ...(code && { code }),
        retryable: true,
      }),
    );
  }
}

import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { PhpWorkers } from '../php-workers.js';
import {
  type FakeOrderJson,
  type FakeOrderNote,
  FakeOrders,
  type OrderStatus,
  type OutboxEmail,
  type PlaceOrderOptions,
  type WebhookDeliveryRecord,
} from './fake-woocommerce-orders.js';

/**
 * A strict fake WooCommerce REST API v3 (as observed on WooCommerce 10.0.2, see
 * shared/woocommerce/NOTES.md), for the tests and for the sandbox shop. Strict where the real
 * store is strict: OAuth 1.0a over plain http (HMAC-SHA1/SHA256, home-URL base string, ±15 min,
 * nonce replay), WooCommerce error JSON, the 100-object batch limit, per-item batch errors with
 * HTTP 200, variations only writable under their parent, nulls cast in a direct PUT.
 *
 * Layers, so orders/notes/webhooks can be added later without restructuring:
 * - `FakeCatalog`: the products "database" (seeding, inspection, WooCommerce's write rules);
 * - a route table (`FakeRoute[]`, `productRoutes()`), extended with `addRoutes()`;
 * - `FakeWooCommerce`: HTTP, authentication, permissions, `_fields`, counters and fault knobs.
 */

// ---------------------------------------------------------------------------------------------
// Wire shapes

export type StockStatus = 'instock' | 'outofstock' | 'onbackorder';
export type FakeProductType = 'simple' | 'variable' | 'variation';
export type PostStatus = 'publish' | 'draft' | 'private' | 'pending' | 'trash';

/** The product JSON the fake returns (a realistic subset of WooCommerce's `context=edit`). */
export interface WooProductJson {
  id: number;
  name: string;
  slug: string;
  permalink: string;
  date_created: string;
  date_created_gmt: string;
  date_modified: string;
  date_modified_gmt: string;
  type: FakeProductType;
  status: PostStatus;
  sku: string;
  price: string;
  regular_price: string;
  sale_price: string;
  virtual: boolean;
  downloadable: boolean;
  manage_stock: boolean;
  stock_quantity: number | null;
  stock_status: StockStatus;
  backorders: 'no' | 'notify' | 'yes';
  parent_id: number;
  variations: number[];
  attributes: { id: number; name: string; option?: string; options?: string[] }[];
  meta_data: unknown[];
}

export interface WooErrorJson {
  code: string;
  message: string;
  data: { status: number; [key: string]: unknown };
}

/** A WooCommerce error as the fake raises it; `toJSON()` is the wire form. */
export class WooError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly extra: Record<string, unknown> = {},
  ) {
    super(message);
    this.name = 'WooError';
  }
  toJSON(): WooErrorJson {
    return { code: this.code, message: this.message, data: { status: this.status, ...this.extra } };
  }
}

const invalidProductId = () => new WooError(400, 'woocommerce_rest_product_invalid_id', 'Invalid ID.');
const variationViaProducts = () =>
  new WooError(
    404,
    'woocommerce_rest_invalid_product_id',
    'To manipulate product variations you should use the /products/&lt;product_id&gt;/variations/&lt;id&gt; endpoint.',
  );
const invalidVariationId = () =>
  new WooError(404, 'woocommerce_rest_product_variation_invalid_id', 'Invalid ID.');

// ---------------------------------------------------------------------------------------------
// The catalogue: products, variations and WooCommerce's write rules

interface StoredProduct {
  id: number;
  type: FakeProductType;
  name: string;
  slug: string;
  status: PostStatus;
  sku: string;
  regularPrice: string;
  manageStock: boolean;
  stockQuantity: number | null;
  stockStatus: StockStatus;
  parentId: number;
  /** Virtual + downloadable items let a paid order skip `processing` (NOTES). */
  downloadable: boolean;
  /** For a variation: the attribute option it stands for. */
  option: string;
  attributeName: string;
  createdAt: number;
  modifiedAt: number;
}

export interface SeedSimple {
  sku?: string;
  name?: string;
  /** `null` = stock not managed. Default 0. */
  stock?: number | null;
  price?: string;
  status?: PostStatus;
  stockStatus?: StockStatus;
  downloadable?: boolean;
}

export interface SeedVariation {
  sku?: string;
  option?: string;
  stock?: number | null;
  price?: string;
  downloadable?: boolean;
}

export interface SeedVariable {
  name: string;
  sku?: string;
  attribute?: string;
  variations: SeedVariation[];
}

export interface SeedCatalogOptions {
  /** Stock of every seeded product; a function gets the SKU and its index. Default 0. */
  stock?: number | ((sku: string, index: number) => number);
  /** How many groups become variable products (the largest groups with ≥ 2 SKUs). Default 2. */
  variableParents?: number;
  /** Groups SKUs into would-be parents. Default: the SKU without its last `-segment` (`PSN-US`). */
  groupOf?: (sku: string) => string;
}

export interface SeededCatalog {
  simple: WooProductJson[];
  parents: { parent: WooProductJson; variations: WooProductJson[] }[];
}

/** Write mode decides how nulls and bad types are treated (NOTES: a direct PUT casts nulls, a batch ignores them). */
type WriteMode = 'put' | 'batch';

/** WooCommerce compares SKUs in MySQL: case-insensitive, trailing spaces ignored; REST input is trimmed. */
export function wooSkuKey(sku: string): string {
  return sku.replace(/\s+$/, '').toLowerCase();
}

function wpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}

function slugify(s: string): string {
  return (
    s
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '-')
      .replace(/^-|-$/g, '') || 'product'
  );
}

export class FakeCatalog {
  private readonly products = new Map<number, StoredProduct>();
  private nextId = 101;

  constructor(
    private readonly homeUrl: () => string,
    private readonly now: () => number,
  ) {}

  // -- seeding (bypasses the duplicate-SKU check: real shops get duplicates through imports) --

  addSimple(p: SeedSimple = {}): WooProductJson {
    const stored = this.insert({
      type: 'simple',
      name: p.name ?? (p.sku ? `Product ${p.sku}` : 'Product'),
      status: p.status ?? 'publish',
      sku: p.sku ?? '',
      regularPrice: p.price ?? '10',
      manageStock: p.stock !== null,
      stockQuantity: p.stock === null ? null : (p.stock ?? 0),
      stockStatus: p.stockStatus ?? 'instock',
      parentId: 0,
      downloadable: p.downloadable ?? false,
    });
    return this.toJson(stored);
  }

  addVariable(p: SeedVariable): { parent: WooProductJson; variations: WooProductJson[] } {
    const attributeName = p.attribute ?? 'Denomination';
    const parent = this.insert({
      type: 'variable',
      name: p.name,
      status: 'publish',
      sku: p.sku ?? '',
      regularPrice: '',
      manageStock: false,
      stockQuantity: null,
      stockStatus: 'outofstock',
      parentId: 0,
      downloadable: false,
      attributeName,
    });
    p.variations.forEach((v, i) => {
      this.addVariationTo(parent, v, i);
    });
    this.syncParent(parent.id);
    return { parent: this.toJson(parent), variations: this.childrenOf(parent.id).map((c) => this.toJson(c)) };
  }

  addVariation(parentId: number, v: SeedVariation): WooProductJson {
    const parent = this.products.get(parentId);
    if (parent?.type !== 'variable') throw new Error(`product ${parentId} is not a variable product`);
    const stored = this.addVariationTo(parent, v, this.childrenOf(parentId).length);
    this.syncParent(parentId);
    return this.toJson(stored);
  }

  /**
   * A realistic shop for these SKUs: the largest groups (by default the region, `PSN-US` of
   * `PSN-US-50`) become variable products with one variation per SKU, the rest simple products.
   */
  seedCatalog(skus: string[], opts: SeedCatalogOptions = {}): SeededCatalog {
    const groupOf = opts.groupOf ?? ((sku: string) => sku.replace(/-[^-]*$/, '') || sku);
    const stockOf = (sku: string, i: number) =>
      typeof opts.stock === 'function' ? opts.stock(sku, i) : (opts.stock ?? 0);
    const index = new Map(skus.map((s, i) => [s, i]));
    const groups = new Map<string, string[]>();
    for (const sku of skus) {
      const g = groupOf(sku);
      groups.set(g, [...(groups.get(g) ?? []), sku]);
    }
    const variableGroups = new Set(
      [...groups.entries()]
        .filter(([, members]) => members.length >= 2)
        .sort((a, b) => b[1].length - a[1].length || a[0].localeCompare(b[0]))
        .slice(0, opts.variableParents ?? 2)
        .map(([g]) => g),
    );
    const out: SeededCatalog = { simple: [], parents: [] };
    for (const [g, members] of groups) {
      if (variableGroups.has(g)) {
        out.parents.push(
          this.addVariable({
            name: `PlayStation Network Card ${g}`,
            variations: members.map((sku) => ({
              sku,
              option: sku.slice(g.length).replace(/^-/, '') || sku,
              stock: stockOf(sku, index.get(sku) ?? 0),
            })),
          }),
        );
      } else {
        for (const sku of members) {
          out.simple.push(
            this.addSimple({
              sku,
              name: `PlayStation Network Card ${sku}`,
              stock: stockOf(sku, index.get(sku) ?? 0),
            }),
          );
        }
      }
    }
    return out;
  }

  // -- inspection --

  product(id: number): WooProductJson | undefined {
    const p = this.products.get(id);
    return p ? this.toJson(p) : undefined;
  }

  /** Every product or variation carrying this SKU (trash included), compared as WooCommerce does. */
  productsBySku(sku: string): WooProductJson[] {
    const key = wooSkuKey(sku);
    return [...this.products.values()]
      .filter((p) => p.sku && wooSkuKey(p.sku) === key)
      .map((p) => this.toJson(p));
  }

  productBySku(sku: string): WooProductJson | undefined {
    return this.productsBySku(sku)[0];
  }

  all(): WooProductJson[] {
    return [...this.products.values()].map((p) => this.toJson(p));
  }

  // -- merchant actions (not through the API) --

  /** Permanent delete (`force=true`); a variable parent takes its variations with it. */
  deleteProduct(id: number): boolean {
    const p = this.products.get(id);
    if (!p) return false;
    for (const child of this.childrenOf(id)) this.products.delete(child.id);
    this.products.delete(id);
    if (p.type === 'variation') this.syncParent(p.parentId);
    return true;
  }

  trashProduct(id: number): void {
    const p = this.mustGet(id);
    p.status = 'trash';
    p.modifiedAt = this.now();
  }

  /** Merchant changes a SKU in wp-admin (no duplicate check, like an import). */
  setSku(id: number, sku: string): void {
    const p = this.mustGet(id);
    p.sku = sku;
    p.modifiedAt = this.now();
  }

  /** Merchant edits stock in wp-admin (drift the sync must repair). */
  setStock(id: number, quantity: number): void {
    const p = this.mustGet(id);
    p.manageStock = true;
    p.stockQuantity = quantity;
    this.settle(p);
  }

  /** Merchant ticks "Downloadable" (with "Virtual", which every fake product is). */
  setDownloadable(id: number, downloadable: boolean): void {
    this.mustGet(id).downloadable = downloadable;
  }

  // -- used by the order routes (stock is WooCommerce's own business once an order is placed) --

  /** `wc_get_product_id_by_sku`: one non-trashed product or variation with this SKU, or undefined. */
  productIdBySku(sku: string): number | undefined {
    const key = wooSkuKey(sku.trim());
    if (!key) return undefined;
    return [...this.products.values()].find((p) => p.status !== 'trash' && p.sku && wooSkuKey(p.sku) === key)
      ?.id;
  }

  /** Adds `delta` to a stock-managed product; undefined when it does not manage stock (or is gone). */
  adjustStock(id: number, delta: number): { from: number; to: number } | undefined {
    const p = this.products.get(id);
    if (!p?.manageStock || p.type === 'variable') return undefined;
    const from = p.stockQuantity ?? 0;
    p.stockQuantity = from + delta;
    p.modifiedAt = this.now();
    this.settle(p);
    return { from, to: p.stockQuantity };
  }

  // -- used by the routes --

  get(id: number): StoredProduct | undefined {
    return this.products.get(id);
  }

  childrenOf(parentId: number): StoredProduct[] {
    return [...this.products.values()].filter((p) => p.type === 'variation' && p.parentId === parentId);
  }

  /** `GET products?sku=`: products *and* variations, trash excluded, newest first (orderby=date desc). */
  list(filter: { skus?: string[] }): StoredProduct[] {
    const keys = filter.skus ? new Set(filter.skus.map(wooSkuKey)) : undefined;
    return [...this.products.values()]
      .filter((p) => p.status !== 'trash')
      .filter((p) => (keys ? p.sku !== '' && keys.has(wooSkuKey(p.sku)) : p.type !== 'variation'))
      .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
  }

  /** Creates through the API: the duplicate-SKU check applies. */
  create(
    type: 'simple' | 'variable' | 'variation',
    fields: Record<string, unknown>,
    parentId = 0,
  ): StoredProduct {
    const sku = typeof fields.sku === 'string' ? fields.sku.trim() : '';
    if (sku) this.assertSkuFree(sku, undefined);
    const name = typeof fields.name === 'string' ? fields.name : '';
    const stored = this.insert({
      type,
      name: name || (type === 'variation' ? '' : 'Product'),
      status: 'publish',
      sku: '',
      regularPrice: '',
      manageStock: false,
      stockQuantity: null,
      stockStatus: 'instock',
      parentId,
      downloadable: false,
    });
    try {
      this.update(stored, fields, 'batch');
    } catch (e) {
      this.products.delete(stored.id);
      throw e;
    }
    if (type === 'variation') this.syncParent(parentId);
    return stored;
  }

  /**
   * WooCommerce's update rules for the fields this project touches. Everything is validated
   * before anything changes, so a rejected write leaves the product as it was.
   */
  update(p: StoredProduct, input: Record<string, unknown>, mode: WriteMode): void {
    const fields: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(input)) {
      if (v === null) {
        if (mode === 'batch') continue;
        // A direct PUT casts nulls (NOTES): quantity 0, stock management off, SKU removed.
        if (k === 'stock_quantity') fields[k] = 0;
        else if (k === 'manage_stock') fields[k] = false;
        else if (k === 'sku') fields[k] = '';
        continue;
      }
      fields[k] = v;
    }
    const bad: Record<string, string> = {};
    const int = (k: string): number | undefined => {
      const v = fields[k];
      if (v === undefined) return undefined;
      if (typeof v === 'number' && Number.isInteger(v)) return v;
      if (typeof v === 'string' && /^-?\d+$/.test(v.trim())) return Number(v);
      if (mode === 'put') bad[k] = `${k} is not of type integer.`;
      // Batch items skip schema validation; wc_stock_amount() casts what it gets.
      return mode === 'batch' ? Math.trunc(Number(v)) || 0 : undefined;
    };
    const quantity = int('stock_quantity');
    const delta = int('inventory_delta');
    let manage: boolean | undefined;
    if (fields.manage_stock !== undefined) {
      if (typeof fields.manage_stock === 'boolean') manage = fields.manage_stock;
      else if (mode === 'batch' || fields.manage_stock === 'true' || fields.manage_stock === 'false')
        manage = fields.manage_stock === true || fields.manage_stock === 'true' || fields.manage_stock === 1;
      else bad.manage_stock = 'manage_stock is not of type boolean.';
    }
    let status: StockStatus | undefined;
    if (fields.stock_status !== undefined) {
      if (
        fields.stock_status === 'instock' ||
        fields.stock_status === 'outofstock' ||
        fields.stock_status === 'onbackorder'
      )
        status = fields.stock_status;
      else bad.stock_status = 'stock_status is not one of instock, outofstock, and onbackorder.';
    }
    let sku: string | undefined;
    if (fields.sku !== undefined) {
      if (typeof fields.sku === 'string') sku = fields.sku.trim();
      else bad.sku = 'sku is not of type string.';
    }
    if (Object.keys(bad).length > 0) {
      throw new WooError(400, 'rest_invalid_param', `Invalid parameter(s): ${Object.keys(bad).join(', ')}`, {
        params: bad,
      });
    }
    if (sku) this.assertSkuFree(sku, p.id);

    if (sku !== undefined) p.sku = sku;
    if (typeof fields.name === 'string') p.name = fields.name;
    if (typeof fields.regular_price === 'string') p.regularPrice = fields.regular_price;
    if (manage !== undefined && p.type !== 'variable') p.manageStock = manage;
    if (p.manageStock) {
      if (quantity !== undefined) p.stockQuantity = quantity;
      else if (delta !== undefined) p.stockQuantity = (p.stockQuantity ?? 0) + delta;
      else if (p.stockQuantity === null) p.stockQuantity = 0;
    } else {
      p.stockQuantity = null;
      if (status) p.stockStatus = status;
    }
    p.modifiedAt = this.now();
    this.settle(p);
  }

  private assertSkuFree(sku: string, selfId: number | undefined): void {
    const key = wooSkuKey(sku);
    const other = [...this.products.values()].find(
      (o) => o.id !== selfId && o.sku && wooSkuKey(o.sku) === key,
    );
    if (other) {
      throw new WooError(400, 'product_invalid_sku', 'Invalid or duplicated SKU.', {
        resource_id: other.id,
        unique_sku: sku,
      });
    }
  }

  /** Managed stock decides the status by itself (backorders "no"): ≤ 0 is out of stock. */
  private settle(p: StoredProduct): void {
    if (p.manageStock && p.stockQuantity !== null)
      p.stockStatus = p.stockQuantity > 0 ? 'instock' : 'outofstock';
    if (p.type === 'variation') this.syncParent(p.parentId);
  }

  /** A variable parent's stock status follows its variations. */
  private syncParent(parentId: number): void {
    const parent = this.products.get(parentId);
    if (parent?.type !== 'variable') return;
    const statuses = this.childrenOf(parentId).map((c) => c.stockStatus);
    parent.stockStatus = statuses.includes('instock')
      ? 'instock'
      : statuses.includes('onbackorder')
        ? 'onbackorder'
        : 'outofstock';
  }

  private addVariationTo(parent: StoredProduct, v: SeedVariation, i: number): StoredProduct {
    const stored = this.insert({
      type: 'variation',
      name: '',
      status: 'publish',
      sku: v.sku ?? '',
      regularPrice: v.price ?? '10',
      manageStock: v.stock !== null,
      stockQuantity: v.stock === null ? null : (v.stock ?? 0),
      stockStatus: 'instock',
      parentId: parent.id,
      downloadable: v.downloadable ?? false,
      option: v.option ?? String(i + 1),
      attributeName: parent.attributeName,
    });
    return stored;
  }

  private insert(
    p: Omit<StoredProduct, 'id' | 'slug' | 'createdAt' | 'modifiedAt' | 'option' | 'attributeName'> &
      Partial<Pick<StoredProduct, 'option' | 'attributeName'>>,
  ): StoredProduct {
    const id = this.nextId++;
    const now = this.now();
    const stored: StoredProduct = {
      option: '',
      attributeName: '',
      ...p,
      id,
      slug: `${slugify(p.name || p.sku)}-${id}`,
      createdAt: now,
      modifiedAt: now,
    };
    this.products.set(id, stored);
    this.settle(stored);
    return stored;
  }

  private mustGet(id: number): StoredProduct {
    const p = this.products.get(id);
    if (!p) throw new Error(`no product ${id}`);
    return p;
  }

  toJson(p: StoredProduct): WooProductJson {
    const parent = p.type === 'variation' ? this.products.get(p.parentId) : undefined;
    const name = parent ? `${parent.name} - ${p.option}` : p.name;
    const home = this.homeUrl();
    return {
      id: p.id,
      name,
      slug: p.slug,
      permalink: parent
        ? `${home}/product/${parent.slug}/?attribute_${slugify(p.attributeName)}=${encodeURIComponent(p.option)}`
        : `${home}/product/${p.slug}/`,
      date_created: wpDate(p.createdAt),
      date_created_gmt: wpDate(p.createdAt),
      date_modified: wpDate(p.modifiedAt),
      date_modified_gmt: wpDate(p.modifiedAt),
      type: p.type,
      status: p.status,
      sku: p.sku,
      price: p.regularPrice,
      regular_price: p.regularPrice,
      sale_price: '',
      virtual: true,
      downloadable: p.downloadable,
      manage_stock: p.manageStock,
      stock_quantity: p.manageStock ? p.stockQuantity : null,
      stock_status: p.stockStatus,
      backorders: 'no',
      parent_id: p.parentId,
      variations: p.type === 'variable' ? this.childrenOf(p.id).map((c) => c.id) : [],
      attributes:
        p.type === 'variable'
          ? [{ id: 0, name: p.attributeName, options: this.childrenOf(p.id).map((c) => c.option) }]
          : p.type === 'variation'
            ? [{ id: 0, name: p.attributeName, option: p.option }]
            : [],
      meta_data: [],
    };
  }
}

// ---------------------------------------------------------------------------------------------
// OAuth 1.0a, one-legged, as class-wc-rest-authentication.php verifies it

export type ApiKeyPermissions = 'read' | 'write' | 'read_write';

export interface FakeApiKey {
  consumerKey: string;
  consumerSecret: string;
  permissions: ApiKeyPermissions;
}

/** PHP rawurlencode (RFC 3986): everything but unreserved characters is encoded. */
export function rfc3986(s: string): string {
  return encodeURIComponent(s).replace(/[!'()*]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`);
}

/**
 * `METHOD&rawurlencode(home URL + path)&…`: every parameter except `oauth_signature`, sorted by
 * key (strcmp), key and value rawurlencoded, each `k=v` pair rawurlencoded again and joined with
 * `%26` — which is the standard OAuth base string. The body is never part of it (JSON bodies are
 * not in PHP's `$_POST`).
 */
export function oauthBaseString(method: string, baseUrl: string, params: Record<string, string>): string {
  const pairs = Object.keys(params)
    .filter((k) => k !== 'oauth_signature')
    .sort((a, b) => (a < b ? -1 : a > b ? 1 : 0))
    .map((k) => rfc3986(`${rfc3986(k)}=${rfc3986(params[k] ?? '')}`));
  return `${method.toUpperCase()}&${rfc3986(baseUrl)}&${pairs.join('%26')}`;
}

export type OAuthSignatureMethod = 'HMAC-SHA1' | 'HMAC-SHA256';

export function oauthSignature(
  baseString: string,
  consumerSecret: string,
  method: OAuthSignatureMethod,
): string {
  const alg = method === 'HMAC-SHA1' ? 'sha1' : 'sha256';
  return createHmac(alg, `${consumerSecret}&`).update(baseString).digest('base64');
}

/**
 * Signs a request URL the way an OAuth client does (parameters in the query string). For tests
 * that talk to the fake without the client library: other signature methods, replayed nonces,
 * a signature over the wrong host.
 */
export function signOAuthUrl(args: {
  method: string;
  url: string;
  consumerKey: string;
  consumerSecret: string;
  signatureMethod?: OAuthSignatureMethod;
  timestamp?: number;
  nonce?: string;
  /** Sign as if the request went to this origin (to prove the base string uses the home URL). */
  signAs?: string;
}): string {
  const u = new URL(args.url);
  const params: Record<string, string> = {};
  for (const [k, v] of u.searchParams) params[k] = v;
  Object.assign(params, {
    oauth_consumer_key: args.consumerKey,
    oauth_nonce: args.nonce ?? randomBytes(16).toString('hex'),
    oauth_signature_method: args.signatureMethod ?? 'HMAC-SHA256',
    oauth_timestamp: String(args.timestamp ?? Math.floor(Date.now() / 1000)),
    oauth_version: '1.0',
  });
  const origin = args.signAs ?? u.origin;
  const base = oauthBaseString(args.method, `${origin}${u.pathname}`, params);
  params.oauth_signature = oauthSignature(
    base,
    args.consumerSecret,
    params.oauth_signature_method as OAuthSignatureMethod,
  );
  const q = Object.entries(params)
    .map(([k, v]) => `${rfc3986(k)}=${rfc3986(v)}`)
    .join('&');
  return `${u.origin}${u.pathname}?${q}`;
}

const OAUTH_REQUIRED = [
  'oauth_consumer_key',
  'oauth_timestamp',
  'oauth_nonce',
  'oauth_signature',
  'oauth_signature_method',
] as const;
const NONCE_WINDOW_S = 15 * 60;

function authError(message: string): WooError {
  return new WooError(401, 'woocommerce_rest_authentication_error', message);
}

/** `Authorization: OAuth k="v", …` (WooCommerce accepts it as well as query parameters). */
function parseOAuthHeader(header: string | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  if (!header?.trim().startsWith('OAuth ')) return out;
  for (const m of header.matchAll(/(oauth_[a-z_-]*)=(?:"([^"]*)"|([^,]*))/g)) {
    const raw = m[2] ?? m[3] ?? '';
    try {
      out[m[1] as string] = decodeURIComponent(raw.replace(/\+/g, ' '));
    } catch {
      out[m[1] as string] = raw;
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Routes

export type HttpMethod = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** What an anonymous caller is refused with, per kind of route (WooCommerce's permission callbacks). */
export type RoutePermission = 'list' | 'view' | 'create' | 'edit' | 'delete' | 'batch';

const PERMISSION_ERRORS: Record<RoutePermission, [string, string]> = {
  list: ['woocommerce_rest_cannot_view', 'Sorry, you cannot list resources.'],
  view: ['woocommerce_rest_cannot_view', 'Sorry, you cannot view this resource.'],
  create: ['woocommerce_rest_cannot_create', 'Sorry, you are not allowed to create resources.'],
  edit: ['woocommerce_rest_cannot_edit', 'Sorry, you are not allowed to edit this resource.'],
  delete: ['woocommerce_rest_cannot_delete', 'Sorry, you are not allowed to delete this resource.'],
  batch: ['woocommerce_rest_cannot_batch', 'Sorry, you are not allowed to batch manipulate this resource.'],
};

export interface RouteRequest {
  method: HttpMethod;
  /** Path params, e.g. `{ id: '123' }` for `products/:id`. */
  params: Record<string, string>;
  query: URLSearchParams;
  body: unknown;
  /** The shop's clock (with `clockSkewMs`). */
  now: number;
  /** `http://host:port/wp-json/wc/v3/<route>` without query, for `Link` headers. */
  routeUrl: string;
}

export interface RouteResult {
  status?: number;
  body: unknown;
  headers?: Record<string, string>;
}

export interface FakeRoute {
  method: HttpMethod;
  /** Relative to `/wp-json/wc/v3/`; `:name` matches digits. */
  pattern: string;
  permission: RoutePermission;
  /** Argument validation, which WordPress runs before the permission check. */
  validate?: (req: RouteRequest) => void;
  /** May be async (a webhook creation pings its URL before answering). */
  handle: (req: RouteRequest) => RouteResult | Promise<RouteResult>;
}

const BATCH_LIMIT = 100;

export function intParam(
  query: URLSearchParams,
  name: string,
  def: number,
  min: number,
  max?: number,
): number {
  const raw = query.get(name);
  if (raw === null || raw === '') return def;
  const n = Number(raw);
  const message = !/^-?\d+$/.test(raw.trim())
    ? `${name} is not of type integer.`
    : n < min || (max !== undefined && n > max)
      ? max !== undefined
        ? `${name} must be between ${min} (inclusive) and ${max} (inclusive)`
        : `${name} must be greater than or equal to ${min}`
      : undefined;
  if (message) {
    throw new WooError(400, 'rest_invalid_param', `Invalid parameter(s): ${name}`, {
      params: { [name]: message },
      details: { [name]: { code: 'rest_invalid_param', message, data: null } },
    });
  }
  return n;
}

export function validatePaging(req: RouteRequest): void {
  intParam(req.query, 'per_page', 10, 1, 100);
  intParam(req.query, 'page', 1, 1);
}

type BatchBody = { create?: unknown[]; update?: unknown[]; delete?: unknown[] };

function batchBody(body: unknown): BatchBody {
  const b = (body && typeof body === 'object' ? body : {}) as Record<string, unknown>;
  const out: BatchBody = {};
  for (const k of ['create', 'update', 'delete'] as const) {
    if (b[k] === undefined) continue;
    if (!Array.isArray(b[k])) {
      const message = `${k} is not of type array.`;
      throw new WooError(400, 'rest_invalid_param', `Invalid parameter(s): ${k}`, {
        params: { [k]: message },
      });
    }
    out[k] = b[k] as unknown[];
  }
  const total = (out.create?.length ?? 0) + (out.update?.length ?? 0) + (out.delete?.length ?? 0);
  if (total > BATCH_LIMIT) {
    throw new WooError(
      413,
      'woocommerce_rest_request_entity_too_large',
      `Unable to accept more than ${BATCH_LIMIT} items for this request.`,
    );
  }
  return out;
}

export function asRecord(item: unknown): Record<string, unknown> {
  return item && typeof item === 'object' && !Array.isArray(item) ? (item as Record<string, unknown>) : {};
}

function itemError(id: unknown, e: unknown): { id: number; error: WooErrorJson } {
  const err = e instanceof WooError ? e : new WooError(500, 'internal_server_error', String(e));
  return { id: Number(id) || 0, error: err.toJSON() };
}

/** One injected per-item failure per SKU (`failItems`). */
export interface ItemFault {
  code: string;
  status: number;
  message: string;
}

/** The products routes. `faultFor` lets the fault knob fail chosen SKUs inside a batch. */
export function productRoutes(
  catalog: FakeCatalog,
  faultFor: (sku: string) => ItemFault | undefined,
): FakeRoute[] {
  const json = (p: StoredProduct) => catalog.toJson(p);
  const faulted = (p: StoredProduct | undefined, fields: Record<string, unknown>) => {
    const sku = typeof fields.sku === 'string' ? fields.sku : p?.sku;
    const f = sku ? faultFor(sku) : undefined;
    if (f) throw new WooError(f.status, f.code, f.message);
  };
  const productForWrite = (id: number): StoredProduct => {
    const p = catalog.get(id);
    if (!p) throw invalidProductId();
    if (p.type === 'variation') throw variationViaProducts();
    return p;
  };
  const variationOf = (parentId: number, id: number): StoredProduct => {
    const v = catalog.get(id);
    if (v?.type !== 'variation' || v.parentId !== parentId) throw invalidVariationId();
    return v;
  };
  const runBatch = (
    body: BatchBody,
    ops: {
      create: (fields: Record<string, unknown>) => StoredProduct;
      find: (id: number) => StoredProduct;
    },
  ) => {
    const out: Record<string, unknown[]> = {};
    // WooCommerce answers only the sections that were sent (and not empty).
    if (body.create?.length) {
      out.create = body.create.map((item) => {
        const fields = asRecord(item);
        try {
          faulted(undefined, fields);
          return json(ops.create(fields));
        } catch (e) {
          return itemError(0, e);
        }
      });
    }
    if (body.update?.length) {
      out.update = body.update.map((item) => {
        const fields = asRecord(item);
        try {
          const p = ops.find(Number(fields.id) || 0);
          faulted(p, fields);
          const { id: _id, ...rest } = fields;
          catalog.update(p, rest, 'batch');
          return json(p);
        } catch (e) {
          return itemError(fields.id, e);
        }
      });
    }
    if (body.delete?.length) {
      out.delete = body.delete.map((raw) => {
        try {
          const p = ops.find(Number(raw) || 0);
          const data = json(p);
          catalog.deleteProduct(p.id);
          return data;
        } catch (e) {
          return itemError(raw, e);
        }
      });
    }
    return out;
  };

  return [
    {
      method: 'GET',
      pattern: 'products',
      permission: 'list',
      validate: validatePaging,
      handle: (req) => {
        const perPage = intParam(req.query, 'per_page', 10, 1, 100);
        const page = intParam(req.query, 'page', 1, 1);
        const skuParam = req.query.get('sku');
        const skus = skuParam
          ? skuParam
              .split(',')
              .map((s) => s.trim())
              .filter(Boolean)
          : undefined;
        const all = catalog.list(skus ? { skus } : {});
        const total = all.length;
        const totalPages = Math.ceil(total / perPage);
        const items = all.slice((page - 1) * perPage, page * perPage).map(json);
        return { body: items, headers: paginationHeaders(req, page, total, totalPages) };
      },
    },
    {
      method: 'POST',
      pattern: 'products',
      permission: 'create',
      handle: (req) => {
        const fields = asRecord(req.body);
        const type = fields.type === 'variable' ? 'variable' : 'simple';
        return { status: 201, body: json(catalog.create(type, fields)) };
      },
    },
    {
      method: 'POST',
      pattern: 'products/batch',
      permission: 'batch',
      handle: (req) => ({
        body: runBatch(batchBody(req.body), {
          create: (f) => catalog.create(f.type === 'variable' ? 'variable' : 'simple', f),
          find: productForWrite,
        }),
      }),
    },
    {
      method: 'GET',
      pattern: 'products/:id',
      permission: 'view',
      handle: (req) => {
        // A variation is readable here (200), just not writable.
        const p = catalog.get(Number(req.params.id));
        if (!p) throw new WooError(404, 'woocommerce_rest_product_invalid_id', 'Invalid ID.');
        return { body: json(p) };
      },
    },
    {
      method: 'PUT',
      pattern: 'products/:id',
      permission: 'edit',
      handle: (req) => {
        const p = productForWrite(Number(req.params.id));
        const { id: _id, ...fields } = asRecord(req.body);
        catalog.update(p, fields, 'put');
        return { body: json(p) };
      },
    },
    {
      method: 'DELETE',
      pattern: 'products/:id',
      permission: 'delete',
      handle: (req) => {
        const p = catalog.get(Number(req.params.id));
        if (!p) throw new WooError(404, 'woocommerce_rest_product_invalid_id', 'Invalid ID.');
        if (p.type === 'variation') throw variationViaProducts();
        const data = json(p);
        const force = req.query.get('force') === 'true' || req.query.get('force') === '1';
        if (!force) {
          catalog.trashProduct(p.id);
          return { body: json(p) };
        }
        catalog.deleteProduct(p.id);
        return { body: data };
      },
    },
    {
      method: 'GET',
      pattern: 'products/:parent/variations',
      permission: 'list',
      validate: validatePaging,
      handle: (req) => {
        const parent = catalog.get(Number(req.params.parent));
        if (parent?.type !== 'variable') throw invalidProductId();
        const perPage = intParam(req.query, 'per_page', 10, 1, 100);
        const page = intParam(req.query, 'page', 1, 1);
        const all = catalog.childrenOf(parent.id);
        const totalPages = Math.ceil(all.length / perPage);
        return {
          body: all.slice((page - 1) * perPage, page * perPage).map(json),
          headers: paginationHeaders(req, page, all.length, totalPages),
        };
      },
    },
    {
      method: 'POST',
      pattern: 'products/:parent/variations',
      permission: 'create',
      handle: (req) => {
        const parent = catalog.get(Number(req.params.parent));
        if (parent?.type !== 'variable') throw invalidProductId();
        return { status: 201, body: json(catalog.create('variation', asRecord(req.body), parent.id)) };
      },
    },
    {
      method: 'POST',
      pattern: 'products/:parent/variations/batch',
      permission: 'batch',
      handle: (req) => {
        const parentId = Number(req.params.parent);
        return {
          body: runBatch(batchBody(req.body), {
            create: (f) => {
              const parent = catalog.get(parentId);
              if (parent?.type !== 'variable') throw invalidProductId();
              return catalog.create('variation', f, parentId);
            },
            find: (id) => variationOf(parentId, id),
          }),
        };
      },
    },
    {
      method: 'GET',
      pattern: 'products/:parent/variations/:id',
      permission: 'view',
      handle: (req) => ({ body: json(variationOf(Number(req.params.parent), Number(req.params.id))) }),
    },
    {
      method: 'PUT',
      pattern: 'products/:parent/variations/:id',
      permission: 'edit',
      handle: (req) => {
        const v = variationOf(Number(req.params.parent), Number(req.params.id));
        const { id: _id, ...fields } = asRecord(req.body);
        catalog.update(v, fields, 'put');
        return { body: json(v) };
      },
    },
  ];
}

/** `X-WP-Total`, `X-WP-TotalPages` and `Link`; past the last page `Link` still has `rel="prev"`. */
export function paginationHeaders(
  req: RouteRequest,
  page: number,
  total: number,
  totalPages: number,
): Record<string, string> {
  const headers: Record<string, string> = {
    'X-WP-Total': String(total),
    'X-WP-TotalPages': String(totalPages),
  };
  const linkTo = (p: number) => {
    const q = new URLSearchParams();
    // The fake leaves the OAuth parameters out of links (a signed URL is single-use anyway).
    for (const [k, v] of req.query) if (!k.startsWith('oauth_') && k !== 'page') q.append(k, v);
    q.set('page', String(p));
    return `<${req.routeUrl}?${q.toString()}>`;
  };
  const links: string[] = [];
  if (page > 1) links.push(`${linkTo(Math.min(page - 1, Math.max(totalPages, 1)))}; rel="prev"`);
  if (page < totalPages) links.push(`${linkTo(page + 1)}; rel="next"`);
  if (links.length) headers.Link = links.join(', ');
  return headers;
}

// ---------------------------------------------------------------------------------------------
// The server

export interface FakeWooCommerceOptions {
  /** Default: generated `ck_…`/`cs_…` with read_write permissions. */
  consumerKey?: string;
  consumerSecret?: string;
  permissions?: ApiKeyPermissions;
  host?: string;
  /** 0 = any free port. */
  port?: number;
  /**
   * The WordPress home URL the OAuth base string is built from. Default `http://<host>:<port>`;
   * set it to prove that a client signing another host is refused.
   */
  homeUrl?: string;
  /** The shop's clock minus ours (its `Date` header and its OAuth timestamp window follow it). */
  clockSkewMs?: number;
  /**
   * Our clock, that the shop's order, note and product times are `clockSkewMs` off (default the
   * wall clock). A bench that skips idle time passes its own, so those times agree with the
   * daemon's, as NTP keeps a real shop's. The `Date` header and the OAuth timestamp window stay on
   * the wall clock (plus the skew): the client library signs with it.
   */
  now?: () => number;
  /** Each request takes this long (a real WooCommerce: 100–500 ms). Default 0. */
  latencyMs?: number;
  /** PHP workers: at most this many requests served at once, the rest queue. Default 0 = no cap. */
  workers?: number;
  /** The site's timezone (order `date_*` fields are local, `date_*_gmt` UTC). Default 0. */
  utcOffsetMinutes?: number;
}

export interface RecordedRequest {
  method: string;
  /** The matched route pattern (`products/:id`), or the raw path when nothing matched. */
  route: string;
  status: number;
  /** When it was answered (our clock, ms). */
  at: number;
  /** How many items a listing answered (an array body): what each listing carried. */
  items?: number;
}

/** `false` = up; `'503'` = every request gets a 503 page; `'refuse'` = the listener is closed. */
export type DownMode = false | '503' | 'refuse';

/** Which requests a stall holds: all of `method`, `route` (the pattern, `orders/:id/notes`) and `orderId` given. */
export interface StallFilter {
  method?: string;
  route?: string;
  orderId?: number;
}

/**
 * Requests held unanswered, as a shop that hangs on some orders (a slow plugin, a locked row):
 * each is handled only once released, so a write held here lands in the shop at `release()`,
 * whether or not its client is still there to read the answer.
 */
export interface Stall {
  /** Requests held now. */
  readonly waiting: number;
  /** Requests this stall has held since it began. */
  readonly held: number;
  release(): void;
}

const PRODUCT_ROUTE = /^products(\/|$)/;
const ORDER_ROUTE = /^orders(\/|$)/;
const WC_PREFIX = '/wp-json/wc/v3/';

interface CompiledRoute {
  route: FakeRoute;
  re: RegExp;
  names: string[];
}

function compile(route: FakeRoute): CompiledRoute {
  const names: string[] = [];
  const source = route.pattern
    .split('/')
    .map((seg) => {
      if (!seg.startsWith(':')) return seg.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
      names.push(seg.slice(1));
      return '(\\d+)';
    })
    .join('/');
  return { route, re: new RegExp(`^${source}/?$`), names };
}

export class FakeWooCommerce {
  readonly catalog: FakeCatalog;
  /** Orders, notes, refunds, webhooks, and the buyer's outbox. */
  readonly orders: FakeOrders;
  readonly consumerKey: string;
  readonly consumerSecret: string;
  clockSkewMs: number;

  private readonly ourNow: () => number;
  private readonly php: PhpWorkers;
  private readonly host: string;
  private port: number;
  private readonly homeUrlOverride: string | undefined;
  private readonly keys = new Map<string, FakeApiKey>();
  /** nonce → timestamp; WooCommerce keeps them 15 minutes per key. */
  private readonly nonces = new Map<string, Map<string, number>>();
  private readonly routes: CompiledRoute[] = [];
  private readonly itemFaults = new Map<string, ItemFault>();
  private readonly log: RecordedRequest[] = [];
  private readonly sockets = new Set<Socket>();
  private server: http.Server | undefined;
  private downMode: DownMode = false;
  /** Until then every request is refused 429 with `Retry-After` (a host's rate limiter). */
  private throttledUntil = 0;
  private readonly stalls = new Set<{ filter: StallFilter; hold: (() => void)[]; held: number }>();

  constructor(opts: FakeWooCommerceOptions = {}) {
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    this.homeUrlOverride = opts.homeUrl?.replace(/\/$/, '');
    this.php = new PhpWorkers({ latencyMs: opts.latencyMs ?? 0, workers: opts.workers ?? 0 });
    this.clockSkewMs = opts.clockSkewMs ?? 0;
    this.ourNow = opts.now ?? Date.now;
    this.consumerKey = opts.consumerKey ?? `ck_${randomBytes(20).toString('hex')}`;
    this.consumerSecret = opts.consumerSecret ?? `cs_${randomBytes(20).toString('hex')}`;
    this.addKey({
      consumerKey: this.consumerKey,
      consumerSecret: this.consumerSecret,
      permissions: opts.permissions ?? 'read_write',
    });
    this.catalog = new FakeCatalog(
      () => this.url,
      () => this.now(),
    );
    this.addRoutes(productRoutes(this.catalog, (sku) => this.itemFaults.get(wooSkuKey(sku))));
    this.orders = new FakeOrders({
      catalog: this.catalog,
      homeUrl: () => this.url,
      now: () => this.now(),
      ...(opts.utcOffsetMinutes !== undefined && { utcOffsetMinutes: opts.utcOffsetMinutes }),
    });
    this.addRoutes(this.orders.routes());
  }

  /** The home URL, `http://127.0.0.1:PORT` (valid once started). */
  get url(): string {
    return this.homeUrlOverride ?? `http://${this.host}:${this.port}`;
  }

  addKey(key: FakeApiKey): void {
    this.keys.set(key.consumerKey, key);
  }

  /** Later resources (orders, notes, webhooks) plug in here. */
  addRoutes(routes: FakeRoute[]): void {
    this.routes.push(...routes.map(compile));
  }

  async start(): Promise<string> {
    if (this.server) return this.url;
    await this.listen();
    return this.url;
  }

  async stop(): Promise<void> {
    for (const s of this.stalls) for (const go of s.hold.splice(0)) go();
    this.stalls.clear();
    await this.orders.stop();
    await this.closeListener();
  }

  // -- seeding & inspection (delegates to the catalogue) --

  addSimple(p: SeedSimple = {}): WooProductJson {
    return this.catalog.addSimple(p);
  }
  addVariable(p: SeedVariable): { parent: WooProductJson; variations: WooProductJson[] } {
    return this.catalog.addVariable(p);
  }
  seedCatalog(skus: string[], opts: SeedCatalogOptions = {}): SeededCatalog {
    return this.catalog.seedCatalog(skus, opts);
  }
  product(id: number): WooProductJson | undefined {
    return this.catalog.product(id);
  }
  productBySku(sku: string): WooProductJson | undefined {
    return this.catalog.productBySku(sku);
  }
  deleteProduct(id: number): boolean {
    return this.catalog.deleteProduct(id);
  }

  // -- orders: seeding & inspection (delegates to `orders`, which has the full set) --

  placeOrder(opts: PlaceOrderOptions): FakeOrderJson {
    return this.orders.placeOrder(opts);
  }
  refund(orderId: number, lines: { lineId?: number; sku?: string; quantity: number }[]): FakeOrderJson {
    return this.orders.refund(orderId, lines);
  }
  cancel(orderId: number): FakeOrderJson {
    return this.orders.cancel(orderId);
  }
  holdByMerchant(orderId: number): FakeOrderJson {
    return this.orders.holdByMerchant(orderId);
  }
  order(id: number): FakeOrderJson | undefined {
    return this.orders.order(id);
  }
  orderStatus(id: number): OrderStatus {
    return this.orders.status(id);
  }
  notesOf(orderId: number, filter: { customer?: boolean } = {}): FakeOrderNote[] {
    return this.orders.notesOf(orderId, filter);
  }
  orderMeta(orderId: number, key: string): unknown {
    return this.orders.meta(orderId, key);
  }
  get outbox(): readonly OutboxEmail[] {
    return this.orders.outbox;
  }
  deliverWebhooks(): Promise<WebhookDeliveryRecord[]> {
    return this.orders.deliverWebhooks();
  }

  // -- a real shop's pace (php-workers.ts) --

  get latencyMs(): number {
    return this.php.latencyMs;
  }
  set latencyMs(ms: number) {
    this.php.latencyMs = ms;
  }
  get workers(): number {
    return this.php.workers;
  }
  set workers(n: number) {
    this.php.workers = n;
  }
  /** Requests being served right now. */
  get inFlight(): number {
    return this.php.inFlight;
  }
  /** The most requests served at once so far (`resetCounters` starts it again). */
  get maxInFlight(): number {
    return this.php.maxInFlight;
  }

  // -- counters --

  get requests(): readonly RecordedRequest[] {
    return this.log;
  }
  /** Requests that matched, filtered by method and/or route pattern. */
  count(filter: { method?: string; route?: string } = {}): number {
    return this.log.filter(
      (r) => (!filter.method || r.method === filter.method) && (!filter.route || r.route === filter.route),
    ).length;
  }
  /** GETs on product routes. */
  get readCalls(): number {
    return this.log.filter((r) => r.method === 'GET' && PRODUCT_ROUTE.test(r.route)).length;
  }
  /** POST/PUT/DELETE on product routes (batch calls included). */
  get writeCalls(): number {
    return this.log.filter((r) => r.method !== 'GET' && PRODUCT_ROUTE.test(r.route)).length;
  }
  /** GETs on order routes (notes and refunds included). */
  get orderReadCalls(): number {
    return this.log.filter((r) => r.method === 'GET' && ORDER_ROUTE.test(r.route)).length;
  }
  /** POST/PUT/DELETE on order routes (notes and refunds included). */
  get orderWriteCalls(): number {
    return this.log.filter((r) => r.method !== 'GET' && ORDER_ROUTE.test(r.route)).length;
  }
  resetCounters(): void {
    this.log.length = 0;
    this.php.resetPeak();
  }

  // -- fault knobs, one failure mode each --

  /** `'503'`: every request is answered 503; `'refuse'`: the listener closes (connections refused). */
  async setDown(mode: DownMode): Promise<void> {
    const was = this.downMode;
    this.downMode = mode;
    if (mode === 'refuse' && was !== 'refuse') await this.closeListener();
    if (mode !== 'refuse' && was === 'refuse') await this.listen();
  }
  get down(): DownMode {
    return this.downMode;
  }

  /** For the next `ms`, every request is answered 429 with `Retry-After` (whole seconds left). */
  throttleFor(ms: number): void {
    this.throttledUntil = Date.now() + ms;
  }

  /** Holds every matching request until `release()` (released too when the shop stops). */
  stall(filter: StallFilter): Stall {
    const entry = { filter, hold: [] as (() => void)[], held: 0 };
    this.stalls.add(entry);
    return {
      get waiting() {
        return entry.hold.length;
      },
      get held() {
        return entry.held;
      },
      release: () => {
        this.stalls.delete(entry);
        for (const go of entry.hold.splice(0)) go();
      },
    };
  }

  /** Waits while a stall holds this request. */
  private async stalled(method: string, route: string | undefined, params: Record<string, string>) {
    for (const s of this.stalls) {
      const f = s.filter;
      if (f.method !== undefined && f.method !== method) continue;
      if (f.route !== undefined && f.route !== route) continue;
      if (
        f.orderId !== undefined &&
        (route?.startsWith('orders/:id') !== true || Number(params.id) !== f.orderId)
      )
        continue;
      s.held++;
      await new Promise<void>((resolve) => s.hold.push(resolve));
      return;
    }
  }

  /** Batch items touching these SKUs fail with a per-item error (HTTP 200 overall). */
  failItems(
    skus: string[],
    code = 'woocommerce_rest_cannot_edit',
    opts: { status?: number; message?: string } = {},
  ): void {
    for (const sku of skus) {
      this.itemFaults.set(wooSkuKey(sku), {
        code,
        status: opts.status ?? 500,
        message: opts.message ?? 'The item could not be updated.',
      });
    }
  }

  clearFaults(): void {
    this.itemFaults.clear();
    this.latencyMs = 0;
  }

  // -- HTTP --

  /** The shop's time for what it records (orders, notes, products). */
  private now(): number {
    return this.ourNow() + this.clockSkewMs;
  }

  /** The shop's time on the wire (`Date`, OAuth timestamps), which clients compare with theirs. */
  private wireNow(): number {
    return Date.now() + this.clockSkewMs;
  }

  private listen(): Promise<void> {
    const server = http.createServer((req, res) => {
      this.php
        .serve(() => this.handle(req, res))
        .catch(() => {
          if (!res.headersSent) res.writeHead(500);
          res.end();
        });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server = server;
    return new Promise((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => {
        this.port = (server.address() as AddressInfo).port;
        resolve();
      });
    });
  }

  private closeListener(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return Promise.resolve();
    return new Promise((resolve) => {
      // Let clients see their kept-alive sockets close before we report the listener gone, so
      // the next request is refused rather than written into a dying socket.
      server.close(() => setTimeout(resolve, 10));
      for (const s of this.sockets) s.destroy();
      this.sockets.clear();
    });
  }

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      res.writeHead(status, {
        Date: new Date(this.wireNow()).toUTCString(),
        'Content-Type': 'application/json; charset=UTF-8',
        ...headers,
      });
      res.end(JSON.stringify(body));
    };
    const rel = url.pathname.startsWith(WC_PREFIX) ? url.pathname.slice(WC_PREFIX.length) : url.pathname;
    const match = url.pathname.startsWith(WC_PREFIX) ? this.match(method, rel) : undefined;
    await this.stalled(method, match?.route.pattern, match?.params ?? {});
    // Every request is recorded, refused or not: the counters are what a benchmark compares.
    const record = (status: number, body?: unknown) =>
      this.log.push({
        method,
        route: match?.route.pattern ?? rel,
        status,
        at: Date.now(),
        ...(Array.isArray(body) && { items: body.length }),
      });
    const throttledMs = this.throttledUntil - Date.now();
    if (throttledMs > 0) {
      record(429);
      send(
        429,
        {
          code: 'rate_limit_exceeded',
          message: 'Too many requests. Please wait and try again.',
          data: { status: 429 },
        },
        { 'Retry-After': String(Math.ceil(throttledMs / 1000)) },
      );
      return;
    }
    if (this.downMode === '503') {
      record(503);
      res.writeHead(503, {
        Date: new Date(this.wireNow()).toUTCString(),
        'Content-Type': 'text/html; charset=UTF-8',
      });
      res.end('<html><body><h1>503 Service Unavailable</h1></body></html>');
      return;
    }
    if (!url.pathname.startsWith(WC_PREFIX)) {
      record(404);
      res.writeHead(404, { 'Content-Type': 'text/html; charset=UTF-8' });
      res.end('<html><body>Page not found</body></html>');
      return;
    }
    const fail = (e: unknown) => {
      const err = e instanceof WooError ? e : new WooError(500, 'internal_server_error', 'Internal error.');
      record(err.status);
      send(err.status, err.toJSON());
    };
    try {
      // WordPress order: authentication errors, key permissions, route, arguments, permission callback.
      const key = this.authenticate(method, url, req.headers.authorization);
      if (key) this.checkKeyPermissions(key, method);
      if (!match)
        throw new WooError(404, 'rest_no_route', 'No route was found matching the URL and request method.');
      let body: unknown;
      if (raw.length > 0 && /json/i.test(String(req.headers['content-type'] ?? ''))) {
        try {
          body = JSON.parse(raw);
        } catch {
          throw new WooError(400, 'rest_invalid_json', 'Invalid JSON body passed.');
        }
      }
      const routeReq: RouteRequest = {
        method: method as HttpMethod,
        params: match.params,
        query: url.searchParams,
        body,
        now: this.now(),
        routeUrl: `${this.url}${url.pathname}`,
      };
      match.route.validate?.(routeReq);
      if (!key) {
        const [code, message] = PERMISSION_ERRORS[match.route.permission];
        throw new WooError(401, code, message);
      }
      const result = await match.route.handle(routeReq);
      const status = result.status ?? 200;
      record(status, result.body);
      send(status, applyFields(result.body, url.searchParams.get('_fields')), result.headers);
    } catch (e) {
      fail(e);
    }
  }

  private match(
    method: string,
    rel: string,
  ): { route: FakeRoute; params: Record<string, string> } | undefined {
    for (const c of this.routes) {
      if (c.route.method !== method) continue;
      const m = c.re.exec(rel);
      if (!m) continue;
      const params: Record<string, string> = {};
      c.names.forEach((n, i) => {
        params[n] = m[i + 1] ?? '';
      });
      return { route: c.route, params };
    }
    return undefined;
  }

  /**
   * Over plain http only OAuth 1.0a counts; Basic credentials are ignored (the request stays
   * anonymous). Returns the key, `undefined` for an anonymous request, or throws the 401.
   */
  private authenticate(method: string, url: URL, authorization: string | undefined): FakeApiKey | undefined {
    const params: Record<string, string> = {};
    for (const [k, v] of url.searchParams) params[k] = v; // PHP: the last duplicate wins
    Object.assign(params, parseOAuthHeader(authorization));
    const missing = OAUTH_REQUIRED.filter((k) => !params[k]);
    if (missing.length === OAUTH_REQUIRED.length) return undefined;
    if (missing.length > 0) {
      throw new WooError(
        401,
        'woocommerce_rest_authentication_missing_parameter',
        `Missing OAuth parameter${missing.length > 1 ? 's' : ''} ${missing.join(', ')}`,
      );
    }
    const key = this.keys.get(params.oauth_consumer_key ?? '');
    if (!key) throw authError('Consumer key is invalid.');

    const home = new URL(this.url);
    const base = `${home.origin}${url.pathname}`;
    const signatureMethod = params.oauth_signature_method;
    if (signatureMethod !== 'HMAC-SHA1' && signatureMethod !== 'HMAC-SHA256') {
      throw authError('Invalid signature - signature method is invalid.');
    }
    let provided = (params.oauth_signature ?? '').replace(/ /g, '+');
    try {
      provided = decodeURIComponent(provided);
    } catch {
      // rawurldecode leaves malformed escapes alone
    }
    const expected = oauthSignature(
      oauthBaseString(method, base, params),
      key.consumerSecret,
      signatureMethod,
    );
    const a = Buffer.from(expected);
    const b = Buffer.from(provided);
    if (a.length !== b.length || !timingSafeEqual(a, b)) {
      throw authError('Invalid signature - provided signature does not match.');
    }

    const nowS = Math.floor(this.wireNow() / 1000);
    const timestamp = Number.parseInt(params.oauth_timestamp ?? '', 10) || 0;
    if (timestamp < nowS - NONCE_WINDOW_S || timestamp > nowS + NONCE_WINDOW_S) {
      throw authError('Invalid timestamp.');
    }
    let used = this.nonces.get(key.consumerKey);
    if (!used) {
      used = new Map();
      this.nonces.set(key.consumerKey, used);
    }
    const nonce = params.oauth_nonce ?? '';
    if (used.has(nonce)) throw authError('Invalid nonce - nonce has already been used.');
    used.set(nonce, timestamp);
    for (const [n, t] of used) if (t < nowS - NONCE_WINDOW_S) used.delete(n);
    return key;
  }

  private checkKeyPermissions(key: FakeApiKey, method: string): void {
    const reading = method === 'GET' || method === 'HEAD';
    if (reading && key.permissions === 'write') {
      throw authError('The API key provided does not have read permissions.');
    }
    if (!reading && key.permissions === 'read') {
      throw authError('The API key provided does not have write permissions.');
    }
  }
}

/**
 * WordPress's `_fields` filter applies to the whole response: items of a list, or the keys of
 * an object — which is why a batch response (`{ update: […] }`) comes back `[]` with it.
 */
function applyFields(body: unknown, fieldsParam: string | null): unknown {
  if (!fieldsParam) return body;
  const fields = new Set(
    fieldsParam
      .split(',')
      .map((f) => f.trim())
      .filter(Boolean),
  );
  const pick = (o: unknown): unknown => {
    if (!o || typeof o !== 'object' || Array.isArray(o)) return o;
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(o)) if (fields.has(k)) out[k] = v;
    return out;
  };
  if (Array.isArray(body)) return body.map(pick);
  const picked = pick(body);
  // PHP serialises an emptied associative array as `[]`.
  return picked && typeof picked === 'object' && Object.keys(picked).length === 0 ? [] : picked;
}

export function readBody(req: http.IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

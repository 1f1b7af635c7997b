import { existsSync, readFileSync } from 'node:fs';
import http from 'node:http';
import https from 'node:https';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { gunzipSync } from 'node:zlib';
import {
  buildClientSchema,
  type DocumentNode,
  execute,
  type FragmentDefinitionNode,
  GraphQLError,
  type GraphQLFieldResolver,
  type GraphQLSchema,
  getDirectiveValues,
  getOperationAST,
  getVariableValues,
  type IntrospectionQuery,
  Kind,
  type OperationDefinitionNode,
  parse,
  validate,
} from 'graphql';
import { PhpWorkers } from '../php-workers.js';
import {
  type FakeFulfillment,
  type FakeHold,
  FakeOrderBook,
  type FakeSubscription,
  type FinancialStatus,
  type FulfillmentOrderStatus,
  type OutboxEmail,
  type PlacedOrder,
  type SeedOrder,
  type WebhookDelivery,
} from './fake-shopify-orders.js';
import { actualCost, type CostInput, MAX_QUERY_COST, requestedCost } from './query-cost.js';

/**
 * A strict fake of the Shopify Admin GraphQL API (2026-10) over real HTTP, for tests and the
 * sandbox shop. Strict where Shopify is strict, so an adapter that passes here is not relying
 * on leniency:
 * - every document and variable set is validated against Shopify's own schema
 *   (`schema/admin_2026-10.json.gz`), answered Shopify-style (HTTP 200, `errors`);
 * - `X-Shopify-Access-Token` is checked (401);
 * - the requested cost is computed from the document (`query-cost.ts`), over 1,000 is refused
 *   (`MAX_COST_EXCEEDED`), and a leaky bucket answers `THROTTLED` when it lacks the cost;
 *   every answer carries `extensions.cost` with the bucket's `throttleStatus`;
 * - page sizes and input arrays are capped at 250;
 * - mutations Shopify requires `@idempotent(key:)` on are refused without it; a repeated key
 *   replays the first answer, and a key whose first use failed is refused;
 * - `inventorySetQuantities` requires `changeFromQuantity` on every quantity (explicit `null`
 *   skips the compare-and-set) and is all-or-nothing; `productVariants(query: "sku:…")` is
 *   fuzzy like Shopify's search (prefix and token matches), so callers must compare SKUs exactly.
 *
 * Only the operations the adapters use are resolved; any other field answers an error naming
 * the gap ("FakeShopify does not implement …") rather than a plausible null.
 */

export const FAKE_API_VERSION = '2026-10';
const GRAPHQL_PATH = `/admin/api/${FAKE_API_VERSION}/graphql.json`;
const SCHEMA_FILE = 'admin_2026-10.json.gz';
const MAX_BODY_BYTES = 2_000_000;

const QUANTITY_NAMES = new Set([
  'available',
  'committed',
  'damaged',
  'incoming',
  'on_hand',
  'quality_control',
  'reserved',
  'safety_stock',
]);
/** Reasons `inventorySetQuantities` accepts (shopify.dev, inventory states). */
const SET_REASONS = new Set([
  'correction',
  'cycle_count_available',
  'damaged',
  'movement_created',
  'movement_updated',
  'movement_received',
  'movement_canceled',
  'other',
  'promotion',
  'quality_control',
  'received',
  'reservation_created',
  'reservation_deleted',
  'reservation_updated',
  'restock',
  'safety_stock',
  'shrinkage',
]);

// ---------------------------------------------------------------------------------------------
// Schema (loaded once per process)

let schemaPromise: Promise<AdminSchema> | undefined;

interface AdminSchema {
  schema: GraphQLSchema;
  /** Mutations whose description says the idempotency key is required (2026-04+). */
  idempotentRequired: Set<string>;
}

function schemaPath(): string {
  // From source (fakes/shopify/) or from the build (dist/fakes/shopify/), which tsc does not copy into.
  const candidates = [
    fileURLToPath(new URL(`./schema/${SCHEMA_FILE}`, import.meta.url)),
    fileURLToPath(new URL(`../../../fakes/shopify/schema/${SCHEMA_FILE}`, import.meta.url)),
  ];
  const found = candidates.find((p) => existsSync(p));
  if (!found)
    throw new Error(`FakeShopify: schema file ${SCHEMA_FILE} not found (looked in ${candidates.join(', ')})`);
  return found;
}

export function loadAdminSchema(path?: string): Promise<AdminSchema> {
  schemaPromise ??= Promise.resolve().then(() => {
    const raw = JSON.parse(gunzipSync(readFileSync(path ?? schemaPath())).toString('utf8')) as {
      data: IntrospectionQuery;
    };
    const schema = buildClientSchema(raw.data);
    const idempotentRequired = new Set<string>();
    for (const field of Object.values(schema.getMutationType()?.getFields() ?? {})) {
      if (/idempotency key is required/i.test(field.description ?? '')) idempotentRequired.add(field.name);
    }
    return { schema, idempotentRequired };
  });
  return schemaPromise;
}

// ---------------------------------------------------------------------------------------------
// The in-memory shop

export type InventoryPolicy = 'DENY' | 'CONTINUE';

interface Location {
  id: string;
  name: string;
  fulfillsOnlineOrders: boolean;
  isActive: boolean;
}

interface Level {
  id: string;
  available: number;
  updatedAt: string;
}

interface Item {
  id: string;
  variantId: string;
  tracked: boolean;
  levels: Map<string, Level>;
}

interface Variant {
  id: string;
  num: number;
  productId: string;
  title: string;
  sku: string | null;
  inventoryPolicy: InventoryPolicy;
  itemId: string;
  /** Shop currency, as Shopify answers Money: `"10.00"`. */
  price: string;
}

interface Product {
  id: string;
  title: string;
  variantIds: string[];
}

export interface SeedVariant {
  sku: string | null;
  /** `available` at each location it is stocked at (default 0). */
  quantity?: number;
  /** Shopify's default for a new variant is DENY. */
  inventoryPolicy?: InventoryPolicy;
  /** Default true. */
  tracked?: boolean;
  /** Locations the item is stocked at: default the primary one; `[]` = not stocked anywhere. */
  stockedAt?: string[];
  title?: string;
  /** Default `"10.00"`. */
  price?: string;
}

export interface SeededVariant {
  variantId: string;
  inventoryItemId: string;
  sku: string | null;
}

export interface SeededProduct {
  productId: string;
  variants: SeededVariant[];
}

export interface BucketSettings {
  /** Bucket size in points. */
  maximumAvailable: number;
  /** Points restored per second. */
  restoreRate: number;
}

export interface FakeShopifyOptions {
  accessToken: string;
  /** Default: Shopify's Standard plan, 2,000 points restored at 100/s. */
  bucket?: Partial<BucketSettings>;
  /** Serve https with this key and certificate (e.g. for `NODE_EXTRA_CA_CERTS`); plain http without. */
  tls?: { key: string | Buffer; cert: string | Buffer };
  host?: string;
  /** 0 = a free port. */
  port?: number;
  /** Clock for the leaky bucket and order timestamps (ms). */
  now?: () => number;
  schemaPath?: string;
  /** The app's API secret: signs webhooks (`X-Shopify-Hmac-Sha256`). Required to send them. */
  apiSecretKey?: string;
  /** `X-Shopify-Shop-Domain` on webhooks; default the fake's own `host:port`. */
  shopDomain?: string;
  /** Each request takes this long. Default 0. */
  latencyMs?: number;
  /** At most this many requests served at once, the rest queue. Default 0 = no cap. */
  workers?: number;
}

export interface FakeShopifyStats {
  /** HTTP requests received, whatever their fate. */
  requests: number;
  /** Executed query operations. */
  queries: number;
  /** Executed root query fields by name (`productVariants`, `nodes`, `location` …). */
  queryFields: Record<string, number>;
  /** Executed root mutation fields by name, replays of an idempotency key included. */
  mutations: Record<string, number>;
  /** Mutations that changed state (an idempotent replay or a refused call does not). */
  applied: Record<string, number>;
  /** Answers `THROTTLED`. */
  throttled: number;
  /** Refused before execution: validation, variables, limits, cost, missing @idempotent. */
  rejected: number;
  /** 401 answers. */
  unauthorized: number;
  /** Every executed operation in order: its name (null when anonymous) and costs, as charged. */
  operations: { name: string | null; requestedCost: number; actualCost: number }[];
}

interface StoredAnswer {
  fingerprint: string;
  payload: unknown;
  failed: boolean;
}

interface Change {
  name: string;
  delta: number;
  quantityAfterChange: number;
  itemId: string;
  locationId: string;
}

type Source = Record<string, unknown>;

const IDEMPOTENCY_MESSAGES = {
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH:
    'The same idempotency key cannot be used with different operation parameters.',
  IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED:
    'A previous request with this idempotency key failed. Retry with a new idempotency key.',
} as const;
type Args = Record<string, unknown>;

const gidNumber = (gid: string): number => Number(/\/(\d+)(?:\?.*)?$/.exec(gid)?.[1] ?? Number.NaN);
const encodeCursor = (n: number): string => Buffer.from(JSON.stringify({ last_id: n })).toString('base64');
function decodeCursor(cursor: string): number {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')) as { last_id?: unknown };
    if (typeof v.last_id === 'number') return v.last_id;
  } catch {
    // falls through to the error below
  }
  throw new GraphQLError(`Invalid cursor for current pagination sort.`, {
    extensions: { code: 'BAD_REQUEST' },
  });
}

/** A Shopify-style search term: `sku:"A B"` or `sku:A`; tokens are what Shopify's index splits on. */
const tokens = (s: string): string[] =>
  s
    .toLowerCase()
    .split(/[^a-z0-9]+/)
    .filter(Boolean);

/**
 * Shopify's `sku:` filter is a search, not an equality test: case-insensitive, prefix and
 * token matches count. `PSN-US-50` finds `psn-us-50`, `PSN-US-500` and `US-PSN-50`.
 */
export function fuzzySkuMatch(actual: string | null, wanted: string): boolean {
  if (!actual) return false;
  const a = actual.toLowerCase();
  const w = wanted.toLowerCase().replace(/\*$/, '');
  if (w === '') return false;
  if (a === w || a.startsWith(w)) return true;
  const at = new Set(tokens(a));
  const wt = tokens(w);
  return wt.length > 0 && wt.every((t) => at.has(t));
}

type SearchTerm = { field: string | null; value: string };

/** `sku:"A" OR sku:"B"`, `sku:A sku:B` (AND); returns OR-groups of AND-terms. */
function parseSearch(query: string): SearchTerm[][] {
  const groups: SearchTerm[][] = [[]];
  // Sticky: each match starts where the last ended, so anything unparseable stops the scan.
  const re = /\s*(?:(OR)(?=\s|$)|(AND)(?=\s|$)|(?:([a-z_]+):)?("(?:[^"\\]|\\.)*"|[^\s"()]+))/gy;
  let pos = 0;
  for (const m of query.matchAll(re)) {
    pos = m.index + m[0].length;
    if (m[1]) groups.push([]);
    else if (m[4] !== undefined) {
      const raw = m[4];
      const value = raw.startsWith('"') ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
      groups[groups.length - 1]?.push({ field: m[3] ?? null, value });
    }
  }
  if (query.slice(pos).trim() !== '') {
    throw new GraphQLError(`FakeShopify cannot parse the search query near "${query.slice(pos, pos + 20)}"`);
  }
  return groups.filter((g) => g.length > 0);
}

function connection<T>(items: T[], args: Args, num: (t: T) => number, view: (t: T) => Source): Source {
  let list = [...items].sort((a, b) => num(a) - num(b));
  if (args.reverse === true) list.reverse();
  if (typeof args.after === 'string') {
    const after = decodeCursor(args.after);
    const i = list.findIndex((t) => num(t) === after);
    list = i >= 0 ? list.slice(i + 1) : list.filter((t) => (args.reverse ? num(t) < after : num(t) > after));
  }
  if (typeof args.before === 'string') {
    const before = decodeCursor(args.before);
    const i = list.findIndex((t) => num(t) === before);
    list = i >= 0 ? list.slice(0, i) : list;
  }
  const total = list.length;
  let page = list;
  let hasNextPage = false;
  let hasPreviousPage = typeof args.after === 'string';
  if (typeof args.first === 'number') {
    page = list.slice(0, args.first);
    hasNextPage = total > args.first;
  } else if (typeof args.last === 'number') {
    page = list.slice(Math.max(0, total - args.last));
    hasPreviousPage = total > args.last;
  }
  const nodes = page.map(view);
  const cursors = page.map((t) => encodeCursor(num(t)));
  return {
    nodes,
    edges: page.map((_t, i) => ({ cursor: cursors[i], node: nodes[i] })),
    pageInfo: {
      hasNextPage,
      hasPreviousPage,
      startCursor: cursors[0] ?? null,
      endCursor: cursors[cursors.length - 1] ?? null,
    },
  };
}

/** Resolves plain objects by property; a function property is called with the field's arguments. */
const fieldResolver: GraphQLFieldResolver<unknown, unknown> = (source, args, _ctx, info) => {
  const value = (source as Source | null)?.[info.fieldName];
  if (value === undefined) {
    throw new GraphQLError(`FakeShopify does not implement ${info.parentType.name}.${info.fieldName}`, {
      extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
    });
  }
  return typeof value === 'function' ? (value as (a: Args) => unknown)(args as Args) : value;
};

const stableJson = (v: unknown): string =>
  JSON.stringify(v, (_k, x: unknown) =>
    x && typeof x === 'object' && !Array.isArray(x)
      ? Object.fromEntries(Object.entries(x as Source).sort(([a], [b]) => a.localeCompare(b)))
      : x,
  );

export class FakeShopify {
  readonly accessToken: string;
  readonly stats: FakeShopifyStats = FakeShopify.emptyStats();
  /** The shop's pace: per-request latency and a cap on requests served at once (settable while it runs). */
  readonly pace: PhpWorkers;

  private readonly opts: FakeShopifyOptions;
  private readonly now: () => number;
  private server: http.Server | undefined;
  private admin: AdminSchema | undefined;
  private down = false;

  private nextId = 1;
  private readonly locations = new Map<string, Location>();
  private readonly products = new Map<string, Product>();
  private readonly variants = new Map<string, Variant>();
  private readonly items = new Map<string, Item>();
  private readonly idempotency = new Map<string, StoredAnswer>();
  private adjustmentGroups = 0;
  private deferred: { mutation: string; run: () => void }[] = [];
  /** Orders, fulfillment orders, metafields, fulfillments, webhooks (fake-shopify-orders.ts). */
  private readonly book: FakeOrderBook;
  /** One-shot faults: the named mutation commits, then its answer is lost. */
  private lostAnswers: { mutation: string; how: 'reset' | 'http503' }[] = [];
  private loseCurrent: 'reset' | 'http503' | undefined;
  /** Operation names answered 503 before running, with how many such answers are left (`failOperation`). */
  private readonly failing = new Map<string, number>();

  private bucket: BucketSettings & { available: number; at: number };
  readonly primaryLocationId: string;
  /** The shop's clock minus the real one, as its `Date` header shows it. */
  clockSkewMs = 0;
  /** Operation names answered as over the cost cap (`refuseOperation`). */
  private readonly refused = new Set<string>();

  constructor(opts: FakeShopifyOptions) {
    this.opts = opts;
    this.accessToken = opts.accessToken;
    this.now = opts.now ?? Date.now;
    this.pace = new PhpWorkers({ latencyMs: opts.latencyMs ?? 0, workers: opts.workers ?? 0 });
    const maximumAvailable = opts.bucket?.maximumAvailable ?? 2000;
    this.bucket = {
      maximumAvailable,
      restoreRate: opts.bucket?.restoreRate ?? 100,
      available: maximumAvailable,
      at: this.now(),
    };
    this.primaryLocationId = this.addLocation({ name: 'Shop location', fulfillsOnlineOrders: true });
    this.book = new FakeOrderBook({
      gid: (type) => this.gid(type),
      now: this.now,
      locationId: this.primaryLocationId,
      locationView: (id) => this.locationView(this.location(id)),
      connection,
      apiVersion: FAKE_API_VERSION,
    });
  }

  private static emptyStats(): FakeShopifyStats {
    return {
      requests: 0,
      queries: 0,
      queryFields: {},
      mutations: {},
      applied: {},
      throttled: 0,
      rejected: 0,
      unauthorized: 0,
      operations: [],
    };
  }

  // ---- lifecycle ------------------------------------------------------------------------------

  async start(): Promise<this> {
    this.admin = await loadAdminSchema(this.opts.schemaPath);
    const handler = (req: http.IncomingMessage, res: http.ServerResponse) => {
      this.pace
        .serve(() => this.handle(req, res))
        .catch(() => {
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ errors: 'Internal Server Error' }));
        });
    };
    this.server = this.opts.tls ? https.createServer(this.opts.tls, handler) : http.createServer(handler);
    const server = this.server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port ?? 0, this.opts.host ?? '127.0.0.1', () => resolve());
    });
    return this;
  }

  async stop(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  get port(): number {
    const addr = this.server?.address() as AddressInfo | null | undefined;
    if (!addr) throw new Error('FakeShopify is not started');
    return addr.port;
  }

  /** The `shop` to configure: `127.0.0.1:PORT`. */
  get shop(): string {
    return `${this.opts.host ?? '127.0.0.1'}:${this.port}`;
  }

  get graphqlUrl(): string {
    return `${this.opts.tls ? 'https' : 'http'}://${this.shop}${GRAPHQL_PATH}`;
  }

  // ---- seeding --------------------------------------------------------------------------------

  private gid(type: string): { id: string; num: number } {
    const num = this.nextId++;
    return { id: `gid://shopify/${type}/${num}`, num };
  }

  addLocation(opts: { name: string; fulfillsOnlineOrders?: boolean; isActive?: boolean }): string {
    const { id } = this.gid('Location');
    this.locations.set(id, {
      id,
      name: opts.name,
      fulfillsOnlineOrders: opts.fulfillsOnlineOrders ?? true,
      isActive: opts.isActive ?? true,
    });
    return id;
  }

  /** Changes the primary location's "fulfils online orders" flag (a shop that ships from a warehouse). */
  setFulfillsOnlineOrders(locationId: string, value: boolean): void {
    this.location(locationId).fulfillsOnlineOrders = value;
  }

  addProduct(opts: { title?: string; variants: SeedVariant[] }): SeededProduct {
    const { id: productId } = this.gid('Product');
    const product: Product = { id: productId, title: opts.title ?? `Product ${productId}`, variantIds: [] };
    this.products.set(productId, product);
    const seeded: SeededVariant[] = [];
    for (const sv of opts.variants) {
      const v = this.gid('ProductVariant');
      const itemId = this.gid('InventoryItem').id;
      const levels = new Map<string, Level>();
      for (const loc of sv.stockedAt ?? [this.primaryLocationId]) {
        this.location(loc);
        levels.set(loc, this.newLevel(itemId, sv.quantity ?? 0));
      }
      this.items.set(itemId, { id: itemId, variantId: v.id, tracked: sv.tracked ?? true, levels });
      this.variants.set(v.id, {
        id: v.id,
        num: v.num,
        productId,
        title: sv.title ?? sv.sku ?? 'Default Title',
        sku: sv.sku,
        inventoryPolicy: sv.inventoryPolicy ?? 'DENY',
        price: sv.price ?? '10.00',
        itemId,
      });
      product.variantIds.push(v.id);
      seeded.push({ variantId: v.id, inventoryItemId: itemId, sku: sv.sku });
    }
    return { productId, variants: seeded };
  }

  /** One single-variant product per SKU (the usual gift-card catalogue). */
  addProducts(skus: string[], variant: Omit<SeedVariant, 'sku'> = {}): SeededProduct[] {
    return skus.map((sku) => this.addProduct({ title: sku, variants: [{ ...variant, sku }] }));
  }

  private newLevel(itemId: string, available: number): Level {
    return {
      id: `gid://shopify/InventoryLevel/${this.nextId++}?inventory_item_id=${gidNumber(itemId)}`,
      available,
      updatedAt: new Date(this.now()).toISOString(),
    };
  }

  private location(id: string): Location {
    const loc = this.locations.get(id);
    if (!loc) throw new Error(`FakeShopify: no location ${id}`);
    return loc;
  }

  // ---- inspection -----------------------------------------------------------------------------

  /** The one variant with exactly this SKU; throws when there is none or more than one. */
  variantBySku(sku: string): { variantId: string; inventoryItemId: string; productId: string } {
    const found = [...this.variants.values()].filter((v) => v.sku === sku);
    if (found.length !== 1) throw new Error(`FakeShopify: ${found.length} variants carry SKU "${sku}"`);
    const v = found[0] as Variant;
    return { variantId: v.id, inventoryItemId: v.itemId, productId: v.productId };
  }

  /** `available` at a location (default the primary one); undefined when not stocked there. */
  quantity(sku: string, locationId = this.primaryLocationId): number | undefined {
    const item = this.items.get(this.variantBySku(sku).inventoryItemId);
    return item?.levels.get(locationId)?.available;
  }

  inventoryPolicy(sku: string): InventoryPolicy {
    return (this.variants.get(this.variantBySku(sku).variantId) as Variant).inventoryPolicy;
  }

  price(sku: string): string {
    return (this.variants.get(this.variantBySku(sku).variantId) as Variant).price;
  }

  isTracked(sku: string): boolean {
    return (this.items.get(this.variantBySku(sku).inventoryItemId) as Item).tracked;
  }

  isStocked(sku: string, locationId = this.primaryLocationId): boolean {
    return this.quantity(sku, locationId) !== undefined;
  }

  mutationCount(name: string): number {
    return this.stats.mutations[name] ?? 0;
  }

  queryFieldCount(name: string): number {
    return this.stats.queryFields[name] ?? 0;
  }

  resetStats(): void {
    Object.assign(this.stats, FakeShopify.emptyStats());
  }

  /** The bucket as the next request would see it. */
  throttleStatus(): { maximumAvailable: number; currentlyAvailable: number; restoreRate: number } {
    this.refill();
    return {
      maximumAvailable: this.bucket.maximumAvailable,
      currentlyAvailable: Math.floor(this.bucket.available),
      restoreRate: this.bucket.restoreRate,
    };
  }

  // ---- orders: seeding, inspection, webhooks ---------------------------------------------------

  /** A new order with one fulfillment order at the primary location (financial status default PAID). */
  placeOrder(seed: SeedOrder): PlacedOrder {
    return this.book.placeOrder(seed);
  }

  setFinancialStatus(orderId: string, status: FinancialStatus): void {
    this.book.setFinancialStatus(orderId, status);
  }

  /** Refund units per line (LineItem GID or SKU): PARTIALLY_REFUNDED, or REFUNDED when nothing is left. */
  refund(orderId: string, lineQty: Record<string, number>): void {
    this.book.refund(orderId, lineQty);
  }

  cancel(orderId: string): void {
    this.book.cancel(orderId);
  }

  /** The merchant's own hold (not by any app): returns the hold ids. */
  merchantHold(orderId: string, reason?: string): string[] {
    return this.book.merchantHold(orderId, reason);
  }

  merchantRelease(orderId: string): void {
    this.book.merchantRelease(orderId);
  }

  /** A hand edit of an order metafield (moves its compareDigest). */
  setOrderMetafield(orderId: string, namespace: string, key: string, type: string, value: string): void {
    this.book.setMetafield(orderId, namespace, key, type, value);
  }

  orderMetafield(orderId: string, namespace = 'psnb2b', key = 'codes'): string | null {
    return this.book.metafieldValue(orderId, namespace, key);
  }

  fulfillments(orderId: string): FakeFulfillment[] {
    return this.book.fulfillmentsOf(orderId);
  }

  lineState(orderId: string): ReturnType<FakeOrderBook['lineState']> {
    return this.book.lineState(orderId);
  }

  holds(orderId: string): (FakeHold & { fulfillmentOrderId: string })[] {
    return this.book.holdsOf(orderId);
  }

  fulfillmentOrderStatus(fulfillmentOrderId: string): FulfillmentOrderStatus {
    return this.book.fulfillmentOrderStatus(fulfillmentOrderId);
  }

  /** Shipping confirmations Shopify would have emailed (fulfillments with notifyCustomer). */
  get outbox(): readonly OutboxEmail[] {
    return this.book.outbox;
  }

  webhookSubscriptionList(): FakeSubscription[] {
    return this.book.listSubscriptions();
  }

  get webhookLog(): readonly WebhookDelivery[] {
    return this.book.webhookLog;
  }

  private signing(): { secret: string; shopDomain: string } {
    if (!this.opts.apiSecretKey) throw new Error('FakeShopify: pass apiSecretKey to send webhooks');
    return { secret: this.opts.apiSecretKey, shopDomain: this.opts.shopDomain ?? this.shop };
  }

  /** POSTs `topic` (e.g. `ORDERS_PAID`) about an order to every subscription of it, signed. */
  triggerWebhook(topic: string, orderId: string): Promise<WebhookDelivery[]> {
    return this.book.triggerWebhook(topic, orderId, this.signing());
  }

  /** The same webhook (same id, body, signature) again, as Shopify does on retries. */
  redeliverWebhook(webhookId: string): Promise<WebhookDelivery[]> {
    return this.book.redeliver(webhookId, this.signing());
  }

  /** Headers and raw body of a webhook Shopify would send, without sending it. */
  signedWebhook(topic: string, orderId: string): { headers: Record<string, string>; rawBody: Buffer } {
    return this.book.signedWebhook(topic, orderId, this.signing());
  }

  // ---- faults (one failure mode each) ---------------------------------------------------------

  /**
   * A crash between a write and its acknowledgement: the next `mutation` that changes state
   * commits, then its answer is lost (`reset`: the connection is dropped; `http503`: a 503).
   */
  loseAnswerAfterCommit(mutation: string, how: 'reset' | 'http503' = 'reset'): void {
    this.lostAnswers.push({ mutation, how });
  }

  /**
   * A passing outage of one operation: its next `times` requests answer 503 before running
   * (nothing executed, no points spent), as Shopify's servers do now and then.
   */
  failOperation(operationName: string, times: number): void {
    this.failing.set(operationName, times);
  }

  /**
   * Every later document with this operation name is refused as over the cost cap, as Shopify
   * refuses a document that grew (a new field, a bigger page) before running it.
   */
  refuseOperation(operationName: string): void {
    this.refused.add(operationName);
  }

  /** Every request answers 503 until set back. */
  setDown(down: boolean): void {
    this.down = down;
  }

  /**
   * A sale or a merchant's edit between a read and a write: the next compare-and-set is stale.
   * With `beforeNext`, the move happens just before the next executed mutation of that name
   * (so it lands after the caller's read) — before each of the next `times` ones (default 1);
   * without, at once.
   */
  moveQuantityBehindYourBack(
    sku: string,
    delta: number,
    opts: { locationId?: string; beforeNext?: string; times?: number } = {},
  ): void {
    const level = this.items
      .get(this.variantBySku(sku).inventoryItemId)
      ?.levels.get(opts.locationId ?? this.primaryLocationId);
    if (!level) throw new Error(`FakeShopify: SKU "${sku}" is not stocked at that location`);
    if (!opts.beforeNext) {
      level.available += delta;
      return;
    }
    let left = opts.times ?? 1;
    const mutation = opts.beforeNext;
    const move = () => {
      level.available += delta;
      if (--left > 0) this.deferred.push({ mutation, run: move });
    };
    this.deferred.push({ mutation, run: move });
  }

  /** Resize the bucket and/or set what is left in it now (0 = the next call is throttled). */
  setBucket(settings: Partial<BucketSettings> & { currentlyAvailable?: number }): void {
    this.refill();
    if (settings.maximumAvailable !== undefined) this.bucket.maximumAvailable = settings.maximumAvailable;
    if (settings.restoreRate !== undefined) this.bucket.restoreRate = settings.restoreRate;
    this.bucket.available = Math.min(
      this.bucket.maximumAvailable,
      settings.currentlyAvailable ?? this.bucket.available,
    );
  }

  // ---- HTTP -----------------------------------------------------------------------------------

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    this.stats.requests++;
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY_BYTES) return this.send(res, 413, { errors: 'Request body too large' });
      chunks.push(chunk as Buffer);
    }
    const url = new URL(req.url ?? '/', 'http://fake.invalid');
    if (url.pathname !== GRAPHQL_PATH) return this.send(res, 404, { errors: 'Not Found' });
    if (req.method !== 'POST') return this.send(res, 405, { errors: 'Method Not Allowed' });
    if (this.down) return this.send(res, 503, { errors: 'Service Unavailable' });
    if (req.headers['x-shopify-access-token'] !== this.accessToken) {
      this.stats.unauthorized++;
      return this.send(res, 401, {
        errors: '[API] Invalid API key or access token (unrecognized login or wrong password)',
      });
    }
    if (!String(req.headers['content-type'] ?? '').includes('application/json')) {
      return this.send(res, 415, { errors: 'Content-Type must be application/json' });
    }
    let body: { query?: unknown; variables?: unknown; operationName?: unknown };
    try {
      body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as typeof body;
    } catch {
      return this.send(res, 400, { errors: { query: 'Required parameter missing or invalid' } });
    }
    if (typeof body.query !== 'string' || body.query.trim() === '') {
      return this.send(res, 400, { errors: { query: 'Required parameter missing or invalid' } });
    }
    const variables = body.variables ?? {};
    if (typeof variables !== 'object' || variables === null || Array.isArray(variables)) {
      return this.send(res, 400, { errors: { variables: 'must be an object' } });
    }
    const operationName = typeof body.operationName === 'string' ? body.operationName : undefined;
    const answer = await this.graphql(body.query, variables as Record<string, unknown>, operationName);
    const lost = this.loseCurrent;
    this.loseCurrent = undefined;
    if (lost === 'reset') {
      res.destroy();
      return;
    }
    if (lost === 'http503') return this.send(res, 503, { errors: 'Service Unavailable' });
    return this.send(res, 200, answer);
  }

  private send(res: http.ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, {
      Date: new Date(this.now() + this.clockSkewMs).toUTCString(),
      'Content-Type': 'application/json; charset=utf-8',
      'X-Request-Id': `fake-${this.stats.requests}`,
    });
    res.end(JSON.stringify(body));
  }

  // ---- GraphQL pipeline -----------------------------------------------------------------------

  private reject(errors: unknown[], extensions?: unknown): Source {
    this.stats.rejected++;
    return extensions ? { errors, extensions } : { errors };
  }

  private refill(): void {
    const now = this.now();
    const b = this.bucket;
    b.available = Math.min(b.maximumAvailable, b.available + ((now - b.at) / 1000) * b.restoreRate);
    b.at = now;
  }

  private costExtension(requested: number, actual: number | null): Source {
    const status = this.throttleStatus();
    return { cost: { requestedQueryCost: requested, actualQueryCost: actual, throttleStatus: status } };
  }

  /** One request, end to end; the answer Shopify would give (always an HTTP 200 here). */
  async graphql(query: string, variables: Record<string, unknown>, operationName?: string): Promise<Source> {
    const admin = this.admin ?? (await loadAdminSchema(this.opts.schemaPath));
    this.admin = admin;
    const { schema } = admin;

    let doc: DocumentNode;
    try {
      doc = parse(query);
    } catch (e) {
      const err = e as GraphQLError;
      return this.reject([
        { message: err.message, locations: err.locations, extensions: { code: 'PARSE_ERROR' } },
      ]);
    }
    const invalid = validate(schema, doc);
    if (invalid.length > 0) {
      return this.reject(
        invalid.map((e) => ({
          message: e.message,
          locations: e.locations,
          extensions: { code: 'GRAPHQL_VALIDATION_FAILED' },
        })),
      );
    }
    const operation = getOperationAST(doc, operationName);
    if (!operation) {
      return this.reject([{ message: 'An operation name is required', extensions: { code: 'BAD_REQUEST' } }]);
    }
    if (operation.operation === 'subscription') {
      return this.reject([
        { message: 'Subscriptions are not supported', extensions: { code: 'BAD_REQUEST' } },
      ]);
    }
    const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], variables);
    if (coerced.errors) {
      return this.reject(
        coerced.errors.map((e) => ({
          message: e.message,
          locations: e.locations,
          extensions: { code: 'INVALID_VARIABLE' },
        })),
      );
    }
    const fragments: Record<string, FragmentDefinitionNode> = {};
    for (const def of doc.definitions) {
      if (def.kind === Kind.FRAGMENT_DEFINITION) fragments[def.name.value] = def;
    }
    const costInput: CostInput = { schema, operation, fragments, variables: coerced.coerced };
    const { cost, problems } = requestedCost(costInput);
    if (problems.length > 0) {
      return this.reject(
        problems.map((p) => ({ message: p.message, path: p.path, extensions: { code: p.code } })),
      );
    }
    const opName = operation.name?.value;
    const failsLeft = opName === undefined ? 0 : (this.failing.get(opName) ?? 0);
    if (opName !== undefined && failsLeft > 0) {
      this.failing.set(opName, failsLeft - 1);
      // handle() sends the 503 in place of this answer.
      this.loseCurrent = 'http503';
      return {};
    }
    if (cost > MAX_QUERY_COST || (opName !== undefined && this.refused.has(opName))) {
      return this.reject([
        {
          message: `Query cost is ${cost}, which exceeds the single query max cost limit (${MAX_QUERY_COST}).`,
          extensions: { code: 'MAX_COST_EXCEEDED', cost, maxCost: MAX_QUERY_COST },
        },
      ]);
    }
    const missingKey = this.missingIdempotency(admin, operation, coerced.coerced);
    if (missingKey) {
      return this.reject([
        {
          message: `The @idempotent directive is required for ${missingKey} (API version 2026-04 and later).`,
          extensions: { code: 'BAD_REQUEST' },
        },
      ]);
    }

    this.refill();
    if (this.bucket.available < cost) {
      this.stats.throttled++;
      return {
        errors: [
          {
            message: 'Throttled',
            extensions: { code: 'THROTTLED', documentation: 'https://shopify.dev/api/usage/rate-limits' },
          },
        ],
        extensions: this.costExtension(cost, null),
      };
    }
    this.bucket.available -= cost;

    const isMutation = operation.operation === 'mutation';
    const rootFields = operation.selectionSet.selections.flatMap((s) =>
      s.kind === Kind.FIELD ? [s.name.value] : [],
    );
    const counter = isMutation ? this.stats.mutations : this.stats.queryFields;
    for (const name of rootFields) counter[name] = (counter[name] ?? 0) + 1;
    if (!isMutation) this.stats.queries++;
    else {
      const due = this.deferred.filter((d) => rootFields.includes(d.mutation));
      this.deferred = this.deferred.filter((d) => !due.includes(d));
      for (const d of due) d.run();
    }

    const appliedBefore = { ...this.stats.applied };
    const result = await execute({
      schema,
      document: doc,
      operationName,
      variableValues: variables,
      rootValue: isMutation ? this.mutationRoot(admin, operation, coerced.coerced) : this.queryRoot(),
      fieldResolver,
    });
    const data = (result.data ?? null) as Record<string, unknown> | null;
    const fault = this.lostAnswers.find(
      (f) => (this.stats.applied[f.mutation] ?? 0) > (appliedBefore[f.mutation] ?? 0),
    );
    if (fault) {
      this.lostAnswers = this.lostAnswers.filter((f) => f !== fault);
      this.loseCurrent = fault.how;
    }
    const actual = Math.min(cost, actualCost(costInput, data));
    this.stats.operations.push({
      name: operation.name?.value ?? null,
      requestedCost: cost,
      actualCost: actual,
    });
    // Shopify charges the requested cost up front and refunds the difference afterwards.
    this.bucket.available = Math.min(this.bucket.maximumAvailable, this.bucket.available + (cost - actual));
    return {
      ...(result.errors && {
        errors: result.errors.map((e) => ({
          message: e.message,
          locations: e.locations,
          path: e.path,
          extensions: { code: 'INTERNAL_SERVER_ERROR', ...e.extensions },
        })),
      }),
      data,
      extensions: this.costExtension(cost, actual),
    };
  }

  private missingIdempotency(
    admin: AdminSchema,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown>,
  ): string | undefined {
    if (operation.operation !== 'mutation') return undefined;
    const directive = admin.schema.getDirective('idempotent');
    for (const sel of operation.selectionSet.selections) {
      if (sel.kind !== Kind.FIELD || !admin.idempotentRequired.has(sel.name.value)) continue;
      const key = directive ? getDirectiveValues(directive, sel, variables)?.key : undefined;
      if (typeof key !== 'string' || key.trim() === '') return sel.name.value;
    }
    return undefined;
  }

  // ---- views (plain objects the resolver walks) -----------------------------------------------

  private locationView(loc: Location): Source {
    return {
      __typename: 'Location',
      id: loc.id,
      legacyResourceId: String(gidNumber(loc.id)),
      name: loc.name,
      isActive: loc.isActive,
      fulfillsOnlineOrders: loc.fulfillsOnlineOrders,
      shipsInventory: loc.fulfillsOnlineOrders,
      inventoryLevel: (a: Args) => {
        const item = this.items.get(String(a.inventoryItemId));
        const level = item?.levels.get(loc.id);
        return item && level ? this.levelView(item, loc.id, level) : null;
      },
    };
  }

  private levelView(item: Item, locationId: string, level: Level): Source {
    return {
      __typename: 'InventoryLevel',
      id: level.id,
      isActive: true,
      updatedAt: level.updatedAt,
      item: () => this.itemView(item),
      location: () => this.locationView(this.location(locationId)),
      quantities: (a: Args) =>
        (a.names as string[]).map((name) => {
          if (!QUANTITY_NAMES.has(name)) {
            throw new GraphQLError(`Invalid quantity name: ${name}`, { extensions: { code: 'BAD_REQUEST' } });
          }
          // Nothing is committed or reserved in the fake: on hand equals available.
          const quantity = name === 'available' || name === 'on_hand' ? level.available : 0;
          return {
            __typename: 'InventoryQuantity',
            id: `gid://shopify/InventoryQuantity/${gidNumber(level.id)}?name=${name}`,
            name,
            quantity,
            updatedAt: level.updatedAt,
          };
        }),
    };
  }

  private itemView(item: Item): Source {
    const variant = this.variants.get(item.variantId) as Variant;
    return {
      __typename: 'InventoryItem',
      id: item.id,
      legacyResourceId: String(gidNumber(item.id)),
      sku: variant.sku,
      tracked: item.tracked,
      // Other variants whose SKU is the same (compared without case or surrounding spaces).
      duplicateSkuCount: () => {
        const mine = variant.sku?.trim().toLowerCase();
        if (!mine) return 0;
        return [...this.variants.values()].filter(
          (v) => v.id !== variant.id && v.sku?.trim().toLowerCase() === mine,
        ).length;
      },
      inventoryLevel: (a: Args) => {
        const locationId = String(a.locationId);
        const level = item.levels.get(locationId);
        return level && this.locations.has(locationId) ? this.levelView(item, locationId, level) : null;
      },
      variant: () => this.variantView(variant),
    };
  }

  private productView(p: Product): Source {
    return {
      __typename: 'Product',
      id: p.id,
      legacyResourceId: String(gidNumber(p.id)),
      title: p.title,
      status: 'ACTIVE',
      variants: (a: Args) =>
        connection(
          p.variantIds.map((id) => this.variants.get(id) as Variant),
          a,
          (v) => v.num,
          (v) => this.variantView(v),
        ),
    };
  }

  private variantView(v: Variant): Source {
    const item = this.items.get(v.itemId) as Item;
    return {
      __typename: 'ProductVariant',
      id: v.id,
      legacyResourceId: String(v.num),
      title: v.title,
      displayName: v.title,
      sku: v.sku,
      price: v.price,
      inventoryPolicy: v.inventoryPolicy,
      inventoryQuantity: [...item.levels.values()].reduce((s, l) => s + l.available, 0),
      product: () => this.productView(this.products.get(v.productId) as Product),
      inventoryItem: () => this.itemView(item),
    };
  }

  private nodeView(id: string): Source | null {
    const type = /^gid:\/\/shopify\/([A-Za-z]+)\/\d+/.exec(id)?.[1];
    if (!type)
      throw new GraphQLError(`Invalid global id '${id}'`, {
        extensions: { code: 'argumentLiteralsIncompatible' },
      });
    switch (type) {
      case 'ProductVariant': {
        const v = this.variants.get(id);
        return v ? this.variantView(v) : null;
      }
      case 'InventoryItem': {
        const item = this.items.get(id);
        return item ? this.itemView(item) : null;
      }
      case 'Product': {
        const p = this.products.get(id);
        return p ? this.productView(p) : null;
      }
      case 'Location': {
        const loc = this.locations.get(id);
        return loc ? this.locationView(loc) : null;
      }
      default:
        return this.book.nodeView(id, type) ?? null;
    }
  }

  // ---- queries --------------------------------------------------------------------------------

  private queryRoot(): Source {
    return {
      ...this.book.queryFields(),
      location: (a: Args) => {
        const loc =
          a.id == null ? this.locations.get(this.primaryLocationId) : this.locations.get(String(a.id));
        return loc ? this.locationView(loc) : null;
      },
      locations: (a: Args) => {
        if (typeof a.query === 'string' && a.query.trim() !== '') {
          throw new GraphQLError('FakeShopify does not implement locations(query:)', {
            extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
          });
        }
        const all = [...this.locations.values()].filter((l) => l.isActive || a.includeInactive === true);
        return connection(
          all,
          a,
          (l) => gidNumber(l.id),
          (l) => this.locationView(l),
        );
      },
      node: (a: Args) => this.nodeView(String(a.id)),
      nodes: (a: Args) => (a.ids as string[]).map((id) => this.nodeView(id)),
      productVariants: (a: Args) => {
        if (a.savedSearchId != null || (a.sortKey !== undefined && a.sortKey !== 'ID')) {
          throw new GraphQLError(
            'FakeShopify implements productVariants sorted by ID, without saved searches',
            {
              extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
            },
          );
        }
        const groups = typeof a.query === 'string' && a.query.trim() !== '' ? parseSearch(a.query) : null;
        const all = [...this.variants.values()].filter(
          (v) => !groups || groups.some((terms) => terms.every((t) => this.matches(v, t))),
        );
        return connection(
          all,
          a,
          (v) => v.num,
          (v) => this.variantView(v),
        );
      },
    };
  }

  private matches(v: Variant, term: SearchTerm): boolean {
    switch (term.field) {
      case 'sku':
        return fuzzySkuMatch(v.sku, term.value);
      case 'product_id':
        return gidNumber(v.productId) === Number(term.value);
      case null:
        return fuzzySkuMatch(v.sku, term.value) || tokens(v.title).includes(term.value.toLowerCase());
      default:
        throw new GraphQLError(`FakeShopify does not implement the search filter "${term.field}:"`, {
          extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
        });
    }
  }

  // ---- mutations ------------------------------------------------------------------------------

  private mutationRoot(
    admin: AdminSchema,
    operation: OperationDefinitionNode,
    variables: Record<string, unknown>,
  ): Source {
    const directive = admin.schema.getDirective('idempotent');
    const keyOf = (name: string): string | undefined => {
      for (const sel of operation.selectionSet.selections) {
        if (sel.kind === Kind.FIELD && sel.name.value === name && directive) {
          const key = getDirectiveValues(directive, sel, variables)?.key;
          if (typeof key === 'string') return key;
        }
      }
      return undefined;
    };
    /**
     * Same key and arguments: the first answer again. Same key, other arguments: refused. A key
     * whose first use failed is refused too (Shopify: "retry with a new idempotency key").
     */
    const idempotent =
      (
        name: string,
        run: (a: Args) => { payload: Source; failed: boolean },
        refuse: (
          code: 'IDEMPOTENCY_KEY_PARAMETER_MISMATCH' | 'IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED',
        ) => Source,
      ) =>
      (a: Args): Source => {
        const key = keyOf(name);
        const fingerprint = stableJson([name, a]);
        if (key !== undefined) {
          const stored = this.idempotency.get(key);
          if (stored && stored.fingerprint !== fingerprint)
            return refuse('IDEMPOTENCY_KEY_PARAMETER_MISMATCH');
          if (stored?.failed) return refuse('IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED');
          if (stored) return stored.payload as Source;
        }
        const { payload, failed } = run(a);
        if (!failed) this.stats.applied[name] = (this.stats.applied[name] ?? 0) + 1;
        if (key !== undefined) this.idempotency.set(key, { fingerprint, payload, failed });
        return payload;
      };
    return {
      inventorySetQuantities: idempotent(
        'inventorySetQuantities',
        (a) => this.inventorySetQuantities(a.input as Args),
        (code) => this.setFailed([{ field: ['input'], message: IDEMPOTENCY_MESSAGES[code], code }]).payload,
      ),
      inventoryActivate: idempotent(
        'inventoryActivate',
        (a) => this.inventoryActivate(a),
        (code) => ({
          inventoryLevel: null,
          userErrors: [{ __typename: 'UserError', field: null, message: IDEMPOTENCY_MESSAGES[code] }],
        }),
      ),
      ...Object.fromEntries(
        Object.entries(this.book.mutationFields()).map(([name, run]) => [
          name,
          (a: Args) => {
            const { payload, failed } = run(a);
            if (!failed) this.stats.applied[name] = (this.stats.applied[name] ?? 0) + 1;
            return payload;
          },
        ]),
      ),
      productVariantsBulkUpdate: (a: Args) => {
        const { payload, failed } = this.productVariantsBulkUpdate(a);
        if (!failed)
          this.stats.applied.productVariantsBulkUpdate =
            (this.stats.applied.productVariantsBulkUpdate ?? 0) + 1;
        return payload;
      },
    };
  }

  private inventorySetQuantities(input: Args): { payload: Source; failed: boolean } {
    const errors: Source[] = [];
    const name = String(input.name);
    if (name !== 'available' && name !== 'on_hand') {
      errors.push({
        field: ['input', 'name'],
        message: "The quantity name must be either 'available' or 'on_hand'.",
        code: 'INVALID_NAME',
      });
    } else if (name === 'on_hand') {
      throw new GraphQLError('FakeShopify does not implement inventorySetQuantities(name: "on_hand")', {
        extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
      });
    }
    if (!SET_REASONS.has(String(input.reason))) {
      errors.push({
        field: ['input', 'reason'],
        message: 'The specified reason is invalid.',
        code: 'INVALID_REASON',
      });
    }
    const uri = input.referenceDocumentUri;
    if (uri != null && !/^[a-z][a-z0-9+.-]*:\/?\/?\S+$/i.test(String(uri))) {
      errors.push({
        field: ['input', 'referenceDocumentUri'],
        message: 'The specified reference document is invalid.',
        code: 'INVALID_REFERENCE_DOCUMENT',
      });
    }
    const quantities = input.quantities as Args[];
    const seen = new Set<string>();
    const plan: { level: Level; item: Item; locationId: string; quantity: number }[] = [];
    quantities.forEach((q, i) => {
      const field = (f: string) => ['input', 'quantities', String(i), f];
      const item = this.items.get(String(q.inventoryItemId));
      const locationId = String(q.locationId);
      const loc = this.locations.get(locationId);
      const quantity = q.quantity as number;
      const pair = `${q.inventoryItemId}|${locationId}`;
      if (!item) {
        errors.push({
          field: field('inventoryItemId'),
          message: 'The specified inventory item could not be found.',
          code: 'INVALID_INVENTORY_ITEM',
        });
        return;
      }
      if (!loc?.isActive) {
        errors.push({
          field: field('locationId'),
          message: 'The specified location could not be found.',
          code: 'INVALID_LOCATION',
        });
        return;
      }
      if (seen.has(pair)) {
        errors.push({
          field: field('inventoryItemId'),
          message: 'The combination of inventoryItemId and locationId must be unique.',
          code: 'NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR',
        });
        return;
      }
      seen.add(pair);
      const level = item.levels.get(locationId);
      if (!level) {
        errors.push({
          field: field('locationId'),
          message: 'The inventory item is not stocked at the location. Activate it there first.',
          code: 'INVALID_LOCATION',
        });
        return;
      }
      if (quantity < 0) {
        errors.push({
          field: field('quantity'),
          message: "The quantity can't be negative.",
          code: 'INVALID_QUANTITY_NEGATIVE',
        });
        return;
      }
      if (quantity > 1_000_000_000) {
        errors.push({
          field: field('quantity'),
          message: "The total quantity can't be higher than 1,000,000,000.",
          code: 'INVALID_QUANTITY_TOO_HIGH',
        });
        return;
      }
      // 2026-04+: changeFromQuantity must be given (explicit null opts out of the check).
      if (!('changeFromQuantity' in q)) {
        errors.push({
          field: field('changeFromQuantity'),
          message: 'changeFromQuantity is required; pass null explicitly to skip the compare-and-set check.',
          code: 'COMPARE_QUANTITY_REQUIRED',
        });
        return;
      }
      if (q.changeFromQuantity !== null && q.changeFromQuantity !== level.available) {
        errors.push({
          field: field('changeFromQuantity'),
          message: 'The changeFromQuantity value does not match persisted value.',
          code: 'CHANGE_FROM_QUANTITY_STALE',
        });
        return;
      }
      plan.push({ level, item, locationId, quantity });
    });
    // All or nothing: one refused quantity leaves every other one untouched.
    if (errors.length > 0) return this.setFailed(errors);

    const changes: Change[] = [];
    const at = new Date(this.now()).toISOString();
    for (const p of plan) {
      const delta = p.quantity - p.level.available;
      p.level.available = p.quantity;
      p.level.updatedAt = at;
      if (delta === 0) continue;
      // Setting `available` moves `on_hand` with it; Shopify reports both.
      for (const n of ['available', 'on_hand']) {
        changes.push({
          name: n,
          delta,
          quantityAfterChange: p.quantity,
          itemId: p.item.id,
          locationId: p.locationId,
        });
      }
    }
    const groupId = `gid://shopify/InventoryAdjustmentGroup/${++this.adjustmentGroups}`;
    return {
      failed: false,
      payload: {
        inventoryAdjustmentGroup: {
          __typename: 'InventoryAdjustmentGroup',
          id: groupId,
          createdAt: at,
          reason: String(input.reason),
          referenceDocumentUri: uri ?? null,
          app: null,
          staffMember: null,
          changes: (a: Args) =>
            changes
              .filter(
                (c) =>
                  (!Array.isArray(a.inventoryItemIds) || a.inventoryItemIds.includes(c.itemId)) &&
                  (!Array.isArray(a.locationIds) || a.locationIds.includes(c.locationId)) &&
                  (!Array.isArray(a.quantityNames) || a.quantityNames.includes(c.name)),
              )
              .map((c) => ({
                __typename: 'InventoryChange',
                name: c.name,
                delta: c.delta,
                quantityAfterChange: c.quantityAfterChange,
                ledgerDocumentUri: null,
                item: this.itemView(this.items.get(c.itemId) as Item),
                location: this.locationView(this.location(c.locationId)),
              })),
        },
        userErrors: [],
      },
    };
  }

  private setFailed(userErrors: Source[]): { payload: Source; failed: boolean } {
    return {
      failed: true,
      payload: {
        inventoryAdjustmentGroup: null,
        userErrors: userErrors.map((e) => ({ __typename: 'InventorySetQuantitiesUserError', ...e })),
      },
    };
  }

  private inventoryActivate(a: Args): { payload: Source; failed: boolean } {
    const fail = (field: string, message: string) => ({
      failed: true,
      payload: { inventoryLevel: null, userErrors: [{ __typename: 'UserError', field: [field], message }] },
    });
    const item = this.items.get(String(a.inventoryItemId));
    if (!item) return fail('inventoryItemId', 'Inventory item does not exist');
    const locationId = String(a.locationId);
    const loc = this.locations.get(locationId);
    if (!loc?.isActive) return fail('locationId', 'Location does not exist or is not active');
    const available = (a.available as number | null | undefined) ?? (a.onHand as number | null | undefined);
    if (available != null && available < 0) return fail('available', "Available quantity can't be negative");
    let level = item.levels.get(locationId);
    // Already stocked there: the level is returned unchanged (quantities are not touched).
    if (!level) {
      level = this.newLevel(item.id, available ?? 0);
      item.levels.set(locationId, level);
    }
    return {
      failed: false,
      payload: { inventoryLevel: this.levelView(item, locationId, level), userErrors: [] },
    };
  }

  private productVariantsBulkUpdate(a: Args): { payload: Source; failed: boolean } {
    const product = this.products.get(String(a.productId));
    const fail = (errors: Source[]) => ({
      failed: true,
      payload: {
        product: product ? this.productView(product) : null,
        productVariants: null,
        userErrors: errors.map((e) => ({ __typename: 'ProductVariantsBulkUpdateUserError', ...e })),
      },
    });
    if (!product)
      return fail([
        { field: ['productId'], message: 'Product does not exist', code: 'PRODUCT_DOES_NOT_EXIST' },
      ]);
    if (Array.isArray(a.media) && a.media.length > 0) {
      throw new GraphQLError('FakeShopify does not implement productVariantsBulkUpdate(media:)', {
        extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
      });
    }
    const inputs = a.variants as Args[];
    const errors: Source[] = [];
    const updates: { v: Variant; input: Args }[] = [];
    inputs.forEach((input, i) => {
      const field = (f: string) => ['variants', String(i), f];
      for (const k of Object.keys(input)) {
        if (!['id', 'price', 'inventoryPolicy', 'inventoryItem', 'inventoryQuantities'].includes(k)) {
          throw new GraphQLError(`FakeShopify does not implement ProductVariantsBulkInput.${k}`, {
            extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
          });
        }
      }
      if (input.id == null) {
        errors.push({
          field: field('id'),
          message: 'Product variant is missing ID attribute',
          code: 'PRODUCT_VARIANT_ID_MISSING',
        });
        return;
      }
      const v = this.variants.get(String(input.id));
      if (!v || v.productId !== product.id) {
        errors.push({
          field: field('id'),
          message: 'Product variant does not exist',
          code: 'PRODUCT_VARIANT_DOES_NOT_EXIST',
        });
        return;
      }
      if (input.inventoryQuantities != null) {
        errors.push({
          field: field('inventoryQuantities'),
          message:
            'Inventory quantities can only be provided during create. To update inventory for existing variants, use inventoryAdjustQuantities.',
          code: 'NO_INVENTORY_QUANTITIES_ON_VARIANTS_UPDATE',
        });
        return;
      }
      if (input.price != null && !/^\d{1,13}(\.\d{1,2})?$/.test(String(input.price))) {
        errors.push({
          field: field('price'),
          message: 'Price must be a number greater than or equal to 0',
          code: 'INVALID',
        });
        return;
      }
      updates.push({ v, input });
    });
    if (errors.length > 0 && a.allowPartialUpdates !== true) return fail(errors);
    for (const { v, input } of updates) {
      if (input.inventoryPolicy != null) v.inventoryPolicy = input.inventoryPolicy as InventoryPolicy;
      if (input.price != null) v.price = Number(input.price).toFixed(2);
      const itemInput = input.inventoryItem as Args | null | undefined;
      if (itemInput) {
        for (const k of Object.keys(itemInput)) {
          if (k !== 'tracked' && k !== 'sku') {
            throw new GraphQLError(`FakeShopify does not implement InventoryItemInput.${k}`, {
              extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
            });
          }
        }
        const item = this.items.get(v.itemId) as Item;
        if (typeof itemInput.tracked === 'boolean') item.tracked = itemInput.tracked;
        if (itemInput.sku !== undefined) v.sku = (itemInput.sku as string | null) ?? null;
      }
    }
    return {
      failed: errors.length > 0 && updates.length === 0,
      payload: {
        product: this.productView(product),
        productVariants: updates.map((u) => this.variantView(u.v)),
        userErrors: errors.map((e) => ({ __typename: 'ProductVariantsBulkUpdateUserError', ...e })),
      },
    };
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { centsToUsd } from '../../src/money.js';
import { SIGNATURE_HEADER, signWebhookBody } from '../../src/supplier/webhook-signature.js';
import { generateSandboxCatalog, type SandboxEntry } from './sandbox-catalog.js';
import { type FieldError, validateClaimRequest, validateOrderRequest } from './sandbox-requests.js';
import { SeededRandom } from './seeded-random.js';

/**
 * The sandbox PSN:B2B supplier: a real HTTP server on loopback that speaks the whole wire
 * contract as strictly as the live API would — bearer auth, validation, 402/404/409/422, two
 * rate-limit buckets with `Retry-After`, the order state machine with delays and failures,
 * unique codes, the 168-hour claim window on an injectable clock, `Idempotency-Key`, signed
 * status webhooks and a `Date` header. Tests and the `sandbox:` mode share this one copy.
 *
 * Fault knobs (`injectFault`, `latencyMs`) make each failure path reproducible, and the
 * ledger (`ledger()`) shows what the supplier did, so tests assert outcomes, not calls.
 */

export type SandboxEndpoint =
  | 'GET /inventory'
  | 'GET /balance'
  | 'POST /orders'
  | 'GET /orders/{id}'
  | 'GET /orders/{id}/codes'
  | 'POST /claims';

export const SANDBOX_ENDPOINTS: readonly SandboxEndpoint[] = [
  'GET /inventory',
  'GET /balance',
  'POST /orders',
  'GET /orders/{id}',
  'GET /orders/{id}/codes',
  'POST /claims',
];

export type SandboxBucket = 'general' | 'bulk';
type OrderStatus = 'pending' | 'paid' | 'delivered' | 'failed';

/**
 * - `rateLimit`: answer 429 with `Retry-After` (`retryAfterSeconds`, default 1), before anything else.
 * - `error500`: answer 500 before processing (nothing committed).
 * - `reset`: destroy the socket before processing (nothing committed).
 * - `commitThenReset`: process (an order is created), then destroy the socket unanswered.
 * - `garbage`: process, then answer 200 with an HTML body.
 * - `violation`: process, then answer with a body that breaks the contract in one field.
 * - `slow`: process, then wait `delayMs` before answering.
 * - `badShortage`: answer `POST /orders` 409 whose `items` do not fit the contract (nothing committed).
 */
export type FaultKind =
  | 'rateLimit'
  | 'error500'
  | 'reset'
  | 'commitThenReset'
  | 'garbage'
  | 'violation'
  | 'slow'
  | 'badShortage';

export interface FaultOptions {
  /** How many matching requests it applies to (default 1). */
  count?: number;
  /** Only requests to this endpoint (default: any; `commitThenReset` and `badShortage`: `POST /orders`). */
  endpoint?: SandboxEndpoint;
  retryAfterSeconds?: number;
  delayMs?: number;
}

interface Fault {
  kind: FaultKind;
  remaining: number;
  endpoint: SandboxEndpoint | undefined;
  retryAfterSeconds: number;
  delayMs: number;
}

export interface SandboxSupplierOptions {
  apiKey: string;
  host?: string;
  /** 0 (default) = any free port. */
  port?: number;
  /** Seeds the catalogue, drift, order ids, codes and failures. Default 1. */
  seed?: number;
  /** Size of the generated catalogue (ignored when `catalog` is given). Default 24. */
  entries?: number;
  catalog?: readonly SandboxEntry[];
  startingBalanceCents?: number;
  /** Requests per window: `general` (default 60) and `bulk` = `POST /orders` (default 10). */
  limits?: Partial<Record<SandboxBucket, number>>;
  /** Rolling rate-limit window. Default 60 000 ms; tests use a short one. */
  windowMs?: number;
  /** Time from creation to `paid`. Default 300 ms. */
  paidAfterMs?: number;
  /** Time from `paid` to `delivered`. Default 700 ms. */
  deliveredAfterMs?: number;
  /** Share of orders that fail (half while pending, half once paid). Default 0. */
  failureRate?: number;
  /** How often orders are advanced in the background; 0 = only on requests and `tick()`. Default 50. */
  tickMs?: number;
  webhookUrl?: string;
  webhookSecret?: string;
  maxItemsPerOrder?: number;
  maxQtyPerItem?: number;
  /** Claims are accepted for this long after delivery. Default 168 h. */
  claimWindowMs?: number;
  now?: () => number;
}

export interface SandboxCode {
  region: string;
  denomination: number;
  code: string;
  serial: string;
}

export interface SandboxOrderLine {
  region: string;
  denomination: number;
  qty: number;
  unitPriceCents: number;
}

export interface SandboxOrder {
  id: string;
  reference: string | null;
  status: OrderStatus;
  items: SandboxOrderLine[];
  totalCents: number;
  createdAt: number;
  updatedAt: number;
  deliveredAt: number | null;
  failure: { code: string; detail: string } | null;
  codes: SandboxCode[];
  history: { status: OrderStatus; at: number }[];
}

export interface SandboxClaim {
  id: string;
  orderId: string;
  code: string;
  errorCode: string;
  description: string | null;
  createdAt: number;
}

export interface SandboxWebhookRecord {
  orderId: string;
  status: OrderStatus;
  previousStatus: OrderStatus;
  /** The receiver's HTTP status, or null when the POST failed. */
  httpStatus: number | null;
  error: string | null;
}

export interface SandboxLedger {
  balanceCents: number;
  /** Totals of pending orders, held against the balance until they are paid or fail. */
  reservedCents: number;
  orders: SandboxOrder[];
  claims: SandboxClaim[];
  /** Every routed request, by endpoint, whatever its answer. */
  requests: Record<SandboxEndpoint, number>;
  /** Requests admitted into each rate-limit window (i.e. not answered 429 or 401). */
  bucketRequests: Record<SandboxBucket, number>;
  /** 429s answered (window exceeded or forced). */
  rateLimited: number;
  /** 429s answered because a window was really exceeded (not forced). */
  rateLimitExceeded: number;
  unauthorized: number;
  idempotentReplays: number;
  postsWithoutIdempotencyKey: number;
  faultsServed: Record<FaultKind, number>;
  webhooks: SandboxWebhookRecord[];
  internalErrors: number;
}

export interface DriftSummary {
  qtyChanged: number;
  priceChanged: number;
  listed: string[];
  delisted: string[];
}

interface Reply {
  status: number;
  body: unknown;
  headers?: Record<string, string>;
  problem?: boolean;
}

interface StoredReply {
  fingerprint: string;
  reply: Reply;
}

const BASE_PATH = '/api/v1';
const PROBLEM_BASE = 'https://psnb2b.com/problems/';
const MAX_BODY_BYTES = 1024 * 1024;
/** No 0/O, 1/I: codes are typed in by hand. */
const CODE_ALPHABET = [...'ABCDEFGHJKLMNPQRSTUVWXYZ23456789'];
const HOUR_MS = 3_600_000;

function problem(
  status: number,
  slug: string,
  title: string,
  detail: string,
  extra: Record<string, unknown> = {},
): Reply {
  return { status, problem: true, body: { type: PROBLEM_BASE + slug, title, status, detail, ...extra } };
}

function iso(ms: number): string {
  return new Date(ms).toISOString();
}

function sha256(text: string): Buffer {
  return createHash('sha256').update(text).digest();
}

/** Key order does not change a body's identity; whitespace does not either. */
function canonicalJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  if (v && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    return `{${Object.keys(o)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalJson(o[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v);
}

function entryKeyOf(region: string, denomination: number): string {
  return `${region}:${denomination}`;
}

export class SandboxSupplier {
  private readonly apiKeyHash: Buffer;
  private readonly host: string;
  private readonly port: number;
  private readonly rng: SeededRandom;
  private readonly limits: Record<SandboxBucket, number>;
  private readonly windowMs: number;
  private readonly paidAfterMs: number;
  private readonly deliveredAfterMs: number;
  private readonly failureRate: number;
  private readonly tickMs: number;
  private readonly maxItems: number;
  private readonly maxQty: number;
  private readonly claimWindowMs: number;
  private readonly now: () => number;
  private webhookUrl: string | undefined;
  private webhookSecret: string | undefined;

  /** Fixed artificial latency for every answer. */
  latencyMs = 0;

  private readonly entries = new Map<string, SandboxEntry>();
  /** entryKey → the qty `GET /inventory` lists whatever the order desk has (a cached feed). */
  private readonly feedQty = new Map<string, number>();
  private balanceCents: number;
  private reservedCents = 0;
  private readonly orders = new Map<string, SandboxOrder>();
  private readonly plannedFailures = new Map<string, 'pending' | 'paid'>();
  private readonly failNext: ('pending' | 'paid')[] = [];
  private readonly claims: SandboxClaim[] = [];
  private readonly issuedCodes = new Set<string>();
  private serial = 0;
  private claimSeq = 0;
  private readonly windows: Record<SandboxBucket, number[]> = { general: [], bulk: [] };
  private readonly idempotency = new Map<string, StoredReply>();
  private faults: Fault[] = [];
  private readonly counters: Omit<
    SandboxLedger,
    'balanceCents' | 'reservedCents' | 'orders' | 'claims' | 'webhooks'
  >;
  private readonly webhookLog: SandboxWebhookRecord[] = [];

  private server: http.Server | undefined;
  private readonly sockets = new Set<Socket>();
  private timer: NodeJS.Timeout | undefined;
  private readonly webhookAborts = new Set<AbortController>();
  private readonly pendingWebhooks = new Set<Promise<void>>();
  private url: string | undefined;

  constructor(opts: SandboxSupplierOptions) {
    if (!opts.apiKey) throw new RangeError('the sandbox supplier needs an apiKey');
    this.apiKeyHash = sha256(opts.apiKey);
    this.host = opts.host ?? '127.0.0.1';
    this.port = opts.port ?? 0;
    const seed = opts.seed ?? 1;
    this.rng = new SeededRandom(seed ^ 0x5eed);
    this.limits = { general: opts.limits?.general ?? 60, bulk: opts.limits?.bulk ?? 10 };
    this.windowMs = opts.windowMs ?? 60_000;
    this.paidAfterMs = opts.paidAfterMs ?? 300;
    this.deliveredAfterMs = opts.deliveredAfterMs ?? 700;
    this.failureRate = opts.failureRate ?? 0;
    this.tickMs = opts.tickMs ?? 50;
    this.maxItems = opts.maxItemsPerOrder ?? 100;
    this.maxQty = opts.maxQtyPerItem ?? 1000;
    this.claimWindowMs = opts.claimWindowMs ?? 168 * HOUR_MS;
    this.now = opts.now ?? Date.now;
    this.webhookUrl = opts.webhookUrl;
    this.webhookSecret = opts.webhookSecret;
    this.balanceCents = opts.startingBalanceCents ?? 500_000;
    const catalog = opts.catalog ?? generateSandboxCatalog({ entries: opts.entries ?? 24, seed });
    for (const e of catalog) this.entries.set(entryKeyOf(e.region, e.denomination), { ...e });
    this.counters = {
      requests: Object.fromEntries(SANDBOX_ENDPOINTS.map((e) => [e, 0])) as Record<SandboxEndpoint, number>,
      bucketRequests: { general: 0, bulk: 0 },
      rateLimited: 0,
      rateLimitExceeded: 0,
      unauthorized: 0,
      idempotentReplays: 0,
      postsWithoutIdempotencyKey: 0,
      faultsServed: {
        rateLimit: 0,
        error500: 0,
        reset: 0,
        commitThenReset: 0,
        garbage: 0,
        violation: 0,
        slow: 0,
        badShortage: 0,
      },
      internalErrors: 0,
    };
  }

  // ---------------------------------------------------------------------------------- lifecycle

  /** Listens on loopback and returns the base URL, `http://127.0.0.1:PORT/api/v1`. */
  async start(): Promise<string> {
    if (this.url) return this.url;
    const server = http.createServer((req, res) => {
      this.handle(req, res).catch(() => {
        this.counters.internalErrors++;
        if (!res.headersSent)
          this.write(res, problem(500, 'internal', 'Internal Server Error', 'sandbox error'));
        else res.destroy();
      });
    });
    server.on('connection', (s) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.port, this.host, () => resolve());
    });
    this.server = server;
    const { port } = server.address() as AddressInfo;
    this.url = `http://${this.host}:${port}${BASE_PATH}`;
    if (this.tickMs > 0) {
      this.timer = setInterval(() => this.tick(), this.tickMs);
      this.timer.unref();
    }
    return this.url;
  }

  get baseUrl(): string {
    if (!this.url) throw new Error('the sandbox supplier is not started');
    return this.url;
  }

  /** Closes the server and every open socket; aborts webhook deliveries in flight. */
  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    for (const a of this.webhookAborts) a.abort();
    await Promise.allSettled([...this.pendingWebhooks]);
    const server = this.server;
    this.server = undefined;
    this.url = undefined;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const s of this.sockets) s.destroy();
    await closed;
  }

  // ---------------------------------------------------------------------------------- knobs

  injectFault(kind: FaultKind, opts: FaultOptions = {}): void {
    const count = opts.count ?? 1;
    if (!Number.isInteger(count) || count < 1) throw new RangeError('fault count must be a positive integer');
    this.faults.push({
      kind,
      remaining: count,
      endpoint:
        opts.endpoint ?? (kind === 'commitThenReset' || kind === 'badShortage' ? 'POST /orders' : undefined),
      retryAfterSeconds: opts.retryAfterSeconds ?? 1,
      delayMs: opts.delayMs ?? 0,
    });
  }

  clearFaults(): void {
    this.faults = [];
    this.latencyMs = 0;
  }

  /** The next `count` orders created fail: while `pending` (never paid) or once `paid` (refunded). */
  failNextOrders(count: number, at: 'pending' | 'paid' = 'paid'): void {
    for (let i = 0; i < count; i++) this.failNext.push(at);
  }

  setWebhook(url: string | undefined, secret?: string): void {
    this.webhookUrl = url;
    this.webhookSecret = secret;
  }

  setBalanceCents(cents: number): void {
    if (!Number.isSafeInteger(cents) || cents < 0)
      throw new RangeError('balance must be non-negative integer cents');
    this.balanceCents = cents;
  }

  setQty(region: string, denomination: number, qty: number): void {
    if (!Number.isInteger(qty) || qty < 0) throw new RangeError('qty must be a non-negative integer');
    this.entry(region, denomination).qty = qty;
  }

  /**
   * A feed that lags its order desk: `GET /inventory` lists `qty` for this entry while
   * `POST /orders` sells from the real stock (`setQty`). `null` makes the feed live again.
   */
  setFeedQty(region: string, denomination: number, qty: number | null): void {
    this.entry(region, denomination);
    const key = entryKeyOf(region, denomination);
    if (qty === null) this.feedQty.delete(key);
    else this.feedQty.set(key, qty);
  }

  setPriceCents(region: string, denomination: number, cents: number): void {
    if (!Number.isSafeInteger(cents) || cents < 1)
      throw new RangeError('price must be positive integer cents');
    this.entry(region, denomination).priceCents = cents;
  }

  /** Lists an entry (adding it when new) or delists one. */
  setListed(
    region: string,
    denomination: number,
    listed: boolean,
    init?: Omit<SandboxEntry, 'listed'>,
  ): void {
    const key = entryKeyOf(region, denomination);
    const e = this.entries.get(key);
    if (e) e.listed = listed;
    else if (init) this.entries.set(key, { ...init, region, denomination, listed });
    else throw new RangeError(`no sandbox entry ${key}`);
  }

  /**
   * Changes some quantities and prices, and now and then delists or relists an entry, from the
   * seeded RNG: a sandbox daemon always has something to sync.
   */
  drift(): DriftSummary {
    const out: DriftSummary = { qtyChanged: 0, priceChanged: 0, listed: [], delisted: [] };
    const all = [...this.entries.values()];
    const listed = all.filter((e) => e.listed);
    for (const e of listed) {
      if (this.rng.chance(0.25)) {
        const next = this.rng.chance(0.15) ? 0 : Math.max(0, e.qty + this.rng.int(-50, 80));
        if (next !== e.qty) {
          e.qty = next;
          out.qtyChanged++;
        }
      }
      if (this.rng.chance(0.05)) {
        const pct = this.rng.int(-3, 3) || 1;
        e.priceCents = Math.max(1, e.priceCents + Math.round((e.priceCents * pct) / 100) || pct);
        out.priceChanged++;
      }
    }
    if (listed.length > 1 && this.rng.chance(0.3)) {
      const e = this.rng.pick(listed);
      e.listed = false;
      out.delisted.push(entryKeyOf(e.region, e.denomination));
    }
    const delisted = all.filter(
      (e) => !e.listed && !out.delisted.includes(entryKeyOf(e.region, e.denomination)),
    );
    if (delisted.length && this.rng.chance(0.3)) {
      const e = this.rng.pick(delisted);
      e.listed = true;
      e.qty = this.rng.int(1, 300);
      out.listed.push(entryKeyOf(e.region, e.denomination));
    }
    if (out.qtyChanged + out.priceChanged + out.listed.length + out.delisted.length === 0 && listed.length) {
      const e = this.rng.pick(listed);
      e.qty += this.rng.int(1, 20);
      out.qtyChanged++;
    }
    return out;
  }

  // ---------------------------------------------------------------------------------- ledger

  ledger(): SandboxLedger {
    return structuredClone({
      ...this.counters,
      balanceCents: this.balanceCents,
      reservedCents: this.reservedCents,
      orders: [...this.orders.values()],
      claims: this.claims,
      webhooks: this.webhookLog,
    });
  }

  /** Every code issued for one order (empty before delivery). */
  codesIssued(orderId: string): SandboxCode[] {
    return structuredClone(this.orders.get(orderId)?.codes ?? []);
  }

  catalog(): SandboxEntry[] {
    return [...this.entries.values()].map((e) => ({ ...e }));
  }

  /** Resolves once every webhook POST started so far has finished (for tests). */
  async webhooksSettled(): Promise<void> {
    while (this.pendingWebhooks.size) await Promise.allSettled([...this.pendingWebhooks]);
  }

  /** Advances every order whose next transition is due on the sandbox clock. */
  tick(): void {
    const now = this.now();
    for (const o of this.orders.values()) {
      for (;;) {
        if (o.status === 'pending' && now >= o.createdAt + this.paidAfterMs) {
          const at = o.createdAt + this.paidAfterMs;
          this.reservedCents -= o.totalCents;
          if (this.plannedFailures.get(o.id) === 'pending') {
            this.releaseStock(o);
            this.transition(o, 'failed', at, {
              code: 'PAYMENT_FAILED',
              detail: 'the order could not be paid',
            });
          } else {
            this.balanceCents -= o.totalCents;
            this.transition(o, 'paid', at);
          }
          continue;
        }
        if (o.status === 'paid' && now >= o.updatedAt + this.deliveredAfterMs) {
          const at = o.updatedAt + this.deliveredAfterMs;
          if (this.plannedFailures.get(o.id) === 'paid') {
            this.balanceCents += o.totalCents;
            this.releaseStock(o);
            this.transition(o, 'failed', at, {
              code: 'OUT_OF_STOCK',
              detail: 'the supplier could not source the codes',
            });
          } else {
            o.codes = o.items.flatMap((it) => Array.from({ length: it.qty }, () => this.newCode(it)));
            o.deliveredAt = at;
            this.transition(o, 'delivered', at);
          }
          continue;
        }
        break;
      }
    }
  }

  // ---------------------------------------------------------------------------------- HTTP

  private async handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const raw = await readBody(req);
    if (raw === null) {
      this.write(res, problem(413, 'payload-too-large', 'Payload Too Large', 'the body exceeds 1 MiB'));
      return;
    }
    this.tick();
    const route = matchRoute(req.method ?? 'GET', new URL(req.url ?? '/', 'http://sandbox.invalid').pathname);
    if (route.kind === 'not-found') {
      this.write(res, problem(404, 'not-found', 'Not Found', 'no such resource'));
      return;
    }
    if (route.kind === 'method') {
      this.write(res, {
        ...problem(405, 'method-not-allowed', 'Method Not Allowed', `use ${route.allow}`),
        headers: { Allow: route.allow },
      });
      return;
    }
    const { endpoint, id } = route;
    this.counters.requests[endpoint]++;

    if (!this.authorized(req.headers.authorization)) {
      this.counters.unauthorized++;
      this.write(res, {
        ...problem(401, 'unauthorized', 'Unauthorized', 'a valid bearer API key is required'),
        headers: { 'WWW-Authenticate': 'Bearer' },
      });
      return;
    }

    const bucket: SandboxBucket = endpoint === 'POST /orders' ? 'bulk' : 'general';
    const forced = this.takeFault('rateLimit', endpoint);
    if (forced) {
      this.write(res, this.rateLimited(bucket, forced.retryAfterSeconds));
      return;
    }
    const waitMs = this.admit(bucket);
    if (waitMs > 0) {
      this.counters.rateLimitExceeded++;
      this.write(res, this.rateLimited(bucket, Math.max(1, Math.ceil(waitMs / 1000))));
      return;
    }

    if (this.takeFault('reset', endpoint)) {
      req.socket.destroy();
      return;
    }
    if (this.takeFault('error500', endpoint)) {
      this.write(res, problem(500, 'internal', 'Internal Server Error', 'injected fault'));
      return;
    }
    if (this.takeFault('badShortage', endpoint)) {
      this.write(
        res,
        problem(409, 'insufficient-stock', 'Insufficient stock', 'some items are short', { items: 'short' }),
      );
      return;
    }

    let reply = endpoint.startsWith('POST')
      ? this.idempotent(endpoint, req, raw)
      : this.dispatch(endpoint, id, raw);

    if (this.takeFault('commitThenReset', endpoint)) {
      req.socket.destroy();
      return;
    }
    if (this.takeFault('garbage', endpoint)) {
      reply = { status: 200, body: '<html><body><h1>502 Bad Gateway</h1></body></html>' };
    } else if (reply.status < 300 && this.takeFault('violation', endpoint)) {
      reply = { ...reply, body: violate(endpoint, reply.body) };
    }
    const slow = this.takeFault('slow', endpoint);
    const delay = this.latencyMs + (slow?.delayMs ?? 0);
    if (delay > 0) await new Promise((r) => setTimeout(r, delay));
    if (res.destroyed || !this.server) return;
    this.write(res, reply);
  }

  /** Same key + same body → the first reply again; same key + another body or endpoint → 422. */
  private idempotent(endpoint: SandboxEndpoint, req: http.IncomingMessage, raw: string): Reply {
    const header = req.headers['idempotency-key'];
    const key = typeof header === 'string' ? header : undefined;
    if (key === undefined) {
      this.counters.postsWithoutIdempotencyKey++;
      return this.dispatch(endpoint, undefined, raw);
    }
    let canonical: string;
    try {
      canonical = canonicalJson(JSON.parse(raw));
    } catch {
      canonical = raw;
    }
    const fingerprint = `${endpoint}\n${sha256(canonical).toString('hex')}`;
    const stored = this.idempotency.get(key);
    if (stored) {
      if (stored.fingerprint !== fingerprint) {
        return problem(
          422,
          'idempotency-key-reused',
          'Idempotency-Key reused',
          'this Idempotency-Key was used with another request body',
        );
      }
      this.counters.idempotentReplays++;
      return { ...stored.reply, headers: { ...stored.reply.headers, 'Idempotent-Replayed': 'true' } };
    }
    const reply = this.dispatch(endpoint, undefined, raw);
    this.idempotency.set(key, { fingerprint, reply });
    return reply;
  }

  private dispatch(endpoint: SandboxEndpoint, id: string | undefined, raw: string): Reply {
    switch (endpoint) {
      case 'GET /inventory':
        return {
          status: 200,
          body: {
            updatedAt: iso(this.now()),
            items: [...this.entries.values()]
              .filter((e) => e.listed)
              .map((e) => ({
                region: e.region,
                denomination: e.denomination,
                currency: e.currency,
                price: centsToUsd(e.priceCents),
                qty: this.feedQty.get(entryKeyOf(e.region, e.denomination)) ?? e.qty,
              })),
          },
        };
      case 'GET /balance':
        return { status: 200, body: { currency: 'USD', available: centsToUsd(this.balanceCents) } };
      case 'GET /orders/{id}': {
        const o = id === undefined ? undefined : this.orders.get(id);
        if (!o) return problem(404, 'order-not-found', 'Order not found', 'no order with this id');
        return { status: 200, body: orderBody(o, true) };
      }
      case 'GET /orders/{id}/codes': {
        const o = id === undefined ? undefined : this.orders.get(id);
        if (!o) return problem(404, 'order-not-found', 'Order not found', 'no order with this id');
        if (o.status !== 'delivered') {
          return problem(409, 'order-not-delivered', 'Order not delivered', `the order is ${o.status}`, {
            orderStatus: o.status,
          });
        }
        return { status: 200, body: { orderId: o.id, codes: o.codes.map((c) => ({ ...c })) } };
      }
      case 'POST /orders':
        return this.createOrder(raw);
      case 'POST /claims':
        return this.createClaim(raw);
    }
  }

  private createOrder(raw: string): Reply {
    const body = parseJsonBody(raw);
    if (!body.ok) return invalid(400, [{ field: '(body)', detail: 'is not valid JSON' }]);
    const v = validateOrderRequest(body.value, {
      maxItems: this.maxItems,
      maxQtyPerItem: this.maxQty,
      isListed: (r, d) => this.entries.get(entryKeyOf(r, d))?.listed === true,
    });
    if (!v.ok) return invalid(v.status, v.errors);
    const lines = v.value.items.map((it) => ({ it, entry: this.entry(it.region, it.denomination) }));
    const short = lines.filter(({ it, entry }) => entry.qty < it.qty);
    if (short.length) {
      return problem(409, 'insufficient-stock', 'Insufficient stock', 'some items are short', {
        items: short.map(({ it, entry }) => ({
          region: it.region,
          denomination: it.denomination,
          requested: it.qty,
          available: entry.qty,
        })),
      });
    }
    const items: SandboxOrderLine[] = lines.map(({ it, entry }) => ({
      region: it.region,
      denomination: it.denomination,
      qty: it.qty,
      unitPriceCents: entry.priceCents,
    }));
    const totalCents = items.reduce((sum, l) => sum + l.qty * l.unitPriceCents, 0);
    const availableCents = this.balanceCents - this.reservedCents;
    if (totalCents > availableCents) {
      return problem(
        402,
        'insufficient-balance',
        'Insufficient balance',
        'the balance does not cover this order',
        {
          required: centsToUsd(totalCents),
          available: centsToUsd(Math.max(0, availableCents)),
        },
      );
    }
    for (const { it, entry } of lines) entry.qty -= it.qty;
    this.reservedCents += totalCents;
    const now = this.now();
    const order: SandboxOrder = {
      id: this.newOrderId(),
      reference: v.value.reference,
      status: 'pending',
      items,
      totalCents,
      createdAt: now,
      updatedAt: now,
      deliveredAt: null,
      failure: null,
      codes: [],
      history: [{ status: 'pending', at: now }],
    };
    this.orders.set(order.id, order);
    const planned =
      this.failNext.shift() ??
      (this.rng.chance(this.failureRate) ? this.rng.pick(['pending', 'paid'] as const) : undefined);
    if (planned) this.plannedFailures.set(order.id, planned);
    return { status: 201, body: orderBody(order, false) };
  }

  private createClaim(raw: string): Reply {
    const body = parseJsonBody(raw);
    if (!body.ok) return invalid(400, [{ field: '(body)', detail: 'is not valid JSON' }]);
    const v = validateClaimRequest(body.value);
    if (!v.ok) return invalid(v.status, v.errors);
    const { orderId, code, errorCode, description } = v.value;
    const o = this.orders.get(orderId);
    if (!o) return problem(404, 'order-not-found', 'Order not found', 'no order with this id');
    if (!o.codes.some((c) => c.code === code)) {
      return problem(404, 'code-not-found', 'Code not found', 'the code is not part of this order');
    }
    if (this.claims.some((c) => c.code === code)) {
      return problem(409, 'claim-exists', 'Claim exists', 'this code already has a claim');
    }
    const now = this.now();
    if (o.deliveredAt === null || now - o.deliveredAt > this.claimWindowMs) {
      return problem(
        422,
        'claim-window-closed',
        'Claim window closed',
        `claims are accepted for ${Math.round(this.claimWindowMs / HOUR_MS)} hours after delivery`,
        { deliveredAt: o.deliveredAt === null ? null : iso(o.deliveredAt) },
      );
    }
    const claim: SandboxClaim = {
      id: `clm_${++this.claimSeq}`,
      orderId,
      code,
      errorCode,
      description,
      createdAt: now,
    };
    this.claims.push(claim);
    return { status: 201, body: { id: claim.id, status: 'open', createdAt: iso(now) } };
  }

  // ---------------------------------------------------------------------------------- helpers

  private authorized(header: string | undefined): boolean {
    const m = /^Bearer (.+)$/.exec(header ?? '');
    if (!m?.[1]) return false;
    return timingSafeEqual(sha256(m[1]), this.apiKeyHash);
  }

  /** Rolling window: admits (→ 0) or says how long until a slot frees up. */
  private admit(bucket: SandboxBucket): number {
    const now = this.now();
    const w = this.windows[bucket].filter((t) => t > now - this.windowMs);
    this.windows[bucket] = w;
    const limit = this.limits[bucket];
    if (w.length >= limit) {
      const oldest = w[w.length - limit] ?? now;
      return Math.max(1, oldest + this.windowMs - now);
    }
    w.push(now);
    this.counters.bucketRequests[bucket]++;
    return 0;
  }

  private rateLimited(bucket: SandboxBucket, retryAfterSeconds: number): Reply {
    this.counters.rateLimited++;
    return {
      ...problem(
        429,
        'rate-limited',
        'Too Many Requests',
        `over ${this.limits[bucket]} requests per ${this.windowMs / 1000} s in the ${bucket} bucket`,
      ),
      headers: { 'Retry-After': String(retryAfterSeconds) },
    };
  }

  private takeFault(kind: FaultKind, endpoint: SandboxEndpoint): Fault | undefined {
    const f = this.faults.find(
      (x) => x.kind === kind && (x.endpoint === undefined || x.endpoint === endpoint),
    );
    if (!f) return undefined;
    f.remaining--;
    if (f.remaining <= 0) this.faults = this.faults.filter((x) => x !== f);
    this.counters.faultsServed[kind]++;
    return f;
  }

  private write(res: http.ServerResponse, reply: Reply): void {
    const isText = typeof reply.body === 'string';
    const text = isText ? (reply.body as string) : JSON.stringify(reply.body);
    res.writeHead(reply.status, {
      'Content-Type': isText
        ? 'text/html; charset=utf-8'
        : reply.problem
          ? 'application/problem+json'
          : 'application/json; charset=utf-8',
      'Content-Length': Buffer.byteLength(text),
      Date: new Date(this.now()).toUTCString(),
      ...reply.headers,
    });
    res.end(text);
  }

  private entry(region: string, denomination: number): SandboxEntry {
    const e = this.entries.get(entryKeyOf(region, denomination));
    if (!e) throw new RangeError(`no sandbox entry ${entryKeyOf(region, denomination)}`);
    return e;
  }

  private releaseStock(o: SandboxOrder): void {
    for (const it of o.items) {
      const e = this.entries.get(entryKeyOf(it.region, it.denomination));
      if (e) e.qty += it.qty;
    }
  }

  private transition(
    o: SandboxOrder,
    status: OrderStatus,
    at: number,
    failure?: SandboxOrder['failure'],
  ): void {
    const previousStatus = o.status;
    o.status = status;
    o.updatedAt = at;
    if (failure) o.failure = failure;
    o.history.push({ status, at });
    this.sendWebhook(o.id, status, previousStatus, at);
  }

  private sendWebhook(orderId: string, status: OrderStatus, previousStatus: OrderStatus, at: number): void {
    const url = this.webhookUrl;
    if (!url) return;
    const body = JSON.stringify({
      event: 'order.status_changed',
      orderId,
      status,
      previousStatus,
      occurredAt: iso(at),
    });
    const headers: Record<string, string> = { 'Content-Type': 'application/json' };
    if (this.webhookSecret) headers[SIGNATURE_HEADER] = signWebhookBody(body, this.webhookSecret);
    const abort = new AbortController();
    const timeout = setTimeout(() => abort.abort(), 5000);
    this.webhookAborts.add(abort);
    const record: SandboxWebhookRecord = { orderId, status, previousStatus, httpStatus: null, error: null };
    this.webhookLog.push(record);
    const p = fetch(url, { method: 'POST', headers, body, signal: abort.signal })
      .then(async (r) => {
        record.httpStatus = r.status;
        await r.arrayBuffer().catch(() => undefined);
      })
      .catch((e: unknown) => {
        record.error = e instanceof Error ? e.name : 'error';
      })
      .finally(() => {
        clearTimeout(timeout);
        this.webhookAborts.delete(abort);
        this.pendingWebhooks.delete(p);
      });
    this.pendingWebhooks.add(p);
  }

  private newOrderId(): string {
    for (;;) {
      const id = `ord_${this.rng.int(0, 0xffffff).toString(16).padStart(6, '0')}`;
      if (!this.orders.has(id)) return id;
    }
  }

  private newCode(line: SandboxOrderLine): SandboxCode {
    for (;;) {
      const group = () => Array.from({ length: 4 }, () => this.rng.pick(CODE_ALPHABET)).join('');
      const code = `${group()}-${group()}-${group()}`;
      if (this.issuedCodes.has(code)) continue;
      this.issuedCodes.add(code);
      return {
        region: line.region,
        denomination: line.denomination,
        code,
        serial: `S-${String(++this.serial).padStart(6, '0')}`,
      };
    }
  }
}

// ------------------------------------------------------------------------------------ free helpers

type Route =
  | { kind: 'ok'; endpoint: SandboxEndpoint; id?: string }
  | { kind: 'method'; allow: string }
  | { kind: 'not-found' };

function matchRoute(method: string, pathname: string): Route {
  if (!pathname.startsWith(`${BASE_PATH}/`)) return { kind: 'not-found' };
  const parts = pathname.slice(BASE_PATH.length + 1).split('/');
  const only = (allowed: 'GET' | 'POST', endpoint: SandboxEndpoint, id?: string): Route =>
    method === allowed
      ? { kind: 'ok', endpoint, ...(id !== undefined && { id }) }
      : { kind: 'method', allow: allowed };
  let id: string | undefined;
  if (parts[0] === 'orders' && parts[1] !== undefined && parts[1] !== '') {
    try {
      id = decodeURIComponent(parts[1]);
    } catch {
      return { kind: 'not-found' };
    }
  }
  if (parts.length === 1 && parts[0] === 'inventory') return only('GET', 'GET /inventory');
  if (parts.length === 1 && parts[0] === 'balance') return only('GET', 'GET /balance');
  if (parts.length === 1 && parts[0] === 'orders') return only('POST', 'POST /orders');
  if (parts.length === 1 && parts[0] === 'claims') return only('POST', 'POST /claims');
  if (parts.length === 2 && id !== undefined) return only('GET', 'GET /orders/{id}', id);
  if (parts.length === 3 && id !== undefined && parts[2] === 'codes')
    return only('GET', 'GET /orders/{id}/codes', id);
  return { kind: 'not-found' };
}

function readBody(req: http.IncomingMessage): Promise<string | null> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) tooLarge = true;
      else chunks.push(c);
    });
    req.on('end', () => resolve(tooLarge ? null : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function parseJsonBody(raw: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(raw) };
  } catch {
    return { ok: false };
  }
}

function invalid(status: 400 | 422, errors: FieldError[]): Reply {
  return problem(
    status,
    status === 400 ? 'malformed-request' : 'invalid-request',
    status === 400 ? 'Malformed request' : 'Invalid request',
    `${errors.length} field${errors.length === 1 ? '' : 's'} rejected`,
    { errors },
  );
}

function orderBody(o: SandboxOrder, withUpdatedAt: boolean): Record<string, unknown> {
  return {
    id: o.id,
    status: o.status,
    createdAt: iso(o.createdAt),
    ...(withUpdatedAt && { updatedAt: iso(o.updatedAt) }),
    reference: o.reference,
    total: centsToUsd(o.totalCents),
    items: o.items.map((l) => ({
      region: l.region,
      denomination: l.denomination,
      qty: l.qty,
      unitPrice: centsToUsd(l.unitPriceCents),
    })),
    ...(o.failure && { failure: { ...o.failure } }),
  };
}

/** A copy of a good body, broken in one known field per endpoint. */
function violate(endpoint: SandboxEndpoint, body: unknown): unknown {
  const b = structuredClone(body) as Record<string, unknown>;
  switch (endpoint) {
    case 'GET /inventory': {
      const items = b.items as Record<string, unknown>[];
      if (items[0]) items[0].price = 'cheap';
      else b.items = 'none';
      return b;
    }
    case 'GET /balance':
      b.available = 12.345;
      return b;
    case 'GET /orders/{id}':
    case 'POST /orders':
      b.status = 'shipped';
      return b;
    case 'GET /orders/{id}/codes': {
      const codes = b.codes as Record<string, unknown>[];
      if (codes[0]) codes[0].code = 42;
      else b.codes = null;
      return b;
    }
    case 'POST /claims':
      delete b.id;
      return b;
  }
}

import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import https from 'node:https';
import {
  asRecord,
  type FakeCatalog,
  type FakeRoute,
  intParam,
  paginationHeaders,
  type RouteRequest,
  validatePaging,
  WooError,
} from './fake-woocommerce.js';

/**
 * Orders, order notes, refunds and webhooks of the fake WooCommerce store, with WooCommerce's
 * own side effects as observed (shared/woocommerce/NOTES.md) and as its source does them:
 * `set_paid` → payment_complete (processing, or completed for all virtual+downloadable items
 * and for `cod`), `date_paid` set on reaching processing/completed (never for `cod`), stock
 * reduced once per order and restored on cancel, refunds as negative line items with
 * `_refunded_item_id`, a full refund setting `refunded`, `date_modified` bumped on every
 * order save (notes are comments and do not save the order), emails recorded in an outbox,
 * webhooks pinged on creation and delivered with the order JSON *at delivery time*.
 */

export type OrderStatus =
  | 'pending'
  | 'processing'
  | 'on-hold'
  | 'completed'
  | 'cancelled'
  | 'refunded'
  | 'failed'
  | 'checkout-draft'
  | 'trash';

/** What `status` accepts in a write (trash is a DELETE, not a status). */
const WRITABLE_STATUSES: readonly OrderStatus[] = [
  'pending',
  'processing',
  'on-hold',
  'completed',
  'cancelled',
  'refunded',
  'failed',
  'checkout-draft',
];
const LABEL: Record<OrderStatus, string> = {
  pending: 'Pending payment',
  processing: 'Processing',
  'on-hold': 'On hold',
  completed: 'Completed',
  cancelled: 'Cancelled',
  refunded: 'Refunded',
  failed: 'Failed',
  'checkout-draft': 'Draft',
  trash: 'Trash',
};
/** Gateways whose `process_refund` works; any other gateway makes an `api_refund` a 500. */
const REFUNDING_GATEWAYS = new Set(['stripe', 'woocommerce_payments', 'ppcp-gateway', 'paypal']);
const GATEWAY_TITLES: Record<string, string> = {
  stripe: 'Credit card (Stripe)',
  bacs: 'Direct bank transfer',
  cheque: 'Check payments',
  cod: 'Cash on delivery',
};
const WEBHOOK_TOPICS =
  /^(order|product|customer|coupon)\.(created|updated|deleted|restored)$|^action\.[a-z0-9_]+$/;
const USER_AGENT = 'WooCommerce/10.0.2 Hookshot (WordPress/6.8)';
const WEBHOOK_MAX_FAILURES = 5;

// ---------------------------------------------------------------------------------------------
// Stored shapes

interface StoredLine {
  id: number;
  productId: number;
  variationId: number;
  name: string;
  quantity: number;
  /** Unit price. */
  price: number;
  /** `_reduced_stock`: units currently taken from the product's stock for this line. */
  reducedStock: number;
}

interface StoredMeta {
  id: number;
  key: string;
  value: unknown;
}

interface StoredOrder {
  id: number;
  orderKey: string;
  status: OrderStatus;
  paymentMethod: string;
  createdVia: string;
  customerNote: string;
  email: string;
  createdAt: number;
  modifiedAt: number;
  datePaid: number | null;
  dateCompleted: number | null;
  lines: StoredLine[];
  meta: StoredMeta[];
  stockReduced: boolean;
  /** Seeding shortcut: treat every item as virtual + downloadable. */
  allVirtualDownloadable: boolean;
  /** The store currency when the order was placed (WooCommerce's own setting; `USD` by default). */
  currency: string;
  /** A percent coupon applied at checkout (spread over every line, as WooCommerce does). */
  coupon: { code: string; percent: number } | null;
}

interface StoredRefund {
  id: number;
  orderId: number;
  createdAt: number;
  amount: number;
  reason: string;
  refundedPayment: boolean;
  lines: { id: number; refundedItemId: number; quantity: number; total: number }[];
}

interface StoredNote {
  id: number;
  orderId: number;
  createdAt: number;
  note: string;
  customerNote: boolean;
  author: string;
}

interface StoredWebhook {
  id: number;
  name: string;
  status: 'active' | 'paused' | 'disabled';
  topic: string;
  deliveryUrl: string;
  secret: string;
  failureCount: number;
  createdAt: number;
  modifiedAt: number;
  /** Order ids waiting for delivery (one per resource, like WooCommerce's deferred queue). */
  pending: Set<number>;
}

/** An email WooCommerce would have sent the buyer. */
export interface OutboxEmail {
  orderId: number;
  to: string;
  type:
    | 'customer_note'
    | 'customer_processing_order'
    | 'customer_completed_order'
    | 'customer_on_hold_order'
    | 'customer_refunded_order';
  subject: string;
  body: string;
  at: number;
}

export interface FakeOrderNote {
  id: number;
  author: string;
  note: string;
  customer_note: boolean;
  date_created_gmt: string;
}

export interface WebhookDeliveryRecord {
  deliveryId: string;
  webhookId: number;
  topic: string;
  orderId: number;
  url: string;
  headers: Record<string, string>;
  body: string;
  /** The receiver's HTTP status, or the network error code. */
  response: number | string;
  at: number;
}

export interface WebhookPingRecord {
  webhookId: number;
  url: string;
  body: string;
  response: number | string;
}

export interface PlaceOrderLine {
  sku: string;
  quantity: number;
}

export interface PlaceOrderOptions {
  lines: PlaceOrderLine[];
  /** Gateway id. Default `stripe` (an online gateway that can refund). */
  paymentMethod?: string;
  /**
   * true (default): the gateway reported the payment (WooCommerce's payment_complete).
   * false: the gateway's checkout status — `bacs`/`cheque` wait `on-hold`, `cod` goes
   * `processing` (with no date_paid), anything else stays `pending`.
   */
  paid?: boolean;
  /** Treat every item as virtual + downloadable (a paid order skips straight to `completed`). */
  virtual?: boolean;
  email?: string;
  /** The store currency; default `USD`. */
  currency?: string;
  /** A percent coupon the buyer used: every line's `total` is its `subtotal` less this share. */
  coupon?: { code: string; percent: number };
  /**
   * A late commit: the order was stamped (`date_modified`) this long before it became visible, as
   * when a slow checkout request saves it, so it lands behind orders listed meanwhile.
   */
  committedLateMs?: number;
}

export interface FakeOrdersOptions {
  catalog: FakeCatalog;
  homeUrl: () => string;
  now: () => number;
  /** The site's timezone offset: `date_*` fields are local, `date_*_gmt` are UTC. */
  utcOffsetMinutes?: number;
}

// ---------------------------------------------------------------------------------------------
// Helpers

const money = (n: number) => (Math.round(n * 100) / 100).toFixed(2);

function wpDate(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}

/** `wp_json_encode` with PHP's default flags: `/` is escaped and non-ASCII becomes `\uXXXX`. */
export function phpJsonEncode(value: unknown): string {
  return JSON.stringify(value)
    .replace(/\//g, '\\/')
    .replace(/[\u007f-\uffff]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);
}

/**
 * A meta value as it comes back from WordPress (serialised into a PHP array): top-level
 * scalars become strings; inside an array, an empty object or one keyed `0..n-1` becomes a list.
 */
function phpMetaValue(value: unknown, top = true): unknown {
  if (value === null || value === undefined) return value;
  if (typeof value !== 'object') {
    if (!top) return value;
    return value === true ? '1' : value === false ? '' : String(value);
  }
  if (Array.isArray(value)) return value.map((v) => phpMetaValue(v, false));
  const entries = Object.entries(value as Record<string, unknown>);
  const listLike = entries.every(([k], i) => k === String(i));
  if (listLike) return entries.map(([, v]) => phpMetaValue(v, false));
  return Object.fromEntries(entries.map(([k, v]) => [k, phpMetaValue(v, false)]));
}

const DATE_RE = /^(\d{4}-\d{2}-\d{2})[Tt ](\d{2}:\d{2}:\d{2})(\.\d+)?(Z|[+-]\d{2}:?\d{2})?$/;

function invalidParam(name: string, message: string): WooError {
  return new WooError(400, 'rest_invalid_param', `Invalid parameter(s): ${name}`, {
    params: { [name]: message },
    details: { [name]: { code: 'rest_invalid_param', message, data: null } },
  });
}

function boolParam(query: URLSearchParams, name: string): boolean {
  const raw = query.get(name);
  if (raw === null || raw === '') return false;
  if (['true', '1'].includes(raw)) return true;
  if (['false', '0'].includes(raw)) return false;
  throw invalidParam(name, `${name} is not of type boolean.`);
}

function orderNotFound(): WooError {
  return new WooError(404, 'woocommerce_rest_shop_order_invalid_id', 'Invalid ID.');
}

/** Node POST used for pings and deliveries (WordPress's `wp_safe_remote_post`). */
function post(url: string, headers: Record<string, string>, body: string, timeoutMs: number) {
  return new Promise<number | string>((resolve) => {
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      resolve('invalid_url');
      return;
    }
    const lib = u.protocol === 'https:' ? https : http;
    const req = lib.request(
      u,
      { method: 'POST', headers: { ...headers, 'Content-Length': String(Buffer.byteLength(body)) } },
      (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      },
    );
    req.setTimeout(timeoutMs, () => req.destroy(Object.assign(new Error('timeout'), { code: 'ETIMEDOUT' })));
    req.on('error', (e: NodeJS.ErrnoException) => resolve(e.code ?? 'error'));
    req.end(body);
  });
}

// ---------------------------------------------------------------------------------------------
// The store

export class FakeOrders {
  /** When set, pending webhook deliveries go out this many ms after an order change (sandbox). */
  autoDeliverMs: number | false = false;
  readonly outbox: OutboxEmail[] = [];
  readonly deliveries: WebhookDeliveryRecord[] = [];
  readonly pings: WebhookPingRecord[] = [];

  private readonly catalog: FakeCatalog;
  private readonly homeUrl: () => string;
  private readonly now: () => number;
  private readonly offsetMs: number;
  private readonly orders = new Map<number, StoredOrder>();
  private readonly refunds: StoredRefund[] = [];
  private readonly notes: StoredNote[] = [];
  private readonly webhooks = new Map<number, StoredWebhook>();
  /** Orders and refunds share one id sequence (refunds are orders in WooCommerce). */
  private nextOrderId = 1001;
  private nextItemId = 1;
  private nextNoteId = 1;
  private nextMetaId = 1;
  private nextWebhookId = 1;
  private readonly salt = randomBytes(16);
  private autoTimer: NodeJS.Timeout | undefined;
  private inFlight = new Set<Promise<unknown>>();

  constructor(opts: FakeOrdersOptions) {
    this.catalog = opts.catalog;
    this.homeUrl = opts.homeUrl;
    this.now = opts.now;
    this.offsetMs = (opts.utcOffsetMinutes ?? 0) * 60_000;
  }

  // -- seeding: what happens in the shop outside the API --

  /** A buyer checks out (see `PlaceOrderOptions.paid` for which status it lands in). */
  placeOrder(opts: PlaceOrderOptions): FakeOrderJson {
    const paymentMethod = opts.paymentMethod ?? 'stripe';
    const o = this.create(
      {
        payment_method: paymentMethod,
        line_items: opts.lines.map((l) => ({ sku: l.sku, quantity: l.quantity })),
        billing: { email: opts.email ?? 'buyer@example.com' },
      },
      'checkout',
    );
    o.allVirtualDownloadable = opts.virtual === true;
    o.currency = opts.currency ?? 'USD';
    o.coupon = opts.coupon ?? null;
    if (opts.paid ?? true) this.paymentComplete(o);
    else if (paymentMethod === 'bacs' || paymentMethod === 'cheque') this.transition(o, 'on-hold');
    else if (paymentMethod === 'cod') this.transition(o, 'processing');
    this.save(o, 'created');
    o.modifiedAt -= opts.committedLateMs ?? 0;
    return this.toJson(o);
  }

  /** Merchant refunds from wp-admin (manual refund, items restocked). `lines` by line item id or SKU. */
  refund(
    orderId: number,
    lines: { lineId?: number; sku?: string; quantity: number }[],
    opts: { reason?: string; restock?: boolean } = {},
  ): FakeOrderJson {
    const o = this.mustGet(orderId);
    const byLine = new Map<number, { qty: number; refundTotal: number }>();
    for (const l of lines) {
      const line =
        l.lineId !== undefined
          ? o.lines.find((x) => x.id === l.lineId)
          : o.lines.find((x) => this.skuOf(x)?.toLowerCase() === l.sku?.toLowerCase());
      if (!line) throw new Error(`order ${orderId} has no line ${l.lineId ?? l.sku}`);
      byLine.set(line.id, { qty: l.quantity, refundTotal: line.price * l.quantity });
    }
    const amount = Math.min(
      this.remainingRefund(o),
      [...byLine.values()].reduce((s, l) => s + l.refundTotal, 0),
    );
    this.createRefund(o, {
      amount,
      reason: opts.reason ?? '',
      lines: byLine,
      apiRefund: false,
      restock: opts.restock ?? true,
    });
    return this.toJson(o);
  }

  cancel(orderId: number): FakeOrderJson {
    return this.setStatus(orderId, 'cancelled');
  }

  /** The merchant puts the order on hold (fraud review …): not ours to release. */
  holdByMerchant(orderId: number): FakeOrderJson {
    return this.setStatus(orderId, 'on-hold');
  }

  /** The merchant confirms a bank transfer / cheque: on-hold → processing, which sets date_paid. */
  confirmPayment(orderId: number): FakeOrderJson {
    return this.setStatus(orderId, 'processing');
  }

  /** Any status change from wp-admin, with WooCommerce's side effects. */
  setStatus(orderId: number, status: OrderStatus): FakeOrderJson {
    const o = this.mustGet(orderId);
    if (this.transition(o, status)) this.save(o, 'updated');
    return this.toJson(o);
  }

  // -- inspection --

  order(id: number): FakeOrderJson | undefined {
    const o = this.orders.get(id);
    return o ? this.toJson(o) : undefined;
  }

  all(): FakeOrderJson[] {
    return [...this.orders.values()].map((o) => this.toJson(o));
  }

  /** Notes oldest first (the API lists newest first). */
  notesOf(orderId: number, filter: { customer?: boolean } = {}): FakeOrderNote[] {
    return this.notes
      .filter(
        (n) => n.orderId === orderId && (filter.customer === undefined || n.customerNote === filter.customer),
      )
      .map((n) => this.noteJson(n));
  }

  emailsTo(orderId: number, type?: OutboxEmail['type']): OutboxEmail[] {
    return this.outbox.filter((e) => e.orderId === orderId && (!type || e.type === type));
  }

  meta(orderId: number, key: string): unknown {
    return this.mustGet(orderId).meta.find((m) => m.key === key)?.value;
  }

  status(orderId: number): OrderStatus {
    return this.mustGet(orderId).status;
  }

  refundsOf(orderId: number): unknown[] {
    return this.refunds.filter((r) => r.orderId === orderId).map((r) => this.refundJson(r));
  }

  webhookList(): { id: number; topic: string; delivery_url: string; status: string; secret: string }[] {
    return [...this.webhooks.values()].map((w) => ({
      id: w.id,
      topic: w.topic,
      delivery_url: w.deliveryUrl,
      status: w.status,
      secret: w.secret,
    }));
  }

  /** Orders waiting for a webhook delivery. */
  get pendingDeliveries(): number {
    let n = 0;
    for (const w of this.webhooks.values()) n += w.pending.size;
    return n;
  }

  // -- webhooks, driven by the test (WooCommerce delivers asynchronously, via Action Scheduler) --

  /** Sends every pending delivery now: one per webhook and order, the order as it is now. */
  async deliverWebhooks(): Promise<WebhookDeliveryRecord[]> {
    const out: WebhookDeliveryRecord[] = [];
    for (const w of this.webhooks.values()) {
      const ids = [...w.pending];
      w.pending.clear();
      if (w.status !== 'active') continue;
      for (const orderId of ids) {
        const o = this.orders.get(orderId);
        if (!o) continue;
        const body = phpJsonEncode(this.toJson(o)).trim();
        const [resource, event] = w.topic.split('.') as [string, string];
        const deliveryId = this.deliveryId(w.id);
        const headers: Record<string, string> = {
          'Content-Type': 'application/json',
          'User-Agent': USER_AGENT,
          'X-WC-Webhook-Source': `${this.homeUrl()}/`,
          'X-WC-Webhook-Topic': w.topic,
          'X-WC-Webhook-Resource': resource,
          'X-WC-Webhook-Event': event,
          'X-WC-Webhook-Signature': createHmac('sha256', w.secret).update(body).digest('base64'),
          'X-WC-Webhook-ID': String(w.id),
          'X-WC-Webhook-Delivery-ID': deliveryId,
        };
        const response = await this.track(post(w.deliveryUrl, headers, body, 10_000));
        this.countFailure(w, response);
        const rec: WebhookDeliveryRecord = {
          deliveryId,
          webhookId: w.id,
          topic: w.topic,
          orderId,
          url: w.deliveryUrl,
          headers,
          body,
          response,
          at: this.now(),
        };
        this.deliveries.push(rec);
        out.push(rec);
      }
    }
    return out;
  }

  /** Sends a recorded delivery again, byte for byte, with the same delivery id. */
  async redeliver(deliveryId: string): Promise<WebhookDeliveryRecord> {
    const rec = [...this.deliveries].reverse().find((d) => d.deliveryId === deliveryId);
    if (!rec) throw new Error(`no delivery ${deliveryId}`);
    const response = await this.track(post(rec.url, rec.headers, rec.body, 10_000));
    const again = { ...rec, response, at: this.now() };
    this.deliveries.push(again);
    return again;
  }

  /** Stops timers and waits for requests in flight (the server is closing). */
  async stop(): Promise<void> {
    if (this.autoTimer) clearTimeout(this.autoTimer);
    this.autoTimer = undefined;
    await Promise.allSettled([...this.inFlight]);
  }

  // -- routes --

  routes(): FakeRoute[] {
    return [
      {
        method: 'GET',
        pattern: 'orders',
        permission: 'list',
        validate: (req) => {
          validatePaging(req);
          this.listFilter(req);
        },
        handle: (req) => {
          const perPage = intParam(req.query, 'per_page', 10, 1, 100);
          const page = intParam(req.query, 'page', 1, 1);
          const all = this.list(this.listFilter(req));
          const totalPages = Math.ceil(all.length / perPage);
          return {
            body: all.slice((page - 1) * perPage, page * perPage).map((o) => this.toJson(o)),
            headers: paginationHeaders(req, page, all.length, totalPages),
          };
        },
      },
      {
        method: 'POST',
        pattern: 'orders',
        permission: 'create',
        handle: (req) => {
          const fields = asRecord(req.body);
          const o = this.create(fields, 'rest-api');
          if (fields.status !== undefined) this.transition(o, this.statusField(fields.status));
          if (fields.set_paid === true) this.paymentComplete(o);
          this.save(o, 'created');
          return { status: 201, body: this.toJson(o) };
        },
      },
      {
        method: 'GET',
        pattern: 'orders/:id',
        permission: 'view',
        handle: (req) => ({ body: this.toJson(this.apiOrder(req)) }),
      },
      {
        method: 'PUT',
        pattern: 'orders/:id',
        permission: 'edit',
        handle: (req) => {
          const o = this.apiOrder(req);
          this.update(o, asRecord(req.body));
          return { body: this.toJson(o) };
        },
      },
      {
        method: 'GET',
        pattern: 'orders/:id/notes',
        permission: 'list',
        handle: (req) => {
          const o = this.noteOrder(req);
          const type = req.query.get('type') ?? 'any';
          if (!['any', 'customer', 'internal'].includes(type))
            throw invalidParam('type', 'type is not one of any, customer, and internal.');
          const notes = this.notes
            .filter((n) => n.orderId === o.id)
            .filter((n) => type === 'any' || n.customerNote === (type === 'customer'))
            .sort((a, b) => b.createdAt - a.createdAt || b.id - a.id);
          return { body: notes.map((n) => this.noteJson(n)) };
        },
      },
      {
        method: 'POST',
        pattern: 'orders/:id/notes',
        permission: 'create',
        handle: (req) => {
          const o = this.noteOrder(req);
          const fields = asRecord(req.body);
          if (fields.note === undefined) {
            throw new WooError(400, 'rest_missing_callback_param', 'Missing parameter(s): note', {
              params: ['note'],
            });
          }
          if (typeof fields.note !== 'string') throw invalidParam('note', 'note is not of type string.');
          const customer = fields.customer_note === true || fields.customer_note === 'true';
          const byUser = fields.added_by_user === true || fields.added_by_user === 'true';
          if (fields.note.trim() === '') {
            throw new WooError(
              500,
              'woocommerce_api_cannot_create_order_note',
              'Cannot create order note, please try again.',
            );
          }
          const note = this.addNote(o, fields.note, customer, byUser ? 'shop-manager' : 'WooCommerce');
          return { status: 201, body: this.noteJson(note) };
        },
      },
      {
        method: 'GET',
        pattern: 'orders/:id/refunds',
        permission: 'list',
        validate: validatePaging,
        handle: (req) => {
          const o = this.noteOrder(req);
          const perPage = intParam(req.query, 'per_page', 10, 1, 100);
          const page = intParam(req.query, 'page', 1, 1);
          const all = this.refunds.filter((r) => r.orderId === o.id).sort((a, b) => b.id - a.id);
          return {
            body: all.slice((page - 1) * perPage, page * perPage).map((r) => this.refundJson(r)),
            headers: paginationHeaders(req, page, all.length, Math.ceil(all.length / perPage)),
          };
        },
      },
      {
        method: 'POST',
        pattern: 'orders/:id/refunds',
        permission: 'create',
        handle: (req) => {
          const o = this.noteOrder(req);
          const refund = this.apiRefund(o, asRecord(req.body));
          return { status: 201, body: this.refundJson(refund) };
        },
      },
      {
        method: 'GET',
        pattern: 'webhooks',
        permission: 'list',
        validate: validatePaging,
        handle: (req) => {
          const perPage = intParam(req.query, 'per_page', 10, 1, 100);
          const page = intParam(req.query, 'page', 1, 1);
          const status = req.query.get('status') ?? 'all';
          const all = [...this.webhooks.values()]
            .filter((w) => status === 'all' || w.status === status)
            .sort((a, b) => b.id - a.id);
          return {
            body: all.slice((page - 1) * perPage, page * perPage).map((w) => this.webhookJson(w)),
            headers: paginationHeaders(req, page, all.length, Math.ceil(all.length / perPage)),
          };
        },
      },
      {
        method: 'POST',
        pattern: 'webhooks',
        permission: 'create',
        handle: async (req) => {
          const w = this.createWebhook(asRecord(req.body));
          // WooCommerce pings before it answers; a failed ping does not fail the creation.
          const body = `webhook_id=${w.id}`;
          const response = await this.track(
            post(
              w.deliveryUrl,
              { 'Content-Type': 'application/x-www-form-urlencoded', 'User-Agent': USER_AGENT },
              body,
              5_000,
            ),
          );
          this.pings.push({ webhookId: w.id, url: w.deliveryUrl, body, response });
          return { status: 201, body: this.webhookJson(w) };
        },
      },
      {
        method: 'GET',
        pattern: 'webhooks/:id',
        permission: 'view',
        handle: (req) => ({ body: this.webhookJson(this.mustWebhook(req)) }),
      },
      {
        method: 'PUT',
        pattern: 'webhooks/:id',
        permission: 'edit',
        handle: (req) => {
          const w = this.mustWebhook(req);
          this.editWebhook(w, asRecord(req.body));
          return { body: this.webhookJson(w) };
        },
      },
      {
        method: 'DELETE',
        pattern: 'webhooks/:id',
        permission: 'delete',
        handle: (req) => {
          const w = this.mustWebhook(req);
          if (req.query.get('force') !== 'true') {
            throw new WooError(
              501,
              'woocommerce_rest_trash_not_supported',
              'Webhooks do not support trashing.',
            );
          }
          this.webhooks.delete(w.id);
          return { body: this.webhookJson(w) };
        },
      },
    ];
  }

  // -- WooCommerce's rules --

  private create(fields: Record<string, unknown>, via: string): StoredOrder {
    if (fields.line_items !== undefined && !Array.isArray(fields.line_items)) {
      throw invalidParam('line_items', 'line_items is not of type array.');
    }
    const items = (fields.line_items as unknown[] | undefined) ?? [];
    const lines = items.map((raw, i) => this.lineFrom(asRecord(raw), i));
    if (fields.payment_method !== undefined && typeof fields.payment_method !== 'string') {
      throw invalidParam('payment_method', 'payment_method is not of type string.');
    }
    if (fields.status !== undefined) this.statusField(fields.status);
    const billing = asRecord(fields.billing);
    const now = this.now();
    const o: StoredOrder = {
      id: this.nextOrderId++,
      orderKey: `wc_order_${randomBytes(7).toString('base64url')}`,
      status: 'pending',
      paymentMethod: (fields.payment_method as string | undefined) ?? '',
      createdVia: via,
      customerNote: typeof fields.customer_note === 'string' ? fields.customer_note : '',
      email: typeof billing.email === 'string' ? billing.email : '',
      createdAt: now,
      modifiedAt: now,
      datePaid: null,
      dateCompleted: null,
      lines,
      meta: [],
      stockReduced: false,
      allVirtualDownloadable: false,
      currency: 'USD',
      coupon: null,
    };
    this.orders.set(o.id, o);
    if (fields.meta_data !== undefined) this.applyMeta(o, fields.meta_data);
    return o;
  }

  private lineFrom(item: Record<string, unknown>, i: number): StoredLine {
    const q = item.quantity;
    if (q !== undefined && !(typeof q === 'number' && Number.isInteger(q))) {
      throw invalidParam('line_items', `line_items[${i}][quantity] is not of type integer.`);
    }
    const quantity = (q as number | undefined) ?? 1;
    // Observed: quantity 0 is an uncaught error deep in the line item code.
    if (quantity <= 0)
      throw new WooError(500, 'internal_server_error', 'There has been a critical error on this website.');
    let productId: number | undefined;
    if (typeof item.sku === 'string' && item.sku !== '') productId = this.catalog.productIdBySku(item.sku);
    else if (Number(item.variation_id) > 0) productId = Number(item.variation_id);
    else if (Number(item.product_id) > 0) productId = Number(item.product_id);
    const product = productId ? this.catalog.product(productId) : undefined;
    // An unknown product or SKU is not an error: WooCommerce creates an empty line.
    if (!product || product.type === 'variable') {
      return {
        id: this.nextItemId++,
        productId: 0,
        variationId: 0,
        name: '',
        quantity,
        price: 0,
        reducedStock: 0,
      };
    }
    const isVariation = product.type === 'variation';
    return {
      id: this.nextItemId++,
      productId: isVariation ? product.parent_id : product.id,
      variationId: isVariation ? product.id : 0,
      name: product.name,
      quantity,
      price: Number(product.price) || 0,
      reducedStock: 0,
    };
  }

  private statusField(v: unknown): OrderStatus {
    if (typeof v !== 'string' || !WRITABLE_STATUSES.includes(v as OrderStatus)) {
      throw invalidParam('status', `status is not one of ${WRITABLE_STATUSES.join(', ')}.`);
    }
    return v as OrderStatus;
  }

  /** A direct PUT: validated first, then applied; nulls are cast (a meta value null deletes it). */
  private update(o: StoredOrder, fields: Record<string, unknown>): void {
    const status = fields.status !== undefined ? this.statusField(fields.status) : undefined;
    if (fields.meta_data !== undefined && !Array.isArray(fields.meta_data)) {
      throw invalidParam('meta_data', 'meta_data is not of type array.');
    }
    if (fields.line_items !== undefined) {
      // Editing lines of a paid order is not something this project does; refuse loudly.
      throw new WooError(400, 'woocommerce_rest_fake_unsupported', 'The fake does not edit line items.');
    }
    if (fields.customer_note !== undefined)
      o.customerNote = fields.customer_note === null ? '' : String(fields.customer_note);
    if (fields.payment_method !== undefined)
      o.paymentMethod = fields.payment_method === null ? '' : String(fields.payment_method);
    if (fields.meta_data !== undefined) this.applyMeta(o, fields.meta_data);
    if (status) this.transition(o, status);
    if (fields.set_paid === true) this.paymentComplete(o);
    this.save(o, 'updated');
  }

  /** `update_meta_data(key, value, id)` per item; WC_Data deletes a meta whose value is null on save. */
  private applyMeta(o: StoredOrder, raw: unknown): void {
    if (!Array.isArray(raw)) throw invalidParam('meta_data', 'meta_data is not of type array.');
    for (const item of raw) {
      const m = asRecord(item);
      if (typeof m.key !== 'string' || m.key === '') continue;
      const existing =
        m.id !== undefined ? o.meta.find((x) => x.id === Number(m.id)) : o.meta.find((x) => x.key === m.key);
      if (m.value === null || m.value === undefined) {
        if (existing) o.meta = o.meta.filter((x) => x !== existing);
        continue;
      }
      const value = phpMetaValue(m.value);
      if (existing) {
        existing.value = value;
        // update_meta_data by key keeps one row per key.
        o.meta = o.meta.filter((x) => x === existing || x.key !== m.key);
      } else o.meta.push({ id: this.nextMetaId++, key: m.key, value });
    }
  }

  private needsProcessing(o: StoredOrder): boolean {
    if (o.allVirtualDownloadable) return false;
    return o.lines.some((l) => {
      const p = l.productId ? this.catalog.product(l.variationId || l.productId) : undefined;
      return p ? !(p.virtual && p.downloadable) : false;
    });
  }

  /** `WC_Order::payment_complete()`; the cod gateway turns processing into completed. */
  private paymentComplete(o: StoredOrder): void {
    if (!['pending', 'on-hold', 'failed', 'cancelled', 'checkout-draft'].includes(o.status)) return;
    if (!o.datePaid && o.paymentMethod !== 'cod') o.datePaid = this.now();
    const target: OrderStatus =
      this.needsProcessing(o) && o.paymentMethod !== 'cod' ? 'processing' : 'completed';
    this.transition(o, target);
  }

  /** One status change with its side effects. Returns whether anything changed. */
  private transition(o: StoredOrder, to: OrderStatus): boolean {
    const from = o.status;
    if (from === to) return false;
    o.status = to;
    this.addNote(o, `Order status changed from ${LABEL[from]} to ${LABEL[to]}.`, false, 'WooCommerce');
    const now = this.now();
    // maybe_set_date_paid; cash on delivery is paid only when the courier collects it.
    if ((to === 'processing' || to === 'completed') && !o.datePaid && o.paymentMethod !== 'cod')
      o.datePaid = now;
    if (to === 'completed') o.dateCompleted = now;
    if (to === 'processing' || to === 'completed' || to === 'on-hold') this.reduceStock(o);
    if (to === 'cancelled') this.restoreStock(o);
    if (to === 'completed') {
      this.email(o, 'customer_completed_order', 'Your order is complete', `Order #${o.id} is complete.`);
    }
    if (to === 'processing' && ['pending', 'failed', 'on-hold', 'cancelled'].includes(from)) {
      this.email(
        o,
        'customer_processing_order',
        'Thank you for your order',
        `Order #${o.id} is being processed.`,
      );
    }
    if (to === 'on-hold' && ['pending', 'failed', 'cancelled'].includes(from)) {
      this.email(o, 'customer_on_hold_order', 'Your order is on hold', `Order #${o.id} is on hold.`);
    }
    // wc_order_fully_refunded: a manual "refunded" refunds whatever is left, without line items.
    if (to === 'refunded' && this.remainingRefund(o) > 0) {
      this.createRefund(o, {
        amount: this.remainingRefund(o),
        reason: 'Order fully refunded.',
        lines: new Map(),
        apiRefund: false,
        restock: false,
      });
    }
    return true;
  }

  private reduceStock(o: StoredOrder): void {
    if (o.stockReduced) return;
    o.stockReduced = true;
    const changes: string[] = [];
    for (const l of o.lines) {
      const id = l.variationId || l.productId;
      const r = id ? this.catalog.adjustStock(id, -l.quantity) : undefined;
      if (!r) continue;
      l.reducedStock = l.quantity;
      changes.push(`${l.name} (#${id}) ${r.from}→${r.to}`);
    }
    if (changes.length) this.addNote(o, `Stock levels reduced: ${changes.join(', ')}`, false, 'WooCommerce');
  }

  private restoreStock(o: StoredOrder): void {
    if (!o.stockReduced) return;
    o.stockReduced = false;
    const changes: string[] = [];
    for (const l of o.lines) {
      const id = l.variationId || l.productId;
      if (!id || l.reducedStock <= 0) continue;
      const r = this.catalog.adjustStock(id, l.reducedStock);
      l.reducedStock = 0;
      if (r) changes.push(`${l.name} (#${id}) ${r.from}→${r.to}`);
    }
    if (changes.length)
      this.addNote(o, `Stock levels increased: ${changes.join(', ')}`, false, 'WooCommerce');
  }

  /** A line's `total`: its subtotal less its share of the coupon, rounded to cents as WooCommerce does. */
  private lineTotal(o: StoredOrder, l: StoredLine): number {
    const subtotal = l.price * l.quantity;
    return Math.round(subtotal * (100 - (o.coupon?.percent ?? 0))) / 100;
  }

  private total(o: StoredOrder): number {
    return o.lines.reduce((s, l) => s + this.lineTotal(o, l), 0);
  }

  private remainingRefund(o: StoredOrder): number {
    const refunded = this.refunds.filter((r) => r.orderId === o.id).reduce((s, r) => s + r.amount, 0);
    return Math.round((this.total(o) - refunded) * 100) / 100;
  }

  private refundedQty(o: StoredOrder): number {
    return this.refunds
      .filter((r) => r.orderId === o.id)
      .reduce((s, r) => s + r.lines.reduce((t, l) => t + l.quantity, 0), 0);
  }

  /** `POST orders/<id>/refunds` (v3): `line_items: [{ id, quantity, refund_total }]`. */
  private apiRefund(o: StoredOrder, fields: Record<string, unknown>): StoredRefund {
    if (fields.line_items !== undefined && !Array.isArray(fields.line_items)) {
      throw invalidParam('line_items', 'line_items is not of type array.');
    }
    const lines = new Map<number, { qty: number; refundTotal: number }>();
    for (const raw of (fields.line_items as unknown[] | undefined) ?? []) {
      const it = asRecord(raw);
      const id = Number(it.id);
      if (!Number.isInteger(id) || id <= 0) continue;
      lines.set(id, { qty: Math.trunc(Number(it.quantity) || 0), refundTotal: Number(it.refund_total) || 0 });
    }
    const amount =
      fields.amount !== undefined
        ? Number(fields.amount)
        : [...lines.values()].reduce((s, l) => s + l.refundTotal, 0);
    if (!Number.isFinite(amount) || amount < 0) {
      throw new WooError(
        400,
        'woocommerce_rest_invalid_order_refund',
        'Refund amount must be greater than zero.',
      );
    }
    return this.createRefund(o, {
      amount,
      reason: typeof fields.reason === 'string' ? fields.reason : '',
      lines,
      apiRefund: fields.api_refund !== false,
      restock: fields.api_restock !== false,
    });
  }

  /** `wc_create_refund`. */
  private createRefund(
    o: StoredOrder,
    args: {
      amount: number;
      reason: string;
      lines: Map<number, { qty: number; refundTotal: number }>;
      apiRefund: boolean;
      restock: boolean;
    },
  ): StoredRefund {
    const remaining = this.remainingRefund(o);
    const remainingItems = o.lines.reduce((s, l) => s + l.quantity, 0) - this.refundedQty(o);
    const cannot = (message: string) =>
      new WooError(500, 'woocommerce_rest_cannot_create_order_refund', message);
    if (args.amount > remaining + 0.001) throw cannot('Invalid refund amount.');
    if (args.apiRefund && !REFUNDING_GATEWAYS.has(o.paymentMethod)) {
      throw cannot(
        GATEWAY_TITLES[o.paymentMethod]
          ? 'The payment gateway for this order does not support automatic refunds.'
          : 'The payment gateway for this order does not exist.',
      );
    }
    const refund: StoredRefund = {
      id: this.nextOrderId++,
      orderId: o.id,
      createdAt: this.now(),
      amount: Math.round(args.amount * 100) / 100,
      reason: args.reason,
      refundedPayment: args.apiRefund,
      lines: [],
    };
    let count = 0;
    for (const l of o.lines) {
      const r = args.lines.get(l.id);
      if (!r || (!r.qty && !r.refundTotal)) continue;
      refund.lines.push({
        id: this.nextItemId++,
        refundedItemId: l.id,
        quantity: r.qty,
        total: r.refundTotal,
      });
      count += r.qty;
    }
    this.refunds.push(refund);
    if (args.restock) {
      for (const rl of refund.lines) {
        const l = o.lines.find((x) => x.id === rl.refundedItemId);
        const id = l ? l.variationId || l.productId : 0;
        if (!l || !id || l.reducedStock <= 0 || rl.quantity <= 0) continue;
        const r = this.catalog.adjustStock(id, rl.quantity);
        l.reducedStock -= rl.quantity;
        if (r)
          this.addNote(o, `Item #${id} stock increased from ${r.from} to ${r.to}.`, false, 'WooCommerce');
      }
    }
    const hasFreeItem = o.lines.some((l) => l.price === 0);
    const partial = remaining - args.amount > 0.001 || (hasFreeItem && remainingItems - count > 0);
    this.email(
      o,
      'customer_refunded_order',
      partial ? 'Your order has been partially refunded' : 'Your order has been refunded',
      `Refund of ${money(refund.amount)} for order #${o.id}.`,
    );
    if (!partial && o.status !== 'refunded') this.transition(o, 'refunded');
    this.save(o, 'updated');
    return refund;
  }

  private addNote(o: StoredOrder, text: string, customer: boolean, author: string): StoredNote {
    // wp_insert_comment unslashes its input: backslashes disappear from stored notes.
    const note: StoredNote = {
      id: this.nextNoteId++,
      orderId: o.id,
      createdAt: this.now(),
      note: text.replace(/\\(.?)/g, '$1'),
      customerNote: customer,
      author,
    };
    this.notes.push(note);
    if (customer) this.email(o, 'customer_note', 'Note added to your order', note.note);
    return note;
  }

  private email(o: StoredOrder, type: OutboxEmail['type'], subject: string, body: string): void {
    if (!o.email) return;
    this.outbox.push({ orderId: o.id, to: o.email, type, subject, body, at: this.now() });
  }

  /** Every order save bumps date_modified and queues the matching webhooks. */
  private save(o: StoredOrder, event: 'created' | 'updated'): void {
    o.modifiedAt = this.now();
    let queued = false;
    for (const w of this.webhooks.values()) {
      if (w.status !== 'active') continue;
      if (w.topic === `order.${event}`) {
        w.pending.add(o.id);
        queued = true;
      }
    }
    if (queued && this.autoDeliverMs !== false && !this.autoTimer) {
      this.autoTimer = setTimeout(() => {
        this.autoTimer = undefined;
        void this.deliverWebhooks();
      }, this.autoDeliverMs);
      this.autoTimer.unref?.();
    }
  }

  // -- listing --

  private listFilter(req: RouteRequest) {
    const statusRaw = req.query
      .getAll('status')
      .flatMap((s) => s.split(','))
      .map((s) => s.trim())
      .filter(Boolean);
    const valid = ['any', 'trash', ...WRITABLE_STATUSES];
    statusRaw.forEach((s, i) => {
      if (!valid.includes(s)) throw invalidParam('status', `status[${i}] is not one of ${valid.join(', ')}.`);
    });
    const gmt = boolParam(req.query, 'dates_are_gmt');
    const date = (name: string): number | undefined => {
      const raw = req.query.get(name);
      if (raw === null) return undefined;
      const m = DATE_RE.exec(raw);
      if (!m) throw invalidParam(name, 'Invalid date.');
      const tz = m[4];
      const ms = Date.parse(`${m[1]}T${m[2]}${m[3] ?? ''}${tz ? (tz === 'Z' ? 'Z' : tz) : 'Z'}`);
      if (!Number.isFinite(ms)) throw invalidParam(name, 'Invalid date.');
      // Without a zone, the date is the site's local time unless dates_are_gmt.
      return tz || gmt ? ms : ms - this.offsetMs;
    };
    const orderby = req.query.get('orderby') ?? 'date';
    if (!['date', 'id', 'include', 'title', 'slug', 'modified'].includes(orderby)) {
      throw invalidParam('orderby', 'orderby is not one of date, id, include, title, slug, and modified.');
    }
    const order = req.query.get('order') ?? 'desc';
    if (order !== 'asc' && order !== 'desc')
      throw invalidParam('order', 'order is not one of asc, and desc.');
    return {
      statuses: statusRaw.length ? statusRaw : ['any'],
      after: date('after'),
      before: date('before'),
      modifiedAfter: date('modified_after'),
      modifiedBefore: date('modified_before'),
      orderby,
      order,
    };
  }

  private list(f: ReturnType<FakeOrders['listFilter']>): StoredOrder[] {
    // Stored times are compared at whole seconds, as MySQL DATETIME holds them.
    const sec = (ms: number) => Math.floor(ms / 1000) * 1000;
    const rows = [...this.orders.values()].filter((o) => {
      const ok = f.statuses.includes('any')
        ? o.status !== 'trash' || f.statuses.includes('trash')
        : f.statuses.includes(o.status);
      if (!ok) return false;
      if (f.after !== undefined && !(sec(o.createdAt) > f.after)) return false;
      if (f.before !== undefined && !(sec(o.createdAt) < f.before)) return false;
      if (f.modifiedAfter !== undefined && !(sec(o.modifiedAt) > f.modifiedAfter)) return false;
      if (f.modifiedBefore !== undefined && !(sec(o.modifiedAt) < f.modifiedBefore)) return false;
      return true;
    });
    const key = (o: StoredOrder) =>
      f.orderby === 'modified' ? sec(o.modifiedAt) : f.orderby === 'id' ? o.id : sec(o.createdAt);
    const dir = f.order === 'asc' ? 1 : -1;
    return rows.sort((a, b) => dir * (key(a) - key(b) || a.id - b.id));
  }

  // -- JSON --

  private skuOf(l: StoredLine): string | null {
    const id = l.variationId || l.productId;
    const p = id ? this.catalog.product(id) : undefined;
    return p ? p.sku : null;
  }

  private dates(name: string, ms: number | null): Record<string, string | null> {
    return {
      [name]: ms === null ? null : wpDate(ms + this.offsetMs),
      [`${name}_gmt`]: ms === null ? null : wpDate(ms),
    };
  }

  toJson(o: StoredOrder): FakeOrderJson {
    const home = this.homeUrl();
    const total = this.total(o);
    const discount = money(o.lines.reduce((s, l) => s + l.price * l.quantity - this.lineTotal(o, l), 0));
    const refunds = this.refunds
      .filter((r) => r.orderId === o.id)
      .sort((a, b) => b.id - a.id)
      .map((r) => ({ id: r.id, reason: r.reason, total: money(-r.amount) }));
    return {
      id: o.id,
      parent_id: 0,
      status: o.status,
      currency: o.currency,
      version: '10.0.2',
      prices_include_tax: false,
      ...this.dates('date_created', o.createdAt),
      ...this.dates('date_modified', o.modifiedAt),
      discount_total: discount,
      discount_tax: '0.00',
      shipping_total: '0.00',
      shipping_tax: '0.00',
      cart_tax: '0.00',
      total: money(total),
      total_tax: '0.00',
      customer_id: 0,
      order_key: o.orderKey,
      billing: { first_name: 'Test', last_name: 'Buyer', email: o.email, phone: '' },
      shipping: { first_name: '', last_name: '' },
      payment_method: o.paymentMethod,
      payment_method_title: GATEWAY_TITLES[o.paymentMethod] ?? o.paymentMethod,
      transaction_id: '',
      created_via: o.createdVia,
      customer_note: o.customerNote,
      ...this.dates('date_completed', o.dateCompleted),
      ...this.dates('date_paid', o.datePaid),
      cart_hash: '',
      number: String(o.id),
      meta_data: o.meta.map((m) => ({ id: m.id, key: m.key, value: m.value })),
      line_items: o.lines.map((l) => ({
        id: l.id,
        name: l.name,
        product_id: l.productId,
        variation_id: l.variationId,
        quantity: l.quantity,
        tax_class: '',
        subtotal: money(l.price * l.quantity),
        subtotal_tax: '0.00',
        total: money(this.lineTotal(o, l)),
        total_tax: '0.00',
        taxes: [],
        meta_data: [],
        sku: this.skuOf(l),
        // WooCommerce's line `price` is the discounted total over the quantity (a float).
        price: this.lineTotal(o, l) / l.quantity,
        image: { id: '', src: '' },
        parent_name: null,
      })),
      tax_lines: [],
      shipping_lines: [],
      fee_lines: [],
      coupon_lines: o.coupon
        ? [
            {
              id: o.id * 10,
              code: o.coupon.code,
              discount: discount,
              discount_tax: '0.00',
            },
          ]
        : [],
      refunds,
      payment_url: `${home}/checkout/order-pay/${o.id}/?pay_for_order=true&key=${o.orderKey}`,
      is_editable: o.status === 'pending' || o.status === 'on-hold',
      needs_payment: o.status === 'pending' && total > 0,
      needs_processing: this.needsProcessing(o),
      currency_symbol: o.currency === 'USD' ? '$' : o.currency,
      _links: {
        self: [{ href: `${home}/wp-json/wc/v3/orders/${o.id}` }],
        collection: [{ href: `${home}/wp-json/wc/v3/orders` }],
      },
    } as unknown as FakeOrderJson;
  }

  private noteJson(n: StoredNote): FakeOrderNote & Record<string, unknown> {
    return {
      id: n.id,
      author: n.author,
      date_created: wpDate(n.createdAt + this.offsetMs),
      date_created_gmt: wpDate(n.createdAt),
      note: n.note,
      customer_note: n.customerNote,
    };
  }

  private refundJson(r: StoredRefund): Record<string, unknown> {
    const o = this.orders.get(r.orderId);
    return {
      id: r.id,
      ...this.dates('date_created', r.createdAt),
      amount: money(r.amount),
      reason: r.reason,
      refunded_by: 1,
      refunded_payment: r.refundedPayment,
      meta_data: [],
      line_items: r.lines.map((rl) => {
        const l = o?.lines.find((x) => x.id === rl.refundedItemId);
        return {
          id: rl.id,
          name: l?.name ?? '',
          product_id: l?.productId ?? 0,
          variation_id: l?.variationId ?? 0,
          quantity: -rl.quantity,
          tax_class: '',
          subtotal: money(-rl.total),
          subtotal_tax: '0.00',
          total: money(-rl.total),
          total_tax: '0.00',
          taxes: [],
          // Stored as a string: PHP meta values come back as strings.
          meta_data: [{ id: this.nextMetaId++, key: '_refunded_item_id', value: String(rl.refundedItemId) }],
          sku: l ? this.skuOf(l) : null,
          price: rl.quantity ? -rl.total / rl.quantity : 0,
        };
      }),
      shipping_lines: [],
      tax_lines: [],
      fee_lines: [],
    };
  }

  // -- webhooks --

  private createWebhook(fields: Record<string, unknown>): StoredWebhook {
    const topic = fields.topic;
    if (typeof topic !== 'string' || !WEBHOOK_TOPICS.test(topic)) {
      throw new WooError(
        400,
        'woocommerce_rest_webhook_invalid_topic',
        'Webhook topic is required and must be valid.',
      );
    }
    const url = fields.delivery_url;
    if (typeof url !== 'string' || !/^https?:\/\/[^\s]+$/.test(url)) {
      throw new WooError(
        400,
        'woocommerce_rest_webhook_invalid_delivery_url',
        'Webhook delivery URL must be a valid URL starting with http:// or https://.',
      );
    }
    const now = this.now();
    const w: StoredWebhook = {
      id: this.nextWebhookId++,
      name:
        typeof fields.name === 'string' && fields.name
          ? fields.name
          : `Webhook created on ${new Date(now).toUTCString()}`,
      status: 'active',
      topic,
      deliveryUrl: url,
      secret:
        typeof fields.secret === 'string' && fields.secret ? fields.secret : randomBytes(25).toString('hex'),
      failureCount: 0,
      createdAt: now,
      modifiedAt: now,
      pending: new Set(),
    };
    if (fields.status !== undefined) this.webhookStatus(w, fields.status);
    this.webhooks.set(w.id, w);
    return w;
  }

  private editWebhook(w: StoredWebhook, fields: Record<string, unknown>): void {
    if (fields.topic !== undefined) {
      if (typeof fields.topic !== 'string' || !WEBHOOK_TOPICS.test(fields.topic)) {
        throw new WooError(400, 'woocommerce_rest_webhook_invalid_topic', 'Webhook topic must be valid.');
      }
      w.topic = fields.topic;
    }
    if (typeof fields.delivery_url === 'string') w.deliveryUrl = fields.delivery_url;
    if (typeof fields.secret === 'string' && fields.secret) w.secret = fields.secret;
    if (typeof fields.name === 'string') w.name = fields.name;
    if (fields.status !== undefined) this.webhookStatus(w, fields.status);
    w.modifiedAt = this.now();
  }

  private webhookStatus(w: StoredWebhook, v: unknown): void {
    if (v !== 'active' && v !== 'paused' && v !== 'disabled') {
      throw invalidParam('status', 'status is not one of active, paused, and disabled.');
    }
    w.status = v;
    if (v === 'active') w.failureCount = 0;
  }

  private webhookJson(w: StoredWebhook): Record<string, unknown> {
    const [resource, event] = w.topic.split('.');
    const home = this.homeUrl();
    return {
      id: w.id,
      name: w.name,
      status: w.status,
      topic: w.topic,
      resource,
      event,
      hooks: [`woocommerce_${resource}_${event}`],
      delivery_url: w.deliveryUrl,
      ...this.dates('date_created', w.createdAt),
      ...this.dates('date_modified', w.modifiedAt),
      _links: { self: [{ href: `${home}/wp-json/wc/v3/webhooks/${w.id}` }] },
    };
  }

  private mustWebhook(req: RouteRequest): StoredWebhook {
    const w = this.webhooks.get(Number(req.params.id));
    if (!w) throw new WooError(404, 'woocommerce_rest_webhook_invalid_id', 'Invalid webhook ID.');
    return w;
  }

  /** `wp_hash(webhook id . time())`: two deliveries of one webhook in the same second share it. */
  private deliveryId(webhookId: number): string {
    return createHmac('md5', this.salt)
      .update(`${webhookId}${Math.floor(this.now() / 1000)}`)
      .digest('hex');
  }

  /** A 2xx–302 resets the failure count; more than five failures in a row disable the webhook. */
  private countFailure(w: StoredWebhook, response: number | string): void {
    if (typeof response === 'number' && response >= 200 && response < 303) w.failureCount = 0;
    else if (w.failureCount > WEBHOOK_MAX_FAILURES) w.status = 'disabled';
    else w.failureCount++;
  }

  private track<T>(p: Promise<T>): Promise<T> {
    this.inFlight.add(p);
    return p.finally(() => this.inFlight.delete(p));
  }

  // -- lookups --

  private mustGet(id: number): StoredOrder {
    const o = this.orders.get(id);
    if (!o) throw new Error(`no order ${id}`);
    return o;
  }

  private apiOrder(req: RouteRequest): StoredOrder {
    const o = this.orders.get(Number(req.params.id));
    if (!o) throw orderNotFound();
    return o;
  }

  /** Sub-resources (notes, refunds) answer a missing order with their own code. */
  private noteOrder(req: RouteRequest): StoredOrder {
    const o = this.orders.get(Number(req.params.id));
    if (!o) throw new WooError(404, 'woocommerce_rest_order_invalid_id', 'Invalid order ID.');
    return o;
  }
}

/** The order JSON (a realistic subset of WooCommerce's). */
export interface FakeOrderJson {
  id: number;
  number: string;
  status: OrderStatus;
  payment_method: string;
  date_created_gmt: string;
  date_modified_gmt: string;
  date_paid: string | null;
  date_paid_gmt: string | null;
  date_completed_gmt: string | null;
  total: string;
  meta_data: { id: number; key: string; value: unknown }[];
  line_items: {
    id: number;
    name: string;
    product_id: number;
    variation_id: number;
    quantity: number;
    sku: string | null;
    price: number;
  }[];
  refunds: { id: number; reason: string; total: string }[];
  [key: string]: unknown;
}

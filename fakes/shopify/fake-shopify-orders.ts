import { createHash, createHmac, randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';

/**
 * The order half of the fake Admin API: orders, their fulfillment orders and holds, order
 * metafields, fulfillments with a customer-notification outbox, webhook subscriptions and signed
 * webhook deliveries. `FakeShopify` owns the HTTP/GraphQL pipeline (schema validation, costs,
 * bucket) and plugs the resolvers below into it; this module only keeps state and answers.
 *
 * Strict where Shopify is: `metafieldsSet` is atomic with compare-and-set on `compareDigest`,
 * `fulfillmentCreate` refuses a quantity above what remains and a fulfillment order on hold,
 * `fulfillmentOrderReleaseHold` without `holdIds` releases every hold (as Shopify warns it does),
 * webhook subscriptions are unique per topic and address and must be https (loopback http is the
 * fake's one leniency, so tests can receive them).
 */

export type FinancialStatus =
  | 'PENDING'
  | 'AUTHORIZED'
  | 'PARTIALLY_PAID'
  | 'PAID'
  | 'PARTIALLY_REFUNDED'
  | 'REFUNDED'
  | 'VOIDED'
  | 'EXPIRED';

export type FulfillmentOrderStatus = 'OPEN' | 'IN_PROGRESS' | 'ON_HOLD' | 'CLOSED' | 'CANCELLED';

export interface SeedOrder {
  /** `unitPrice`: the variant's price at checkout, in the shop currency (default 10). */
  lines: { sku: string | null; quantity: number; title?: string; unitPrice?: number }[];
  /** Default PAID. */
  financialStatus?: FinancialStatus;
  email?: string;
  /** The shop currency (`Order.currencyCode`); default USD. */
  currency?: string;
  /** An order-level discount code: every line's price after all discounts is this much lower. */
  discountPercent?: number;
}

export interface PlacedOrder {
  orderId: string;
  name: string;
  /** LineItem GIDs in the order given. */
  lineIds: string[];
  fulfillmentOrderIds: string[];
}

export interface OutboxEmail {
  to: string;
  template: 'shipping_confirmation';
  orderId: string;
  fulfillmentId: string;
  /** The `psnb2b.codes` metafield as the template would print it when the email was sent. */
  codesMetafield: string | null;
}

export interface FakeFulfillment {
  id: string;
  orderId: string;
  createdAt: string;
  notifyCustomer: boolean;
  lines: { lineItemId: string; quantity: number }[];
}

export interface FakeHold {
  id: string;
  handle: string | null;
  reason: string;
  reasonNotes: string | null;
  /** Placed through the API (by "our" app); false for a merchant's hold from the admin. */
  byApp: boolean;
}

export interface WebhookDelivery {
  webhookId: string;
  topic: string;
  uri: string;
  /** The receiver's HTTP status, or null when it could not be reached. */
  status: number | null;
}

export interface FakeSubscription {
  id: string;
  topic: string;
  uri: string;
  format: string;
  createdAt: string;
}

interface Line {
  id: string;
  num: number;
  sku: string | null;
  title: string;
  quantity: number;
  refunded: number;
  fulfilled: number;
  unitPrice: number;
  /** Unit price after every discount (line, order-level and code), in the shop currency. */
  paidUnitPrice: number;
}

interface FoLine {
  id: string;
  lineId: string;
  total: number;
  remaining: number;
}

interface FulfillmentOrder {
  id: string;
  num: number;
  orderId: string;
  status: FulfillmentOrderStatus;
  lines: FoLine[];
  holds: FakeHold[];
  updatedAt: string;
}

interface Metafield {
  id: string;
  namespace: string;
  key: string;
  type: string;
  value: string;
  createdAt: string;
  updatedAt: string;
}

interface Order {
  id: string;
  num: number;
  name: string;
  email: string;
  currency: string;
  createdAt: string;
  updatedAt: string;
  financialStatus: FinancialStatus;
  cancelledAt: string | null;
  closedAt: string | null;
  lines: Line[];
  foIds: string[];
  fulfillments: FakeFulfillment[];
  metafields: Map<string, Metafield>;
}

type Source = Record<string, unknown>;
type Args = Record<string, unknown>;
type Applied = { payload: Source; failed: boolean };

/** What the order book needs from the fake it lives in. */
export interface OrderBookDeps {
  gid(type: string): { id: string; num: number };
  now(): number;
  locationId: string;
  locationView(id: string): Source;
  /** Shopify-style connection over items sorted by a numeric id. */
  connection<T>(items: T[], args: Args, num: (t: T) => number, view: (t: T) => Source): Source;
  apiVersion: string;
}

const notImplemented = (what: string) =>
  new GraphQLError(`FakeShopify does not implement ${what}`, {
    extensions: { code: 'NOT_IMPLEMENTED_IN_FAKE' },
  });

const gidNum = (gid: string): number => Number(/\/(\d+)(?:\?.*)?$/.exec(gid)?.[1] ?? Number.NaN);

/** Shopify's digest is opaque; any stable hash of the persisted value does the same job. */
export const metafieldDigest = (m: { type: string; value: string }): string =>
  createHash('sha256').update(`${m.type}\n${m.value}`).digest('hex');

const TEXT_VALUE_LIMIT = 65_535;
const METAFIELD_TYPES = new Set([
  'single_line_text_field',
  'multi_line_text_field',
  'json',
  'number_integer',
]);
/** REST-style topic names as they travel in `X-Shopify-Topic`. */
const TOPIC_HEADER: Record<string, string> = {
  ORDERS_PAID: 'orders/paid',
  ORDERS_UPDATED: 'orders/updated',
  ORDERS_CANCELLED: 'orders/cancelled',
  ORDERS_CREATE: 'orders/create',
  ORDERS_FULFILLED: 'orders/fulfilled',
};

// ---- order search ---------------------------------------------------------------------------

type Cmp = '>=' | '<=' | '>' | '<' | '=';
type Expr =
  | { op: 'and' | 'or'; parts: Expr[] }
  | { op: 'not'; part: Expr }
  | { op: 'term'; field: string | null; cmp: Cmp; value: string };

/**
 * Shopify search syntax, as much as order intake uses: terms `field:value` and
 * `field:>=value` (values bare, "double" or 'single' quoted), implicit AND, `AND`, `OR`,
 * `NOT`/`-`, and parentheses.
 */
export function parseOrderSearch(query: string): Expr {
  const re =
    /\s*(?:(\()|(\))|(OR|AND|NOT)(?=[\s()]|$)|(-)?([a-z_]+):(>=|<=|>|<)?("(?:[^"\\]|\\.)*"|'[^']*'|[^\s()]+))/y;
  const toks: (
    | { t: '(' | ')' | 'OR' | 'AND' | 'NOT' }
    | { t: 'term'; neg: boolean; field: string; cmp: Cmp; value: string }
  )[] = [];
  let pos = 0;
  for (;;) {
    re.lastIndex = pos;
    const m = re.exec(query);
    if (!m || m[0].length === 0) break;
    pos = re.lastIndex;
    if (m[1]) toks.push({ t: '(' });
    else if (m[2]) toks.push({ t: ')' });
    else if (m[3]) toks.push({ t: m[3] as 'OR' | 'AND' | 'NOT' });
    else {
      const raw = m[7] as string;
      const value = /^["']/.test(raw) ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : raw;
      toks.push({ t: 'term', neg: m[4] === '-', field: m[5] as string, cmp: (m[6] as Cmp) ?? '=', value });
    }
  }
  if (query.slice(pos).trim() !== '') {
    throw new GraphQLError(`FakeShopify cannot parse the search query near "${query.slice(pos, pos + 20)}"`);
  }
  let i = 0;
  const orExpr = (): Expr => {
    const parts = [andExpr()];
    while (toks[i]?.t === 'OR') {
      i++;
      parts.push(andExpr());
    }
    return parts.length === 1 ? (parts[0] as Expr) : { op: 'or', parts };
  };
  const andExpr = (): Expr => {
    const parts: Expr[] = [];
    for (;;) {
      const tok = toks[i];
      if (!tok || tok.t === ')' || tok.t === 'OR') break;
      if (tok.t === 'AND') {
        i++;
        continue;
      }
      parts.push(unary());
    }
    if (parts.length === 0) throw new GraphQLError('FakeShopify: empty search group');
    return parts.length === 1 ? (parts[0] as Expr) : { op: 'and', parts };
  };
  const unary = (): Expr => {
    const tok = toks[i++];
    if (!tok) throw new GraphQLError('FakeShopify: unexpected end of search query');
    if (tok.t === 'NOT') return { op: 'not', part: unary() };
    if (tok.t === '(') {
      const e = orExpr();
      if (toks[i++]?.t !== ')') throw new GraphQLError('FakeShopify: unbalanced parentheses in search query');
      return e;
    }
    if (tok.t === 'term') {
      const term: Expr = { op: 'term', field: tok.field, cmp: tok.cmp, value: tok.value };
      return tok.neg ? { op: 'not', part: term } : term;
    }
    throw new GraphQLError(`FakeShopify: unexpected "${tok.t}" in search query`);
  };
  const e = orExpr();
  if (i < toks.length) throw new GraphQLError('FakeShopify: unbalanced parentheses in search query');
  return e;
}

const encodeSortCursor = (num: number, value: string): string =>
  Buffer.from(JSON.stringify({ last_id: num, last_value: value })).toString('base64');

function decodeSortCursor(cursor: string): { num: number; value: string } {
  try {
    const v = JSON.parse(Buffer.from(cursor, 'base64').toString('utf8')) as {
      last_id?: unknown;
      last_value?: unknown;
    };
    if (typeof v.last_id === 'number' && typeof v.last_value === 'string')
      return { num: v.last_id, value: v.last_value };
  } catch {
    // falls through
  }
  throw new GraphQLError('Invalid cursor for current pagination sort.', {
    extensions: { code: 'BAD_REQUEST' },
  });
}

// ---- the book -------------------------------------------------------------------------------

export class FakeOrderBook {
  /** Emails Shopify would have sent the buyer (shipping confirmations), oldest first. */
  readonly outbox: OutboxEmail[] = [];
  /** Every webhook POST the fake made, redeliveries included. */
  readonly webhookLog: WebhookDelivery[] = [];
  private readonly orders = new Map<string, Order>();
  private readonly fos = new Map<string, FulfillmentOrder>();
  private readonly subscriptions = new Map<string, FakeSubscription>();
  private readonly sent = new Map<string, { topic: string; body: string; triggeredAt: string }>();
  private orderNumber = 1000;
  private lastStamp = 0;

  constructor(private readonly deps: OrderBookDeps) {}

  /** Strictly increasing timestamps, so `updated_at:>=` cursors behave even within one millisecond. */
  private stamp(): string {
    this.lastStamp = Math.max(this.lastStamp + 1, this.deps.now());
    return new Date(this.lastStamp).toISOString();
  }

  // ---- seeding --------------------------------------------------------------------------------

  placeOrder(seed: SeedOrder): PlacedOrder {
    if (seed.lines.length === 0) throw new Error('FakeShopify: an order needs at least one line');
    const { id, num } = this.deps.gid('Order');
    const at = this.stamp();
    const lines: Line[] = seed.lines.map((l) => {
      if (!Number.isInteger(l.quantity) || l.quantity < 1)
        throw new Error('FakeShopify: line quantity must be ≥ 1');
      const g = this.deps.gid('LineItem');
      return {
        id: g.id,
        num: g.num,
        sku: l.sku,
        title: l.title ?? l.sku ?? 'Item',
        quantity: l.quantity,
        refunded: 0,
        fulfilled: 0,
        unitPrice: l.unitPrice ?? 10,
        paidUnitPrice: Math.round((l.unitPrice ?? 10) * (100 - (seed.discountPercent ?? 0))) / 100,
      };
    });
    const fo = this.deps.gid('FulfillmentOrder');
    const foLines = lines.map((l) => ({
      id: this.deps.gid('FulfillmentOrderLineItem').id,
      lineId: l.id,
      total: l.quantity,
      remaining: l.quantity,
    }));
    this.fos.set(fo.id, {
      id: fo.id,
      num: fo.num,
      orderId: id,
      status: 'OPEN',
      lines: foLines,
      holds: [],
      updatedAt: at,
    });
    const name = `#${++this.orderNumber}`;
    this.orders.set(id, {
      id,
      num,
      name,
      email: seed.email ?? `buyer${num}@example.com`,
      currency: seed.currency ?? 'USD',
      createdAt: at,
      updatedAt: at,
      financialStatus: seed.financialStatus ?? 'PAID',
      cancelledAt: null,
      closedAt: null,
      lines,
      foIds: [fo.id],
      fulfillments: [],
      metafields: new Map(),
    });
    return { orderId: id, name, lineIds: lines.map((l) => l.id), fulfillmentOrderIds: [fo.id] };
  }

  setFinancialStatus(orderId: string, status: FinancialStatus): void {
    const o = this.order(orderId);
    o.financialStatus = status;
    o.updatedAt = this.stamp();
  }

  /**
   * Refunds units of lines (by LineItem GID or SKU) without restocking: unfulfilled units leave
   * the fulfillment orders first. Status becomes PARTIALLY_REFUNDED or, when nothing is left, REFUNDED.
   */
  refund(orderId: string, lineQty: Record<string, number>): void {
    const o = this.order(orderId);
    for (const [ref, qty] of Object.entries(lineQty)) {
      const line = o.lines.find((l) => l.id === ref || l.sku === ref);
      if (!line) throw new Error(`FakeShopify: no line ${ref} in ${orderId}`);
      if (qty < 1 || line.refunded + qty > line.quantity)
        throw new Error('FakeShopify: refund exceeds the line');
      line.refunded += qty;
      // Unfulfilled units are refunded first; they leave the fulfillment orders with it.
      let fromUnfulfilled = Math.min(qty, line.quantity - line.fulfilled - (line.refunded - qty));
      for (const fo of this.fosOf(o)) {
        for (const fl of fo.lines.filter((x) => x.lineId === line.id)) {
          const take = Math.min(fl.remaining, fromUnfulfilled);
          fl.remaining -= take;
          fl.total -= take;
          fromUnfulfilled -= take;
        }
        this.settleStatus(fo);
      }
    }
    const all = o.lines.every((l) => l.refunded === l.quantity);
    o.financialStatus = all ? 'REFUNDED' : 'PARTIALLY_REFUNDED';
    o.updatedAt = this.stamp();
  }

  /** Cancels the order (refunding a paid one, voiding an authorised one); its fulfillment orders close. */
  cancel(orderId: string): void {
    const o = this.order(orderId);
    const at = this.stamp();
    o.cancelledAt = at;
    o.closedAt = at;
    o.financialStatus = ['PAID', 'PARTIALLY_PAID', 'PARTIALLY_REFUNDED'].includes(o.financialStatus)
      ? 'REFUNDED'
      : 'VOIDED';
    for (const fo of this.fosOf(o)) {
      fo.status = 'CLOSED';
      fo.updatedAt = at;
    }
    o.updatedAt = at;
  }

  /** A hold the merchant places from the admin (fraud review by default). */
  merchantHold(orderId: string, reason = 'HIGH_RISK_OF_FRAUD'): string[] {
    const o = this.order(orderId);
    const ids: string[] = [];
    for (const fo of this.fosOf(o)) {
      if (fo.status !== 'OPEN' && fo.status !== 'IN_PROGRESS' && fo.status !== 'ON_HOLD') continue;
      const hold: FakeHold = {
        id: this.deps.gid('FulfillmentHold').id,
        handle: null,
        reason,
        reasonNotes: 'Placed by the merchant',
        byApp: false,
      };
      fo.holds.push(hold);
      ids.push(hold.id);
      this.settleStatus(fo);
    }
    o.updatedAt = this.stamp();
    return ids;
  }

  /** The merchant releases their own holds (ours stay). */
  merchantRelease(orderId: string): void {
    const o = this.order(orderId);
    for (const fo of this.fosOf(o)) {
      fo.holds = fo.holds.filter((h) => h.byApp);
      this.settleStatus(fo);
    }
    o.updatedAt = this.stamp();
  }

  /** A merchant edits the metafield by hand (moves its digest). */
  setMetafield(orderId: string, namespace: string, key: string, type: string, value: string): void {
    this.writeMetafield(this.order(orderId), { namespace, key, type, value });
  }

  // ---- inspection -----------------------------------------------------------------------------

  metafieldValue(orderId: string, namespace: string, key: string): string | null {
    return this.order(orderId).metafields.get(`${namespace}.${key}`)?.value ?? null;
  }

  fulfillmentsOf(orderId: string): FakeFulfillment[] {
    return this.order(orderId).fulfillments.map((f) => ({ ...f, lines: f.lines.map((l) => ({ ...l })) }));
  }

  /** Per line: quantity, refunded, fulfilled and unfulfilled units. */
  lineState(
    orderId: string,
  ): { id: string; sku: string | null; quantity: number; fulfilled: number; unfulfilled: number }[] {
    return this.order(orderId).lines.map((l) => ({
      id: l.id,
      sku: l.sku,
      quantity: l.quantity,
      fulfilled: l.fulfilled,
      unfulfilled: this.unfulfilled(l),
    }));
  }

  holdsOf(orderId: string): (FakeHold & { fulfillmentOrderId: string })[] {
    return this.fosOf(this.order(orderId)).flatMap((fo) =>
      fo.holds.map((h) => ({ ...h, fulfillmentOrderId: fo.id })),
    );
  }

  fulfillmentOrderStatus(fulfillmentOrderId: string): FulfillmentOrderStatus {
    const fo = this.fos.get(fulfillmentOrderId);
    if (!fo) throw new Error(`FakeShopify: no fulfillment order ${fulfillmentOrderId}`);
    return fo.status;
  }

  listSubscriptions(): FakeSubscription[] {
    return [...this.subscriptions.values()].map((s) => ({ ...s }));
  }

  // ---- webhooks (sent by the fake) -------------------------------------------------------------

  /**
   * Sends `topic` about an order to every subscription of that topic, signed with the app's
   * secret like Shopify: base64 HMAC-SHA256 of the raw body. A fresh webhook id per delivery.
   */
  async triggerWebhook(
    topic: string,
    orderId: string,
    signing: { secret: string; shopDomain: string },
  ): Promise<WebhookDelivery[]> {
    const o = this.order(orderId);
    const body = JSON.stringify(this.restOrder(o));
    const out: WebhookDelivery[] = [];
    for (const sub of this.subscriptions.values()) {
      if (sub.topic !== topic) continue;
      const webhookId = randomUUID();
      const triggeredAt = new Date(this.deps.now()).toISOString();
      this.sent.set(webhookId, { topic, body, triggeredAt });
      out.push(await this.post(sub.uri, webhookId, topic, body, triggeredAt, signing));
    }
    return out;
  }

  /** Shopify retries and duplicates: the same webhook id, body and signature once more. */
  async redeliver(
    webhookId: string,
    signing: { secret: string; shopDomain: string },
  ): Promise<WebhookDelivery[]> {
    const sent = this.sent.get(webhookId);
    if (!sent) throw new Error(`FakeShopify: no webhook ${webhookId} was sent`);
    const out: WebhookDelivery[] = [];
    for (const sub of this.subscriptions.values()) {
      if (sub.topic === sent.topic) {
        out.push(await this.post(sub.uri, webhookId, sent.topic, sent.body, sent.triggeredAt, signing));
      }
    }
    return out;
  }

  /** The headers and body Shopify would send (for tests that post it themselves). */
  signedWebhook(
    topic: string,
    orderId: string,
    signing: { secret: string; shopDomain: string },
  ): { headers: Record<string, string>; rawBody: Buffer } {
    const body = JSON.stringify(this.restOrder(this.order(orderId)));
    return {
      headers: this.webhookHeaders(
        randomUUID(),
        topic,
        body,
        new Date(this.deps.now()).toISOString(),
        signing,
      ),
      rawBody: Buffer.from(body),
    };
  }

  private webhookHeaders(
    webhookId: string,
    topic: string,
    body: string,
    triggeredAt: string,
    signing: { secret: string; shopDomain: string },
  ): Record<string, string> {
    return {
      'Content-Type': 'application/json',
      'X-Shopify-Topic': TOPIC_HEADER[topic] ?? topic.toLowerCase().replace('_', '/'),
      'X-Shopify-Hmac-Sha256': createHmac('sha256', signing.secret).update(body, 'utf8').digest('base64'),
      'X-Shopify-Shop-Domain': signing.shopDomain,
      'X-Shopify-API-Version': this.deps.apiVersion,
      'X-Shopify-Webhook-Id': webhookId,
      'X-Shopify-Triggered-At': triggeredAt,
      'X-Shopify-Event-Id': webhookId,
    };
  }

  private async post(
    uri: string,
    webhookId: string,
    topic: string,
    body: string,
    triggeredAt: string,
    signing: { secret: string; shopDomain: string },
  ): Promise<WebhookDelivery> {
    let status: number | null = null;
    try {
      const res = await fetch(uri, {
        method: 'POST',
        headers: this.webhookHeaders(webhookId, topic, body, triggeredAt, signing),
        body,
        signal: AbortSignal.timeout(5000),
      });
      status = res.status;
      await res.arrayBuffer();
    } catch {
      status = null;
    }
    const d = { webhookId, topic, uri, status };
    this.webhookLog.push(d);
    return d;
  }

  /** The REST-shaped order payload of `orders/*` webhooks (the fields a receiver relies on). */
  private restOrder(o: Order): Source {
    return {
      id: o.num,
      admin_graphql_api_id: o.id,
      name: o.name,
      email: o.email,
      financial_status: o.financialStatus.toLowerCase(),
      fulfillment_status:
        this.fulfillmentSearchStatus(o) === 'unfulfilled' ? null : this.fulfillmentSearchStatus(o),
      cancelled_at: o.cancelledAt,
      closed_at: o.closedAt,
      updated_at: o.updatedAt,
      line_items: o.lines.map((l) => ({
        id: l.num,
        admin_graphql_api_id: l.id,
        sku: l.sku,
        quantity: l.quantity,
        fulfillable_quantity: this.unfulfilled(l),
      })),
    };
  }

  // ---- internals ------------------------------------------------------------------------------

  private order(id: string): Order {
    const o = this.orders.get(id);
    if (!o) throw new Error(`FakeShopify: no order ${id}`);
    return o;
  }

  private fosOf(o: Order): FulfillmentOrder[] {
    return o.foIds.map((id) => this.fos.get(id) as FulfillmentOrder);
  }

  private unfulfilled(l: Line): number {
    return Math.max(0, l.quantity - l.refunded - l.fulfilled);
  }

  /** OPEN → IN_PROGRESS → CLOSED by what remains; ON_HOLD while any hold is on. */
  private settleStatus(fo: FulfillmentOrder): void {
    if (fo.status === 'CLOSED' || fo.status === 'CANCELLED') return;
    const remaining = fo.lines.reduce((s, l) => s + l.remaining, 0);
    if (remaining === 0) {
      fo.status = 'CLOSED';
      fo.holds = [];
    } else if (fo.holds.length > 0) fo.status = 'ON_HOLD';
    else fo.status = fo.lines.some((l) => l.remaining < l.total) ? 'IN_PROGRESS' : 'OPEN';
    fo.updatedAt = this.stamp();
  }

  private fulfillmentSearchStatus(o: Order): 'unfulfilled' | 'partial' | 'fulfilled' {
    const fulfilled = o.lines.reduce((s, l) => s + l.fulfilled, 0);
    const open = o.lines.reduce((s, l) => s + this.unfulfilled(l), 0);
    if (open === 0 && fulfilled > 0) return 'fulfilled';
    return fulfilled > 0 ? 'partial' : 'unfulfilled';
  }

  private matches(o: Order, e: Expr): boolean {
    switch (e.op) {
      case 'and':
        return e.parts.every((p) => this.matches(o, p));
      case 'or':
        return e.parts.some((p) => this.matches(o, p));
      case 'not':
        return !this.matches(o, e.part);
      case 'term':
        return this.termMatches(o, e);
    }
  }

  private termMatches(o: Order, t: { field: string | null; cmp: Cmp; value: string }): boolean {
    const v = t.value.toLowerCase();
    const eqOnly = () => {
      if (t.cmp !== '=') throw notImplemented(`the comparator ${t.cmp} on "${t.field}:"`);
    };
    switch (t.field) {
      case 'financial_status':
        eqOnly();
        return o.financialStatus.toLowerCase() === v;
      case 'fulfillment_status': {
        eqOnly();
        const s = this.fulfillmentSearchStatus(o);
        if (v === 'unfulfilled' || v === 'unshipped') return s === 'unfulfilled';
        if (v === 'shipped' || v === 'fulfilled') return s === 'fulfilled';
        if (v === 'partial') return s === 'partial';
        throw notImplemented(`fulfillment_status:${t.value}`);
      }
      case 'status':
        eqOnly();
        if (v === 'any') return true;
        if (v === 'open') return o.closedAt === null && o.cancelledAt === null;
        if (v === 'closed') return o.closedAt !== null;
        if (v === 'cancelled') return o.cancelledAt !== null;
        throw notImplemented(`status:${t.value}`);
      case 'updated_at':
      case 'created_at': {
        const at = Date.parse(t.field === 'updated_at' ? o.updatedAt : o.createdAt);
        const want = Date.parse(t.value);
        if (Number.isNaN(want)) throw new GraphQLError(`Invalid date in search query: ${t.value}`);
        return t.cmp === '>='
          ? at >= want
          : t.cmp === '<='
            ? at <= want
            : t.cmp === '>'
              ? at > want
              : t.cmp === '<'
                ? at < want
                : at === want;
      }
      default:
        throw notImplemented(`the order search filter "${t.field}:"`);
    }
  }

  private writeMetafield(
    o: Order,
    input: { namespace: string; key: string; type: string; value: string },
  ): Metafield {
    const k = `${input.namespace}.${input.key}`;
    const at = new Date(this.deps.now()).toISOString();
    const existing = o.metafields.get(k);
    if (existing) {
      existing.value = input.value;
      existing.updatedAt = at;
      return existing;
    }
    const m: Metafield = {
      id: this.deps.gid('Metafield').id,
      namespace: input.namespace,
      key: input.key,
      type: input.type,
      value: input.value,
      createdAt: at,
      updatedAt: at,
    };
    o.metafields.set(k, m);
    return m;
  }

  // ---- views ----------------------------------------------------------------------------------

  private metafieldView(o: Order, m: Metafield): Source {
    return {
      __typename: 'Metafield',
      id: m.id,
      legacyResourceId: String(gidNum(m.id)),
      namespace: m.namespace,
      key: m.key,
      type: m.type,
      value: m.value,
      jsonValue: () => (m.type === 'json' ? JSON.parse(m.value) : m.value),
      compareDigest: metafieldDigest(m),
      createdAt: m.createdAt,
      updatedAt: m.updatedAt,
      ownerType: 'ORDER',
      owner: () => this.orderView(o),
    };
  }

  /** A MoneyBag; presentment money is the shop money (the fake has no multi-currency). */
  private moneyBag(o: Order, amount: number): Source {
    const money = { __typename: 'MoneyV2', amount: String(amount), currencyCode: o.currency };
    return { __typename: 'MoneyBag', shopMoney: money, presentmentMoney: money };
  }

  private lineView(o: Order, l: Line): Source {
    return {
      __typename: 'LineItem',
      id: l.id,
      sku: l.sku,
      name: l.title,
      title: l.title,
      quantity: l.quantity,
      currentQuantity: l.quantity - l.refunded,
      unfulfilledQuantity: this.unfulfilled(l),
      refundableQuantity: l.quantity - l.refunded,
      originalUnitPriceSet: this.moneyBag(o, l.unitPrice),
      discountedUnitPriceAfterAllDiscountsSet: this.moneyBag(o, l.paidUnitPrice),
      nonFulfillableQuantity: 0,
      requiresShipping: false,
      isGiftCard: false,
      variantTitle: null,
      vendor: null,
      order: () => this.orderView(o),
    };
  }

  private holdView(h: FakeHold): Source {
    return {
      __typename: 'FulfillmentHold',
      id: h.id,
      handle: h.handle,
      reason: h.reason,
      reasonNotes: h.reasonNotes,
      displayReason: h.reason.replace(/_/g, ' ').toLowerCase(),
      heldByRequestingApp: h.byApp,
    };
  }

  private supportedActions(fo: FulfillmentOrder): string[] {
    switch (fo.status) {
      case 'OPEN':
        return ['CREATE_FULFILLMENT', 'HOLD', 'MOVE'];
      case 'IN_PROGRESS':
        return ['CREATE_FULFILLMENT', 'HOLD'];
      case 'ON_HOLD':
        return ['RELEASE_HOLD', 'HOLD'];
      default:
        return [];
    }
  }

  private foView(fo: FulfillmentOrder): Source {
    const o = this.order(fo.orderId);
    return {
      __typename: 'FulfillmentOrder',
      id: fo.id,
      status: fo.status,
      orderId: o.id,
      orderName: o.name,
      createdAt: o.createdAt,
      updatedAt: fo.updatedAt,
      requestStatus: 'UNSUBMITTED',
      order: () => this.orderView(o),
      fulfillmentHolds: fo.holds.map((h) => this.holdView(h)),
      supportedActions: this.supportedActions(fo).map((action) => ({
        __typename: 'FulfillmentOrderSupportedAction',
        action,
        externalUrl: null,
      })),
      assignedLocation: () => ({
        __typename: 'FulfillmentOrderAssignedLocation',
        name: 'Shop location',
        location: this.deps.locationView(this.deps.locationId),
      }),
      lineItems: (a: Args) =>
        this.deps.connection(
          fo.lines,
          a,
          (l) => gidNum(l.id),
          (l) => {
            const line = o.lines.find((x) => x.id === l.lineId) as Line;
            return {
              __typename: 'FulfillmentOrderLineItem',
              id: l.id,
              sku: line.sku,
              productTitle: line.title,
              variantTitle: null,
              totalQuantity: l.total,
              remainingQuantity: l.remaining,
              requiresShipping: false,
              lineItem: () => this.lineView(o, line),
            };
          },
        ),
    };
  }

  private fulfillmentView(o: Order, f: FakeFulfillment): Source {
    return {
      __typename: 'Fulfillment',
      id: f.id,
      legacyResourceId: String(gidNum(f.id)),
      name: `${o.name}-F${o.fulfillments.indexOf(f) + 1}`,
      status: 'SUCCESS',
      displayStatus: 'FULFILLED',
      createdAt: f.createdAt,
      updatedAt: f.createdAt,
      totalQuantity: f.lines.reduce((s, l) => s + l.quantity, 0),
      requiresShipping: false,
      order: () => this.orderView(o),
      fulfillmentLineItems: (a: Args) =>
        this.deps.connection(
          f.lines.map((l, i) => ({ ...l, i })),
          a,
          (l) => l.i,
          (l) => ({
            __typename: 'FulfillmentLineItem',
            id: `gid://shopify/FulfillmentLineItem/${gidNum(f.id)}${l.i}`,
            quantity: l.quantity,
            lineItem: () => this.lineView(o, o.lines.find((x) => x.id === l.lineItemId) as Line),
          }),
        ),
    };
  }

  private orderView(o: Order): Source {
    const fulfillment = this.fulfillmentSearchStatus(o);
    const onHold = this.fosOf(o).some((fo) => fo.status === 'ON_HOLD');
    return {
      __typename: 'Order',
      id: o.id,
      legacyResourceId: String(o.num),
      name: o.name,
      number: o.num,
      email: o.email,
      currencyCode: o.currency,
      presentmentCurrencyCode: o.currency,
      createdAt: o.createdAt,
      updatedAt: o.updatedAt,
      processedAt: o.createdAt,
      displayFinancialStatus: o.financialStatus,
      displayFulfillmentStatus: onHold
        ? 'ON_HOLD'
        : fulfillment === 'fulfilled'
          ? 'FULFILLED'
          : fulfillment === 'partial'
            ? 'PARTIALLY_FULFILLED'
            : 'UNFULFILLED',
      cancelledAt: o.cancelledAt,
      closed: o.closedAt !== null,
      closedAt: o.closedAt,
      fullyPaid: ['PAID', 'PARTIALLY_REFUNDED', 'REFUNDED'].includes(o.financialStatus),
      test: false,
      lineItems: (a: Args) =>
        this.deps.connection(
          o.lines,
          a,
          (l) => l.num,
          (l) => this.lineView(o, l),
        ),
      fulfillmentOrders: (a: Args) => {
        if (typeof a.query === 'string' && a.query.trim() !== '')
          throw notImplemented('fulfillmentOrders(query:)');
        // `displayable` (default false here): Shopify hides closed/cancelled ones only when asked.
        const list = this.fosOf(o).filter((fo) => a.displayable !== true || fo.status !== 'CANCELLED');
        return this.deps.connection(
          list,
          a,
          (fo) => fo.num,
          (fo) => this.foView(fo),
        );
      },
      fulfillments: (a: Args) => {
        if (typeof a.query === 'string' && a.query.trim() !== '')
          throw notImplemented('fulfillments(query:)');
        const list = o.fulfillments.map((f) => this.fulfillmentView(o, f));
        return typeof a.first === 'number' ? list.slice(0, a.first) : list;
      },
      metafield: (a: Args) => {
        if (a.namespace == null)
          throw notImplemented('Order.metafield without a namespace (app-reserved $app)');
        const m = o.metafields.get(`${String(a.namespace)}.${String(a.key)}`);
        return m ? this.metafieldView(o, m) : null;
      },
      metafields: (a: Args) => {
        const keys = Array.isArray(a.keys) ? (a.keys as string[]) : null;
        const list = [...o.metafields.values()].filter(
          (m) =>
            (a.namespace == null || m.namespace === a.namespace) &&
            (!keys || keys.includes(`${m.namespace}.${m.key}`)),
        );
        return this.deps.connection(
          list,
          a,
          (m) => gidNum(m.id),
          (m) => this.metafieldView(o, m),
        );
      },
    };
  }

  // ---- GraphQL roots --------------------------------------------------------------------------

  nodeView(id: string, type: string): Source | null | undefined {
    if (type === 'Order') {
      const o = this.orders.get(id);
      return o ? this.orderView(o) : null;
    }
    if (type === 'FulfillmentOrder') {
      const fo = this.fos.get(id);
      return fo ? this.foView(fo) : null;
    }
    if (type === 'Fulfillment') return this.fulfillmentById(id);
    return undefined;
  }

  private fulfillmentById(id: string): Source | null {
    for (const o of this.orders.values()) {
      const f = o.fulfillments.find((x) => x.id === id);
      if (f) return this.fulfillmentView(o, f);
    }
    return null;
  }

  queryFields(): Source {
    return {
      order: (a: Args) => {
        const o = this.orders.get(String(a.id));
        return o ? this.orderView(o) : null;
      },
      fulfillmentOrder: (a: Args) => {
        const fo = this.fos.get(String(a.id));
        return fo ? this.foView(fo) : null;
      },
      fulfillment: (a: Args) => this.fulfillmentById(String(a.id)),
      orders: (a: Args) => this.ordersConnection(a),
      webhookSubscriptions: (a: Args) => {
        if (a.query != null || a.callbackUrl != null || a.format != null) {
          throw notImplemented('webhookSubscriptions(query:/callbackUrl:/format:)');
        }
        const topics = Array.isArray(a.topics) ? (a.topics as string[]) : null;
        const list = [...this.subscriptions.values()].filter(
          (s) => (!topics || topics.includes(s.topic)) && (a.uri == null || s.uri === a.uri),
        );
        return this.deps.connection(
          list,
          a,
          (s) => gidNum(s.id),
          (s) => this.subscriptionView(s),
        );
      },
    };
  }

  private ordersConnection(a: Args): Source {
    if (a.savedSearchId != null) throw notImplemented('orders(savedSearchId:)');
    const sortKey = (a.sortKey as string | undefined) ?? 'ID';
    if (sortKey !== 'ID' && sortKey !== 'UPDATED_AT') throw notImplemented(`orders(sortKey: ${sortKey})`);
    const expr = typeof a.query === 'string' && a.query.trim() !== '' ? parseOrderSearch(a.query) : null;
    const all = [...this.orders.values()].filter((o) => !expr || this.matches(o, expr));
    if (sortKey === 'ID') {
      return this.deps.connection(
        all,
        a,
        (o) => o.num,
        (o) => this.orderView(o),
      );
    }
    if (a.before != null || a.last != null) throw notImplemented('orders(sortKey: UPDATED_AT) backwards');
    // Sorted by (updatedAt, id); the cursor carries both, like Shopify's.
    let list = all.sort((x, y) => x.updatedAt.localeCompare(y.updatedAt) || x.num - y.num);
    if (a.reverse === true) list.reverse();
    if (typeof a.after === 'string') {
      const c = decodeSortCursor(a.after);
      const dir = a.reverse === true ? -1 : 1;
      list = list.filter((o) => dir * (o.updatedAt.localeCompare(c.value) || o.num - c.num) > 0);
    }
    const first = typeof a.first === 'number' ? a.first : list.length;
    const page = list.slice(0, first);
    const nodes = page.map((o) => this.orderView(o));
    const cursors = page.map((o) => encodeSortCursor(o.num, o.updatedAt));
    return {
      nodes,
      edges: page.map((_o, i) => ({ cursor: cursors[i], node: nodes[i] })),
      pageInfo: {
        hasNextPage: list.length > first,
        hasPreviousPage: typeof a.after === 'string',
        startCursor: cursors[0] ?? null,
        endCursor: cursors[cursors.length - 1] ?? null,
      },
    };
  }

  private subscriptionView(s: FakeSubscription): Source {
    return {
      __typename: 'WebhookSubscription',
      id: s.id,
      legacyResourceId: String(gidNum(s.id)),
      topic: s.topic,
      uri: s.uri,
      format: s.format,
      filter: null,
      name: null,
      includeFields: [],
      metafieldNamespaces: [],
      metafields: [],
      createdAt: s.createdAt,
      updatedAt: s.createdAt,
      apiVersion: {
        __typename: 'ApiVersion',
        handle: this.deps.apiVersion,
        displayName: this.deps.apiVersion,
        supported: true,
      },
    };
  }

  /** Mutations keyed by root field; each returns the payload and whether it changed state. */
  mutationFields(): Record<string, (a: Args) => Applied> {
    return {
      metafieldsSet: (a) => this.metafieldsSet(a.metafields as Args[]),
      fulfillmentCreate: (a) => this.fulfillmentCreate(a.fulfillment as Args),
      fulfillmentOrderHold: (a) => this.hold(String(a.id), a.fulfillmentHold as Args),
      fulfillmentOrderReleaseHold: (a) =>
        this.release(String(a.id), a.holdIds as string[] | null | undefined),
      webhookSubscriptionCreate: (a) => this.subscribe(String(a.topic), a.webhookSubscription as Args),
    };
  }

  private metafieldsSet(inputs: Args[]): Applied {
    const errors: Source[] = [];
    const err = (i: number, field: string, code: string, message: string) =>
      errors.push({
        __typename: 'MetafieldsSetUserError',
        field: ['metafields', String(i), field],
        code,
        message,
        elementIndex: i,
      });
    if (inputs.length > 25) {
      return {
        failed: true,
        payload: {
          metafields: null,
          userErrors: [
            {
              __typename: 'MetafieldsSetUserError',
              field: ['metafields'],
              code: 'LESS_THAN_OR_EQUAL_TO',
              message: 'Exceeded the maximum metafields input limit of 25.',
              elementIndex: null,
            },
          ],
        },
      };
    }
    const plan: { o: Order; namespace: string; key: string; type: string; value: string }[] = [];
    for (const [i, m] of inputs.entries()) {
      const ownerId = String(m.ownerId);
      if (!/^gid:\/\/shopify\/Order\/\d+$/.test(ownerId))
        throw notImplemented(`metafieldsSet on owners other than Order (${ownerId})`);
      const o = this.orders.get(ownerId);
      if (!o) {
        err(i, 'ownerId', 'INVALID', 'Owner does not exist.');
        continue;
      }
      if (m.namespace == null) throw notImplemented('metafieldsSet without a namespace (app-reserved $app)');
      const namespace = String(m.namespace);
      const key = String(m.key);
      if (!/^[A-Za-z0-9_-]{2,255}$/.test(namespace)) {
        err(i, 'namespace', 'INVALID', 'Namespace is invalid.');
        continue;
      }
      if (!/^[A-Za-z0-9_-]{2,64}$/.test(key)) {
        err(i, 'key', 'INVALID', 'Key is invalid.');
        continue;
      }
      const existing = o.metafields.get(`${namespace}.${key}`);
      const type = (m.type as string | null | undefined) ?? existing?.type;
      if (!type) {
        err(i, 'type', 'BLANK', "Type can't be blank.");
        continue;
      }
      if (!METAFIELD_TYPES.has(type)) throw notImplemented(`metafield type ${type}`);
      if (existing && existing.type !== type) {
        err(i, 'type', 'INVALID_TYPE', `Type must be ${existing.type}, the type of the existing metafield.`);
        continue;
      }
      const value = String(m.value);
      if (type === 'single_line_text_field' && /[\r\n]/.test(value)) {
        err(i, 'value', 'INVALID_VALUE', 'Value must be a single line of text.');
        continue;
      }
      if (type === 'json') {
        try {
          JSON.parse(value);
        } catch {
          err(i, 'value', 'INVALID_VALUE', 'Value is invalid JSON.');
          continue;
        }
      }
      if (type === 'number_integer' && !/^-?\d+$/.test(value)) {
        err(i, 'value', 'INVALID_VALUE', 'Value must be an integer.');
        continue;
      }
      if (value.length > TEXT_VALUE_LIMIT) {
        err(i, 'value', 'TOO_LONG', `Value is too long (maximum is ${TEXT_VALUE_LIMIT} characters).`);
        continue;
      }
      // Compare-and-set: explicit null = "must not exist yet"; a string = the digest read earlier.
      if ('compareDigest' in m) {
        const digest = m.compareDigest as string | null;
        const current = existing ? metafieldDigest(existing) : null;
        if (digest !== current) {
          err(
            i,
            'compareDigest',
            'STALE_OBJECT',
            'The resource has been updated since it was loaded. Try again with an updated `compareDigest` value.',
          );
          continue;
        }
      }
      plan.push({ o, namespace, key, type, value });
    }
    // Atomic: one refused metafield leaves every other one untouched.
    if (errors.length > 0) return { failed: true, payload: { metafields: null, userErrors: errors } };
    const written = plan.map((p) => ({ o: p.o, m: this.writeMetafield(p.o, p) }));
    return {
      failed: false,
      payload: { metafields: written.map((w) => this.metafieldView(w.o, w.m)), userErrors: [] },
    };
  }

  private fulfillmentCreate(input: Args): Applied {
    const fail = (message: string, field: string[] | null = ['fulfillment']): Applied => ({
      failed: true,
      payload: { fulfillment: null, userErrors: [{ __typename: 'UserError', field, message }] },
    });
    if (input.trackingInfo != null || input.originAddress != null)
      throw notImplemented('fulfillmentCreate tracking/origin');
    const groups = input.lineItemsByFulfillmentOrder as Args[];
    if (groups.length === 0)
      return fail('Line items by fulfillment order must contain at least one fulfillment order.');
    const plan: { fl: FoLine; fo: FulfillmentOrder; qty: number }[] = [];
    let order: Order | undefined;
    for (const g of groups) {
      const fo = this.fos.get(String(g.fulfillmentOrderId));
      if (!fo)
        return fail('Fulfillment order does not exist.', [
          'fulfillment',
          'lineItemsByFulfillmentOrder',
          'fulfillmentOrderId',
        ]);
      const o = this.order(fo.orderId);
      if (order && order !== o) return fail('Fulfillment orders must belong to the same order.');
      order = o;
      if (fo.status === 'ON_HOLD')
        return fail(`Fulfillment order ${fo.id} is on hold and cannot be fulfilled.`);
      if (fo.status !== 'OPEN' && fo.status !== 'IN_PROGRESS') {
        return fail(`Fulfillment order ${fo.id} has an unfulfillable status= ${fo.status.toLowerCase()}.`);
      }
      const wanted = g.fulfillmentOrderLineItems as Args[] | null | undefined;
      // No line items given: everything that remains in that fulfillment order.
      const items =
        wanted ?? fo.lines.filter((l) => l.remaining > 0).map((l) => ({ id: l.id, quantity: l.remaining }));
      for (const it of items) {
        const fl = fo.lines.find((l) => l.id === it.id);
        const qty = it.quantity as number;
        if (!fl) return fail('Invalid fulfillment order line item id.');
        if (qty <= 0) return fail('Quantity must be greater than 0.');
        const already = plan.filter((p) => p.fl === fl).reduce((s, p) => s + p.qty, 0);
        if (already + qty > fl.remaining)
          return fail('Invalid fulfillment order line item quantity requested.');
        plan.push({ fl, fo, qty });
      }
    }
    if (!order || plan.length === 0) return fail('No line items to fulfill.');
    const o = order;
    const f: FakeFulfillment = {
      id: this.deps.gid('Fulfillment').id,
      orderId: o.id,
      createdAt: this.stamp(),
      notifyCustomer: input.notifyCustomer === true,
      lines: [],
    };
    for (const p of plan) {
      p.fl.remaining -= p.qty;
      const line = o.lines.find((l) => l.id === p.fl.lineId) as Line;
      line.fulfilled += p.qty;
      const same = f.lines.find((l) => l.lineItemId === line.id);
      if (same) same.quantity += p.qty;
      else f.lines.push({ lineItemId: line.id, quantity: p.qty });
    }
    for (const fo of new Set(plan.map((p) => p.fo))) this.settleStatus(fo);
    o.fulfillments.push(f);
    o.updatedAt = this.stamp();
    if (f.notifyCustomer) {
      this.outbox.push({
        to: o.email,
        template: 'shipping_confirmation',
        orderId: o.id,
        fulfillmentId: f.id,
        codesMetafield: o.metafields.get('psnb2b.codes')?.value ?? null,
      });
    }
    return { failed: false, payload: { fulfillment: this.fulfillmentView(o, f), userErrors: [] } };
  }

  private hold(id: string, input: Args): Applied {
    const fo = this.fos.get(id);
    const fail = (code: string, message: string, field: string[] | null = null): Applied => ({
      failed: true,
      payload: {
        fulfillmentHold: null,
        fulfillmentOrder: fo ? this.foView(fo) : null,
        remainingFulfillmentOrder: null,
        userErrors: [{ __typename: 'FulfillmentOrderHoldUserError', code, field, message }],
      },
    });
    if (!fo) return fail('FULFILLMENT_ORDER_NOT_FOUND', 'Fulfillment order not found.', ['id']);
    if (Array.isArray(input.fulfillmentOrderLineItems) && input.fulfillmentOrderLineItems.length > 0)
      throw notImplemented('partial holds (fulfillmentOrderLineItems)');
    if (!this.supportedActions(fo).includes('HOLD')) {
      return {
        failed: true,
        payload: {
          fulfillmentHold: null,
          fulfillmentOrder: this.foView(fo),
          remainingFulfillmentOrder: null,
          userErrors: [
            {
              __typename: 'FulfillmentOrderHoldUserError',
              code: null,
              field: ['id'],
              message: `Cannot hold a fulfillment order with status ${fo.status.toLowerCase()}.`,
            },
          ],
        },
      };
    }
    const handle = (input.handle as string | null | undefined) ?? '';
    const mine = fo.holds.filter((h) => h.byApp);
    if (mine.some((h) => (h.handle ?? '') === handle)) {
      return fail(
        'DUPLICATE_FULFILLMENT_HOLD_HANDLE',
        'The handle provided for the fulfillment hold is already in use by this app for another hold on this fulfillment order.',
        ['fulfillmentHold', 'handle'],
      );
    }
    if (mine.length >= 10)
      return fail(
        'FULFILLMENT_ORDER_HOLD_LIMIT_REACHED',
        'The maximum number of fulfillment holds for this fulfillment order has been reached for this app.',
      );
    const hold: FakeHold = {
      id: this.deps.gid('FulfillmentHold').id,
      handle: handle === '' ? null : handle,
      reason: String(input.reason),
      reasonNotes: (input.reasonNotes as string | null | undefined) ?? null,
      byApp: true,
    };
    fo.holds.push(hold);
    this.settleStatus(fo);
    this.order(fo.orderId).updatedAt = this.stamp();
    return {
      failed: false,
      payload: {
        fulfillmentHold: this.holdView(hold),
        fulfillmentOrder: this.foView(fo),
        remainingFulfillmentOrder: null,
        userErrors: [],
      },
    };
  }

  private release(id: string, holdIds: string[] | null | undefined): Applied {
    const fo = this.fos.get(id);
    const fail = (code: string, message: string): Applied => ({
      failed: true,
      payload: {
        fulfillmentOrder: fo ? this.foView(fo) : null,
        userErrors: [{ __typename: 'FulfillmentOrderReleaseHoldUserError', code, field: ['id'], message }],
      },
    });
    if (!fo) return fail('FULFILLMENT_ORDER_NOT_FOUND', 'Fulfillment order not found.');
    if (fo.status !== 'ON_HOLD')
      return fail(
        'INVALID_ACCESS',
        `Cannot release a fulfillment order with status ${fo.status.toLowerCase()}.`,
      );
    // Without holdIds Shopify releases every hold, the merchant's included: the reason callers must pass ids.
    const drop = holdIds == null ? fo.holds : fo.holds.filter((h) => holdIds.includes(h.id));
    fo.holds = fo.holds.filter((h) => !drop.includes(h));
    this.settleStatus(fo);
    this.order(fo.orderId).updatedAt = this.stamp();
    return { failed: drop.length === 0, payload: { fulfillmentOrder: this.foView(fo), userErrors: [] } };
  }

  private subscribe(topic: string, input: Args): Applied {
    const fail = (message: string, field: string[]): Applied => ({
      failed: true,
      payload: { webhookSubscription: null, userErrors: [{ __typename: 'UserError', field, message }] },
    });
    if (
      input.filter != null ||
      input.includeFields != null ||
      input.metafieldNamespaces != null ||
      input.metafields != null
    ) {
      throw notImplemented('webhookSubscriptionCreate filter/includeFields/metafields');
    }
    if (input.format != null && input.format !== 'JSON') throw notImplemented('XML webhooks');
    const uri = typeof input.uri === 'string' ? input.uri : '';
    if (uri === '') return fail("Address can't be blank", ['webhookSubscription', 'uri']);
    let url: URL;
    try {
      url = new URL(uri);
    } catch {
      return fail('Address is invalid', ['webhookSubscription', 'uri']);
    }
    const loopback = ['127.0.0.1', 'localhost', '[::1]'].includes(url.hostname);
    if (url.protocol !== 'https:' && !(url.protocol === 'http:' && loopback)) {
      return fail('Address protocol http:// is not supported', ['webhookSubscription', 'uri']);
    }
    if ([...this.subscriptions.values()].some((s) => s.topic === topic && s.uri === uri)) {
      return fail('Address for this topic has already been taken', ['webhookSubscription', 'uri']);
    }
    const s: FakeSubscription = {
      id: this.deps.gid('WebhookSubscription').id,
      topic,
      uri,
      format: 'JSON',
      createdAt: new Date(this.deps.now()).toISOString(),
    };
    this.subscriptions.set(s.id, s);
    return { failed: false, payload: { webhookSubscription: this.subscriptionView(s), userErrors: [] } };
  }
}

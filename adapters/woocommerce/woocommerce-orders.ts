import { createHmac, timingSafeEqual } from 'node:crypto';
import { StorefrontError } from '../../src/errors.js';
import { deliveryNote, markersIn, resentNote } from '../../src/fulfillment/delivery-text.js';
import type { Logger } from '../../src/log.js';
import { decimalTextToCents } from '../../src/money.js';
import type {
  Delivery,
  DeliveryAttempt,
  ResendOutcome,
  ShopOrder,
  ShopOrders,
  WebhookVerdict,
} from '../../src/storefront.js';
import type { WooCommerceClient } from './woocommerce-client.js';
import {
  DELIVERY_META_KEY,
  type DeliveryMeta,
  HOLD_META_KEY,
  isHoldMeta,
  mergeDelivery,
  parseDeliveryMeta,
} from './woocommerce-delivery-meta.js';
import { holdState, isClosed, isPaid, unitsToFulfill, type WooOrderFacts } from './woocommerce-paid-rules.js';

/**
 * Order intake and delivery for one WooCommerce store (the `ShopOrders` port).
 *
 * Intake pages `GET orders` by `modified_after` (store time, GMT), oldest first. Each delivery
 * is two shop writes — a customer note with the codes (WooCommerce emails it), then one `PUT`
 * carrying our meta and, when the delivery completes the order, the `completed` status — and
 * each step reads back first (the notes, the order), so running a step again after a crash
 * never writes a second note or counts units twice. The fewest calls: the order the core read
 * right before the attempt is the `PUT`'s read-back (the note does not change the order), and
 * a first attempt, which cannot have written a note yet, reads no notes back — a delivery is
 * one `GET` of the order, one `POST` of the note, one `PUT`. Codes appear only in the note body
 * sent to the store: never in logs, meta or errors.
 */

export interface WooOrdersOptions {
  store: string;
  client: WooCommerceClient;
  unpaidMethods: readonly string[];
  /** The secret our webhooks are registered with; without one every delivery is rejected. */
  webhookSecret: string | undefined;
  log: Logger;
  now: () => number;
}

const INTAKE_STATUSES = 'processing,completed,on-hold,cancelled,refunded';
const PER_PAGE = 100;
/** A runaway guard for intake paging (100 orders a page). */
const MAX_PAGES = 1_000;
const DAY_MS = 24 * 60 * 60_000;
const WEBHOOK_TOPICS = ['order.created', 'order.updated'] as const;
/** What markersIn() can find again: a delivery id of any other shape would never be recognised. */
const DELIVERY_ID = /^[0-9a-f-]{36}$/;
/** Printable ASCII without spaces or backslashes (WooCommerce strips backslashes from notes). */
const NOTE_SAFE_CODE = /^[\x21-\x5b\x5d-\x7e]+$/;

interface RawLine {
  id: number;
  sku: string | null;
  quantity: number;
  /** The line's `total`: after coupons, before tax, in the order's currency. */
  totalCents: number;
}

interface RawOrder {
  id: number;
  number: string;
  status: string;
  dateModifiedGmt: string;
  datePaidGmt: string | null;
  paymentMethod: string;
  billingEmail: string | null;
  currency: string;
  lines: RawLine[];
  refundIds: number[];
  meta: Map<string, unknown>;
}

interface RawNote {
  note: string;
  customerNote: boolean;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v);

/** `2025-06-01T12:00:00` (WordPress GMT, no zone) → ISO 8601 UTC. */
function gmtToIso(s: string): string | undefined {
  const ms = Date.parse(/[zZ]|[+-]\d{2}:?\d{2}$/.test(s) ? s : `${s}Z`);
  return Number.isFinite(ms) ? new Date(ms).toISOString() : undefined;
}

/** WordPress date parameter, GMT, whole seconds (with dates_are_gmt=true). */
function wpGmt(ms: number): string {
  return new Date(Math.floor(ms / 1000) * 1000).toISOString().slice(0, 19);
}

function header(headers: Record<string, string | string[] | undefined>, name: string): string | undefined {
  for (const [k, v] of Object.entries(headers)) {
    if (k.toLowerCase() !== name) continue;
    return Array.isArray(v) ? v[0] : v;
  }
  return undefined;
}

export class WooCommerceOrders implements ShopOrders {
  readonly deliverySteps = ['note', 'record'] as const;
  /**
   * Steps of earlier versions (meta, then status, as two PUTs): a delivery recorded as far as
   * `meta` resumes with `record` (its meta read-back skips the meta), one at `complete` is done.
   */
  readonly retiredSteps = { meta: 'note', complete: 'record' } as const;

  private readonly store: string;
  private readonly client: WooCommerceClient;
  private readonly unpaidMethods: readonly string[];
  private readonly webhookSecret: string | undefined;
  private readonly log: Logger;
  private readonly now: () => number;
  /** One read-modify-write at a time per order (meta is merged, not appended). */
  private readonly locks = new Map<string, Promise<unknown>>();
  /** What each order we handed out was read from: a delivery step's read-back, without a second GET. */
  private readonly readings = new WeakMap<ShopOrder, { raw: RawOrder; facts: WooOrderFacts }>();

  constructor(opts: WooOrdersOptions) {
    this.store = opts.store;
    this.client = opts.client;
    this.unpaidMethods = opts.unpaidMethods;
    this.webhookSecret = opts.webhookSecret;
    this.log = opts.log;
    this.now = opts.now;
  }

  // -- intake --

  async listChangedOrders(since: string | null): Promise<{ orders: ShopOrder[]; latest: string | null }> {
    // No cursor yet: the last day by the store's clock (its Date header), not ours.
    const sinceMs = since === null ? this.now() + (this.client.clockSkewMs ?? 0) - DAY_MS : Date.parse(since);
    if (!Number.isFinite(sinceMs)) {
      throw this.error(`since is not an ISO 8601 time`, { retryable: false });
    }
    // modified_after is strict and whole-second: start one second earlier to include `since`.
    let after = Math.floor(sinceMs / 1000) * 1000 - 1000;
    let page = 1;
    const byId = new Map<number, RawOrder>();
    for (let i = 0; i < MAX_PAGES; i++) {
      const res = await this.client.get<unknown>('orders', {
        params: {
          status: INTAKE_STATUSES,
          modified_after: wpGmt(after),
          dates_are_gmt: 'true',
          orderby: 'modified',
          order: 'asc',
          per_page: PER_PAGE,
          page,
        },
      });
      if (!Array.isArray(res.data)) throw this.badResponse('GET', 'orders', 'expected an array of orders');
      const items = res.data.map((o, j) => this.parseOrder(o, `[${j}]`));
      for (const o of items) byId.set(o.id, o);
      const last = items.at(-1);
      if (!last || items.length < PER_PAGE || page >= (res.totalPages ?? page)) break;
      // Keyset paging: an order modified while we page moves to the end instead of shifting
      // an unseen one onto a page we already read. Ties within one second fall back to pages.
      const next = Date.parse(`${last.dateModifiedGmt}Z`) - 1000;
      if (next > after) {
        after = next;
        page = 1;
      } else page++;
    }
    const raws = [...byId.values()].sort(
      (a, b) => a.dateModifiedGmt.localeCompare(b.dateModifiedGmt) || a.id - b.id,
    );
    const orders = await Promise.all(raws.map((r) => this.toShopOrder(r)));
    const latest = raws.at(-1);
    return { orders, latest: latest ? (gmtToIso(latest.dateModifiedGmt) ?? null) : null };
  }

  async getOrder(orderId: string): Promise<ShopOrder | null> {
    const raw = await this.fetchOrder(orderId);
    return raw ? this.toShopOrder(raw) : null;
  }

  // -- delivery --

  runDeliveryStep(step: string, delivery: Delivery, attempt?: DeliveryAttempt): Promise<void> {
    return this.serial(delivery.orderId, async () => {
      this.checkDelivery(delivery);
      if (step === 'note') await this.stepNote(delivery, attempt?.nothingWrittenYet === true);
      else if (step === 'record') await this.stepRecord(delivery, attempt);
      else throw this.error(`unknown delivery step "${step}"`, { retryable: false });
    });
  }

  /** The note; read back first unless the delivery's recovery point says no write of it can have left. */
  private async stepNote(d: Delivery, nothingWrittenYet: boolean): Promise<void> {
    const notes = nothingWrittenYet ? [] : await this.listNotes(d.orderId);
    if (notes.some((n) => markersIn(n.note).includes(d.deliveryId))) {
      this.log.debug('woocommerce: delivery note already in the order', this.ctx(d));
      return;
    }
    const codes = d.lines.flatMap((l) => l.codes);
    // A create: not retried after an unknown outcome. The core runs the step again, and the
    // read-back above finds the note if the store did write it.
    await this.postCodesNote(d.orderId, deliveryNote(codes, d.deliveryId), codes);
    this.log.info('woocommerce: delivery note written', { ...this.ctx(d), codes: codes.length });
  }

  /**
   * A new customer note (emailed) with the same codes and the same marker: the delivery read-back
   * (is a note with this marker there?) keeps answering yes, and no second delivery is recorded.
   */
  resendDelivery(d: Delivery): Promise<ResendOutcome> {
    return this.serial(d.orderId, async () => {
      this.checkDelivery(d);
      const codes = d.lines.flatMap((l) => l.codes);
      // A create, never retried here: a resend that may have reached the buyer is not sent twice.
      await this.postCodesNote(d.orderId, resentNote(codes, d.deliveryId), codes);
      this.log.info('woocommerce: delivery note sent again', { ...this.ctx(d), codes: codes.length });
      return { kind: 'resent', how: 'a new customer note, emailed to the buyer' };
    });
  }

  /** A customer note carrying codes; an error never carries them. */
  private async postCodesNote(
    orderId: string,
    note: string,
    codes: readonly { code: string }[],
  ): Promise<void> {
    try {
      await this.client.post(`orders/${orderId}/notes`, { note, customer_note: true });
    } catch (e) {
      throw this.withoutCodes(
        e,
        codes.map((c) => c.code),
      );
    }
  }

  /**
   * Our meta and, when this delivery completes the order, its status: one `PUT` after one read —
   * the order as read right before this attempt when we read it (the note step changes neither
   * its meta nor its status), else a read now.
   */
  private async stepRecord(d: Delivery, attempt: DeliveryAttempt | undefined): Promise<void> {
    const reading = attempt ? this.readings.get(attempt.readBefore) : undefined;
    const raw = reading?.raw ?? (await this.mustFetch(d.orderId));
    const lineIds = new Set(raw.lines.map((l) => String(l.id)));
    const unknown = d.lines.find((l) => !lineIds.has(l.lineId));
    if (unknown) {
      throw this.error(`order ${d.orderId} has no line item ${unknown.lineId}`, { retryable: false });
    }
    const current = this.deliveryMetaOf(raw);
    const recorded = current?.deliveries.includes(d.deliveryId) === true;
    const units: Record<string, number> = {};
    for (const l of d.lines) units[l.lineId] = (units[l.lineId] ?? 0) + l.codes.length;
    const value = recorded
      ? current
      : mergeDelivery(current, {
          deliveryId: d.deliveryId,
          supplierOrderIds: d.supplierOrderIds,
          deliveredAt: d.deliveredAt,
          units,
        });
    // The refunds are read only when completing is in question.
    const complete =
      d.completesOrder &&
      this.mayComplete(d, raw, {
        ...(reading?.facts ?? (await this.facts(raw))),
        delivered: value?.lines ?? {},
      });
    if (recorded && !complete) {
      this.log.debug('woocommerce: delivery already recorded in order meta', this.ctx(d));
      return;
    }
    const meta: { key: string; value: unknown }[] = [];
    if (!recorded) meta.push({ key: DELIVERY_META_KEY, value });
    // A null meta value is how WooCommerce deletes meta: meant, and only when it is there.
    if (complete && isHoldMeta(raw.meta.get(HOLD_META_KEY))) meta.push({ key: HOLD_META_KEY, value: null });
    await this.client.put(`orders/${d.orderId}`, {
      ...(meta.length > 0 && { meta_data: meta }),
      ...(complete && { status: 'completed' }),
    });
    if (!recorded)
      this.log.info('woocommerce: delivery recorded in order meta', { ...this.ctx(d), lines: value?.lines });
    if (complete) this.log.info('woocommerce: order completed', this.ctx(d));
  }

  /**
   * Completing is for an order waiting on us, and only once the store, counting this delivery,
   * shows no unit left to deliver (a line that is not ours, or a delivery not yet recorded).
   */
  private mayComplete(d: Delivery, raw: RawOrder, facts: WooOrderFacts): boolean {
    if (raw.status === 'completed') return false;
    const { ourHold } = holdState(facts);
    // A cancelled, refunded or merchant-held order is left alone.
    if (raw.status !== 'processing' && !ourHold) {
      this.log.info('woocommerce: order not completed: status is not ours to change', {
        ...this.ctx(d),
        status: raw.status,
      });
      return false;
    }
    const open = raw.lines.filter(
      (l) => unitsToFulfill(facts, { id: String(l.id), quantity: l.quantity }) > 0,
    );
    if (open.length > 0) {
      this.log.warn('woocommerce: order not completed: lines still have units to deliver', {
        ...this.ctx(d),
        lines: open.map((l) => String(l.id)),
      });
      return false;
    }
    return true;
  }

  // -- holds --

  hold(orderId: string, noteToBuyer: string): Promise<void> {
    return this.serial(orderId, async () => {
      const raw = await this.mustFetch(orderId);
      const facts = await this.facts(raw);
      const { ourHold, merchantHold } = holdState(facts);
      if (merchantHold || (!ourHold && raw.status !== 'processing')) {
        this.log.info('woocommerce: order not put on hold', {
          store: this.store,
          orderId,
          status: raw.status,
        });
        return;
      }
      if (!ourHold) {
        await this.client.put(`orders/${orderId}`, {
          status: 'on-hold',
          meta_data: [
            { key: HOLD_META_KEY, value: { reason: noteToBuyer, at: new Date(this.now()).toISOString() } },
          ],
        });
      }
      // WooCommerce strips backslashes from stored notes: compare what it will have stored.
      const stored = noteToBuyer.replace(/\\(.?)/g, '$1');
      const notes = await this.listNotes(orderId);
      if (!notes.some((n) => n.customerNote && n.note === stored)) {
        await this.client.post(`orders/${orderId}/notes`, { note: noteToBuyer, customer_note: true });
      }
      this.log.info('woocommerce: order on hold', { store: this.store, orderId });
    });
  }

  releaseHold(orderId: string): Promise<void> {
    return this.serial(orderId, async () => {
      const raw = await this.fetchOrder(orderId);
      if (!raw || !isHoldMeta(raw.meta.get(HOLD_META_KEY))) return;
      await this.client.put(`orders/${orderId}`, {
        // If the merchant moved the order on meanwhile, its status is theirs: only our meta goes.
        ...(raw.status === 'on-hold' && { status: 'processing' }),
        meta_data: [{ key: HOLD_META_KEY, value: null }],
      });
      this.log.info('woocommerce: our hold released', { store: this.store, orderId });
    });
  }

  // -- webhooks --

  verifyWebhook(req: {
    headers: Record<string, string | string[] | undefined>;
    rawBody: Buffer;
  }): WebhookVerdict {
    const hasWcHeaders = Object.keys(req.headers).some((k) => k.toLowerCase().startsWith('x-wc-webhook-'));
    // The creation ping: form-encoded `webhook_id=N`, no X-WC headers, no signature.
    if (!hasWcHeaders && /^webhook_id=\d+$/.test(req.rawBody.toString('utf8').trim()))
      return { kind: 'ping' };
    if (!this.webhookSecret)
      return { kind: 'rejected', reason: 'no webhookSecret configured for this store' };
    const signature = header(req.headers, 'x-wc-webhook-signature');
    if (!signature) return { kind: 'rejected', reason: 'missing X-WC-Webhook-Signature' };
    const expected = createHmac('sha256', this.webhookSecret).update(req.rawBody).digest();
    const given = Buffer.from(signature, 'base64');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      return { kind: 'rejected', reason: 'signature does not match' };
    }
    const eventId = header(req.headers, 'x-wc-webhook-delivery-id');
    const topic = header(req.headers, 'x-wc-webhook-topic');
    if (!eventId || !topic) return { kind: 'rejected', reason: 'missing X-WC-Webhook-Delivery-ID or -Topic' };
    if (!(WEBHOOK_TOPICS as readonly string[]).includes(topic)) {
      return { kind: 'ignored', eventId, reason: `topic ${topic}` };
    }
    let id: unknown;
    try {
      id = (JSON.parse(req.rawBody.toString('utf8')) as { id?: unknown }).id;
    } catch {
      return { kind: 'rejected', reason: 'body is not JSON' };
    }
    if (!Number.isSafeInteger(id) || (id as number) <= 0)
      return { kind: 'rejected', reason: 'body has no order id' };
    return { kind: 'order', eventId, orderId: String(id) };
  }

  async ensureWebhooks(publicUrl: string): Promise<void> {
    if (!this.webhookSecret) {
      this.log.warn('woocommerce: no webhookSecret: webhooks not registered, polling only', {
        store: this.store,
      });
      return;
    }
    const url = `${publicUrl.replace(/\/+$/, '')}/webhooks/woocommerce/${encodeURIComponent(this.store)}`;
    const existing: { id: number; topic: string; deliveryUrl: string; status: string }[] = [];
    for (let page = 1, pages = 1; page <= pages && page <= MAX_PAGES; page++) {
      const res = await this.client.get<unknown>('webhooks', { params: { per_page: PER_PAGE, page } });
      if (!Array.isArray(res.data))
        throw this.badResponse('GET', 'webhooks', 'expected an array of webhooks');
      for (const w of res.data) {
        if (!isObject(w) || !Number.isSafeInteger(w.id))
          throw this.badResponse('GET', 'webhooks', 'a webhook lacks id');
        existing.push({
          id: w.id as number,
          topic: String(w.topic ?? ''),
          deliveryUrl: String(w.delivery_url ?? ''),
          status: String(w.status ?? ''),
        });
      }
      pages = res.totalPages ?? 1;
    }
    for (const topic of WEBHOOK_TOPICS) {
      const mine = existing.find((w) => w.topic === topic && w.deliveryUrl.replace(/\/+$/, '') === url);
      if (mine) {
        // The secret is write-only, so it cannot be compared: set it again (idempotent), and
        // re-activate a webhook WooCommerce disabled after failed deliveries.
        await this.client.put(`webhooks/${mine.id}`, { secret: this.webhookSecret, status: 'active' });
        continue;
      }
      await this.client.post('webhooks', {
        name: `psnb2b-sync ${this.store} ${topic}`,
        topic,
        delivery_url: url,
        secret: this.webhookSecret,
        status: 'active',
      });
      this.log.info('woocommerce: webhook registered', { store: this.store, topic, url });
    }
  }

  // -- reading --

  private async fetchOrder(orderId: string): Promise<RawOrder | null> {
    if (!/^\d+$/.test(orderId)) return null;
    try {
      const res = await this.client.get<unknown>(`orders/${orderId}`);
      return this.parseOrder(res.data, '');
    } catch (e) {
      if (e instanceof StorefrontError && e.status === 404) return null;
      throw e;
    }
  }

  private async mustFetch(orderId: string): Promise<RawOrder> {
    const raw = await this.fetchOrder(orderId);
    if (!raw) throw this.error(`order ${orderId} not found`, { retryable: false, status: 404 });
    return raw;
  }

  private async listNotes(orderId: string): Promise<RawNote[]> {
    const endpoint = `orders/${orderId}/notes`;
    const res = await this.client.get<unknown>(endpoint);
    if (!Array.isArray(res.data)) throw this.badResponse('GET', endpoint, 'expected an array of notes');
    return res.data.map((n, i) => {
      if (!isObject(n) || typeof n.note !== 'string') throw this.badResponse('GET', endpoint, `[${i}].note`);
      return { note: n.note, customerNote: n.customer_note === true };
    });
  }

  /** Units refunded per line item: the refunds' negative line items, keyed by `_refunded_item_id`. */
  private async refundedUnits(raw: RawOrder): Promise<Record<string, number>> {
    const out: Record<string, number> = {};
    if (raw.refundIds.length === 0) return out;
    const endpoint = `orders/${raw.id}/refunds`;
    for (let page = 1, pages = 1; page <= pages && page <= MAX_PAGES; page++) {
      const res = await this.client.get<unknown>(endpoint, { params: { per_page: PER_PAGE, page } });
      if (!Array.isArray(res.data)) throw this.badResponse('GET', endpoint, 'expected an array of refunds');
      res.data.forEach((refund, i) => {
        const items = isObject(refund) ? refund.line_items : undefined;
        if (!Array.isArray(items)) throw this.badResponse('GET', endpoint, `[${i}].line_items`);
        items.forEach((item, j) => {
          const where = `[${i}].line_items[${j}]`;
          if (!isObject(item) || !Number.isFinite(Number(item.quantity))) {
            throw this.badResponse('GET', endpoint, `${where}.quantity`);
          }
          const meta = Array.isArray(item.meta_data) ? item.meta_data : [];
          const ref = meta.find((m) => isObject(m) && m.key === '_refunded_item_id') as
            | { value?: unknown }
            | undefined;
          const lineId = ref ? String(ref.value) : '';
          if (!/^\d+$/.test(lineId))
            throw this.badResponse('GET', endpoint, `${where}.meta_data._refunded_item_id`);
          // Refund lines carry negative quantities.
          out[lineId] = (out[lineId] ?? 0) + Math.abs(Number(item.quantity));
        });
      });
      pages = res.totalPages ?? 1;
    }
    return out;
  }

  private deliveryMetaOf(raw: RawOrder): DeliveryMeta | undefined {
    const value = raw.meta.get(DELIVERY_META_KEY);
    if (value === undefined) return undefined;
    const parsed = parseDeliveryMeta(value);
    if ('error' in parsed) {
      // Never overwrite what we cannot read: the cumulative counts would be lost.
      throw this.error(`order ${raw.id}: ${DELIVERY_META_KEY} is unreadable (${parsed.error})`, {
        retryable: false,
        code: 'bad-meta',
      });
    }
    return parsed.meta;
  }

  private async facts(raw: RawOrder): Promise<WooOrderFacts> {
    return {
      status: raw.status,
      datePaidGmt: raw.datePaidGmt,
      paymentMethod: raw.paymentMethod,
      lines: raw.lines.map((l) => ({ id: String(l.id), quantity: l.quantity })),
      refunded: await this.refundedUnits(raw),
      delivered: this.deliveryMetaOf(raw)?.lines ?? {},
      holdMeta: isHoldMeta(raw.meta.get(HOLD_META_KEY)),
    };
  }

  private async toShopOrder(raw: RawOrder): Promise<ShopOrder> {
    const facts = await this.facts(raw);
    const { ourHold, merchantHold } = holdState(facts);
    const order: ShopOrder = {
      id: String(raw.id),
      number: `#${raw.number}`,
      updatedAt: gmtToIso(raw.dateModifiedGmt) ?? raw.dateModifiedGmt,
      paid: isPaid(facts, this.unpaidMethods),
      closed: isClosed(facts),
      merchantHold,
      ourHold,
      buyerEmail: raw.billingEmail,
      currency: raw.currency,
      lines: raw.lines.map((l) => ({
        id: String(l.id),
        sku: l.sku === null || l.sku === '' ? null : l.sku,
        quantity: l.quantity,
        unitsToFulfill: unitsToFulfill(facts, { id: String(l.id), quantity: l.quantity }),
        // Rounded down: a fraction of a cent never turns a loss into a margin.
        paidUnitCents: l.quantity > 0 ? Math.floor(l.totalCents / l.quantity) : 0,
      })),
      deliveryIds: this.deliveryMetaOf(raw)?.deliveries ?? [],
    };
    this.readings.set(order, { raw, facts });
    return order;
  }

  /** Only what the rules need, checked; a misfit names the field, never its value. */
  private parseOrder(data: unknown, where: string): RawOrder {
    const path = where ? 'orders' : 'orders/:id';
    const bad = (field: string) => this.badResponse('GET', path, `order${where}.${field}`);
    if (!isObject(data)) throw bad('(not an object)');
    const {
      id,
      status,
      currency,
      date_modified_gmt,
      date_paid_gmt,
      payment_method,
      line_items,
      refunds,
      meta_data,
    } = data;
    if (!Number.isSafeInteger(id) || (id as number) <= 0) throw bad('id');
    if (typeof status !== 'string') throw bad('status');
    if (typeof currency !== 'string' || !/^[A-Z]{3}$/.test(currency)) throw bad('currency');
    if (typeof date_modified_gmt !== 'string' || !gmtToIso(date_modified_gmt)) throw bad('date_modified_gmt');
    if (date_paid_gmt !== null && date_paid_gmt !== undefined && typeof date_paid_gmt !== 'string') {
      throw bad('date_paid_gmt');
    }
    if (!Array.isArray(line_items)) throw bad('line_items');
    const lines = line_items.map((l, i) => {
      if (!isObject(l) || !Number.isSafeInteger(l.id)) throw bad(`line_items[${i}].id`);
      if (!Number.isSafeInteger(l.quantity)) throw bad(`line_items[${i}].quantity`);
      if (l.sku !== null && l.sku !== undefined && typeof l.sku !== 'string')
        throw bad(`line_items[${i}].sku`);
      const totalCents = decimalTextToCents(l.total);
      if (totalCents === null) throw bad(`line_items[${i}].total`);
      return {
        id: l.id as number,
        quantity: l.quantity as number,
        totalCents,
        sku: (l.sku as string | null | undefined) ?? null,
      };
    });
    const meta = new Map<string, unknown>();
    if (Array.isArray(meta_data)) {
      for (const m of meta_data)
        if (isObject(m) && typeof m.key === 'string' && !meta.has(m.key)) meta.set(m.key, m.value);
    }
    return {
      id: id as number,
      number:
        typeof data.number === 'string' || typeof data.number === 'number' ? String(data.number) : String(id),
      status,
      dateModifiedGmt: date_modified_gmt,
      datePaidGmt: (date_paid_gmt as string | null | undefined) || null,
      paymentMethod: typeof payment_method === 'string' ? payment_method : '',
      currency,
      billingEmail:
        isObject(data.billing) && typeof data.billing.email === 'string' && data.billing.email !== ''
          ? data.billing.email
          : null,
      lines,
      refundIds: Array.isArray(refunds)
        ? refunds
            .filter(isObject)
            .map((r) => Number(r.id))
            .filter(Number.isSafeInteger)
        : [],
      meta,
    };
  }

  // -- plumbing --

  private checkDelivery(d: Delivery): void {
    if (!/^\d+$/.test(d.orderId)) throw this.error('delivery has a malformed order id', { retryable: false });
    if (!DELIVERY_ID.test(d.deliveryId)) {
      throw this.error(`delivery id for order ${d.orderId} is not a lowercase UUID`, { retryable: false });
    }
    for (const l of d.lines) {
      for (const c of l.codes) {
        // The message names the line, never the code.
        if (!NOTE_SAFE_CODE.test(c.code)) {
          throw this.error(
            `delivery ${d.deliveryId}: a code for line ${l.lineId} has characters a note cannot carry`,
            {
              retryable: false,
            },
          );
        }
      }
    }
  }

  private serial<T>(orderId: string, task: () => Promise<T>): Promise<T> {
    const prev = this.locks.get(orderId) ?? Promise.resolve();
    const run = prev.then(task, task);
    const tail = run.catch(() => undefined);
    this.locks.set(orderId, tail);
    void tail.then(() => {
      if (this.locks.get(orderId) === tail) this.locks.delete(orderId);
    });
    return run;
  }

  /** A store error that somehow echoes a code (a message quoting the note) loses it here. */
  private withoutCodes(e: unknown, codes: string[]): unknown {
    if (!(e instanceof StorefrontError)) return e;
    if (!codes.some((c) => e.message.includes(c))) return e;
    return new StorefrontError({
      store: this.store,
      ...(e.method && { method: e.method }),
      ...(e.path && { path: e.path }),
      ...(e.status !== undefined && { status: e.status }),
      ...(e.code && { code: e.code }),
      message: 'the store refused the delivery note',
      retryable: e.retryable,
    });
  }

  private ctx(d: Delivery): Record<string, unknown> {
    return { store: this.store, orderId: d.orderId, deliveryId: d.deliveryId };
  }

  private error(
    message: string,
    opts: { retryable: boolean; status?: number; code?: string },
  ): StorefrontError {
    return new StorefrontError({ store: this.store, message, ...opts });
  }

  private badResponse(method: string, endpoint: string, field: string): StorefrontError {
    // Transient like a 5xx: a response that does not fit is retried, never acted on.
    return new StorefrontError({
      store: this.store,
      method,
      path: `/wp-json/wc/v3/${endpoint}`,
      message: `unexpected response: ${field}`,
      code: 'bad-response',
      retryable: true,
    });
  }
}

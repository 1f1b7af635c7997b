import http from 'node:http';
import https from 'node:https';
import axios, { type AxiosInstance, type AxiosResponse } from 'axios';
import type { z } from 'zod';
import type { SupplierConfig } from '../../config/schema.js';
import { AppError, type ProblemDetails, SupplierError, toSafeError } from '../errors.js';
import { type Logger, silentLogger } from '../log.js';
import { maskCode, maskCodesIn, registerSecret } from '../redact.js';
import { networkErrorCodes, provesNotSent } from './network-errors.js';
import { capBlockMs, type PacerBucket, type PacerTicket } from './pacer.js';
import {
  type Balance,
  balanceSchema,
  type Claim,
  type ClaimRequest,
  type CreatedOrder,
  claimRequestSchema,
  claimSchema,
  createdOrderSchema,
  createOrderRequestSchema,
  type Inventory,
  inventorySchema,
  type Order,
  type OrderCodes,
  type OrderItemRequest,
  orderCodesSchema,
  orderSchema,
  parseWire,
  readProblem,
  type WireParse,
} from './wire.js';

/**
 * The PSN:B2B REST client. Every call goes through the pacer, every response is validated
 * against the wire contract (wire.ts), and nothing axios throws ever leaves this module: an
 * AxiosError carries the Authorization header and the body, so it is reduced to a
 * SupplierError (method, path, status, RFC 7807 fields, failing field path) here.
 *
 * GETs are retried with jittered exponential backoff on 429, 5xx, network errors and bodies
 * that do not parse or do not fit the contract. POSTs follow the idempotency rules of the
 * design notes: only a failure that proves the request was never processed (an error raised
 * before any byte left — network-errors.ts — or a 429) is sent again, unless the supplier is configured to honour
 * `Idempotency-Key`, in which case an unknown outcome is retried under the same key.
 */

/** The slice of `pacer.ts` the client needs (a real Pacer in production and tests). */
export interface SupplierPacer {
  take(bucket: PacerBucket): Promise<PacerTicket>;
  blockUntil(bucket: PacerBucket, untilMs: number): void;
  delayFor(bucket: PacerBucket): number;
}

export type SupplierClientConfig = Pick<
  SupplierConfig,
  'baseUrl' | 'apiKey' | 'timeoutMs' | 'maxAttempts' | 'honoursIdempotencyKeys'
>;

export interface Psnb2bClientOptions {
  config: SupplierClientConfig;
  pacer: SupplierPacer;
  logger?: Logger;
  /** Fed with the HTTP `Date` header of every response (clock-skew alerts). Must not throw. */
  onServerDate?: (date: Date) => void;
  /**
   * Told of every attempt's fate (metrics, readiness): `GET /orders/{id}` and the HTTP status,
   * or `refused` (never reached the supplier) / `network` (timeout, reset). Must not throw.
   */
  onAttempt?: (endpoint: string, status: string) => void;
  /** First backoff delay; doubles per attempt, jittered to 50–100 %. Default 500 ms. */
  backoffBaseMs?: number;
  /** Backoff ceiling. Default 30 000 ms. */
  backoffMaxMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
  /** In [0, 1): the jitter source. */
  random?: () => number;
}

export interface ClientStats {
  /** HTTP requests that reached the network (a refused connection or a DNS failure does not count). */
  calls: number;
  /** Attempts after the first, over all calls. */
  retries: number;
  /** 429 answers received. */
  rateLimited: number;
}

export interface PostOptions {
  /** The purchase intent's UUID: the same key for every attempt of one intent. */
  idempotencyKey: string;
}

export interface CreateOrderOptions extends PostOptions {
  /** Echoed back by the supplier; we send the intent's UUID. */
  reference?: string;
}

/**
 * Outcomes of a POST:
 * - `created`: the 2xx body, validated.
 * - `rejected`: a 4xx problem (400/401/402/404/409/422 …): the supplier did not act on it.
 * - `not-sent`: every attempt failed in a way that proves nothing was processed (refused,
 *   DNS, 429): safe to send again later under the same key.
 * - `unknown`: it may have been processed (timeout or reset after sending, 5xx, a 2xx whose
 *   body does not parse or fit). Park it unless the supplier honours idempotency keys.
 *   `sentAt` is when the first such attempt went out.
 */
export type PostResult<T> =
  | { kind: 'created'; value: T }
  | { kind: 'rejected'; error: SupplierError }
  | { kind: 'not-sent'; error: SupplierError }
  | { kind: 'unknown'; error: SupplierError; sentAt: number };

export type CreateOrderResult =
  | { kind: 'created'; order: CreatedOrder }
  | { kind: 'rejected'; error: SupplierError }
  | { kind: 'not-sent'; error: SupplierError }
  | { kind: 'unknown'; error: SupplierError; sentAt: number };

export type CreateClaimResult =
  | { kind: 'created'; claim: Claim }
  | { kind: 'rejected'; error: SupplierError }
  | { kind: 'not-sent'; error: SupplierError }
  | { kind: 'unknown'; error: SupplierError; sentAt: number };

/** What the rest of the project depends on (the daemon, the CLI, benchmarks). */
export interface SupplierApi {
  getInventory(): Promise<Inventory>;
  getBalance(): Promise<Balance>;
  createOrder(items: readonly OrderItemRequest[], opts: CreateOrderOptions): Promise<CreateOrderResult>;
  getOrder(id: string): Promise<Order>;
  getOrderCodes(id: string): Promise<OrderCodes>;
  createClaim(req: ClaimRequest, opts: PostOptions): Promise<CreateClaimResult>;
  /** How long a call other than `POST /orders` would wait for the pacer now (0: it goes at once). */
  generalDelayMs(): number;
}

interface Endpoint {
  method: 'GET' | 'POST';
  /** The request path below the base URL, ids included (never a query string). */
  path: string;
  /** The path with ids as `{id}`: what metrics count by (an id is not a label). */
  route: string;
  bucket: PacerBucket;
}

/** One attempt, classified by what it proves about the request. */
type Attempt<T> =
  | { kind: 'ok'; value: T }
  | { kind: 'rejected'; error: SupplierError }
  | { kind: 'not-sent'; error: SupplierError; retryAfterMs?: number }
  | { kind: 'unknown'; error: SupplierError };

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

export class Psnb2bClient implements SupplierApi {
  readonly stats: ClientStats = { calls: 0, retries: 0, rateLimited: 0 };
  private readonly http: AxiosInstance;
  private readonly config: SupplierClientConfig;
  private readonly pacer: SupplierPacer;
  private readonly log: Logger;
  private readonly onServerDate: ((date: Date) => void) | undefined;
  private readonly onAttempt: ((endpoint: string, status: string) => void) | undefined;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly now: () => number;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  /** POSTs use fresh connections: a keep-alive socket the server closed while idle would turn a
   *  perfectly good order into an unknown outcome (reset after sending). */
  private readonly postAgents = {
    httpAgent: new http.Agent({ keepAlive: false }),
    httpsAgent: new https.Agent({ keepAlive: false }),
  };
  private readonly getAgents = {
    httpAgent: new http.Agent({ keepAlive: true, maxSockets: 4 }),
    httpsAgent: new https.Agent({ keepAlive: true, maxSockets: 4 }),
  };

  constructor(opts: Psnb2bClientOptions) {
    this.config = opts.config;
    registerSecret(opts.config.apiKey);
    if (!Number.isInteger(opts.config.maxAttempts) || opts.config.maxAttempts < 1) {
      throw new AppError('config', 'supplier.maxAttempts must be a positive integer');
    }
    this.pacer = opts.pacer;
    this.log = (opts.logger ?? silentLogger()).child({ component: 'supplier' });
    this.onServerDate = opts.onServerDate;
    this.onAttempt = opts.onAttempt;
    this.backoffBaseMs = opts.backoffBaseMs ?? 500;
    this.backoffMaxMs = opts.backoffMaxMs ?? 30_000;
    this.now = opts.now ?? Date.now;
    this.sleep = opts.sleep ?? realSleep;
    this.random = opts.random ?? Math.random;
    this.http = axios.create({
      baseURL: opts.config.baseUrl.replace(/\/+$/, ''),
      timeout: opts.config.timeoutMs,
      headers: {
        Authorization: `Bearer ${opts.config.apiKey}`,
        Accept: 'application/json',
        'User-Agent': 'psnb2b-sync',
      },
      // Every status is an answer we classify ourselves; the raw text is parsed here so that a
      // garbage body is seen as garbage rather than silently passed on as a string.
      validateStatus: () => true,
      responseType: 'text',
      transformResponse: [(data: unknown) => data],
      // A redirect is not in the contract, and following one would replay a POST elsewhere.
      maxRedirects: 0,
      maxContentLength: 64 * 1024 * 1024,
    });
  }

  /** Releases pooled sockets (keep-alive GET connections). */
  close(): void {
    this.getAgents.httpAgent.destroy();
    this.getAgents.httpsAgent.destroy();
    this.postAgents.httpAgent.destroy();
    this.postAgents.httpsAgent.destroy();
  }

  getInventory(): Promise<Inventory> {
    return this.getJson(
      { method: 'GET', path: '/inventory', route: '/inventory', bucket: 'general' },
      (body) => parseWire(inventorySchema, body),
    );
  }

  getBalance(): Promise<Balance> {
    return this.getJson({ method: 'GET', path: '/balance', route: '/balance', bucket: 'general' }, (body) =>
      parseWire(balanceSchema, body),
    );
  }

  generalDelayMs(): number {
    return this.pacer.delayFor('general');
  }

  getOrder(id: string): Promise<Order> {
    assertId(id, 'order id');
    return this.getJson(
      { method: 'GET', path: `/orders/${encodeURIComponent(id)}`, route: '/orders/{id}', bucket: 'general' },
      (body) => {
        const r = parseWire(orderSchema, body);
        if (r.ok && r.value.id !== id) {
          return { ok: false, issue: { field: 'id', message: 'is not the order asked for' }, issues: 1 };
        }
        return r;
      },
    );
  }

  /** `409` before the order is delivered: thrown as a `rejected` SupplierError with status 409. */
  getOrderCodes(id: string): Promise<OrderCodes> {
    assertId(id, 'order id');
    return this.getJson(
      {
        method: 'GET',
        path: `/orders/${encodeURIComponent(id)}/codes`,
        route: '/orders/{id}/codes',
        bucket: 'general',
      },
      (body) => {
        const r = parseWire(orderCodesSchema, body);
        if (r.ok && r.value.orderId !== id) {
          return { ok: false, issue: { field: 'orderId', message: 'is not the order asked for' }, issues: 1 };
        }
        return r;
      },
    );
  }

  async createOrder(
    items: readonly OrderItemRequest[],
    opts: CreateOrderOptions,
  ): Promise<CreateOrderResult> {
    const request = checkRequest(createOrderRequestSchema, {
      // Only the contract's members: a caller may pass richer objects (an inventory item).
      items: items.map(({ region, denomination, qty }) => ({ region, denomination, qty })),
      ...(opts.reference !== undefined && { reference: opts.reference }),
    });
    const r = await this.post(
      { method: 'POST', path: '/orders', route: '/orders', bucket: 'bulk' },
      request,
      opts.idempotencyKey,
      (body) => {
        const p = parseWire(createdOrderSchema, body);
        if (
          p.ok &&
          opts.reference !== undefined &&
          p.value.reference != null &&
          p.value.reference !== opts.reference
        ) {
          return {
            ok: false,
            issue: { field: 'reference', message: 'is not the reference sent' },
            issues: 1,
          };
        }
        return p;
      },
      [],
    );
    return r.kind === 'created' ? { kind: 'created', order: r.value } : r;
  }

  async createClaim(req: ClaimRequest, opts: PostOptions): Promise<CreateClaimResult> {
    const request = checkRequest(claimRequestSchema, {
      orderId: req.orderId,
      code: req.code,
      errorCode: req.errorCode,
      ...(req.description !== undefined && { description: req.description }),
    });
    const r = await this.post(
      { method: 'POST', path: '/claims', route: '/claims', bucket: 'general' },
      request,
      opts.idempotencyKey,
      (body) => parseWire(claimSchema, body),
      // The claimed code is bearer value: never let a problem text that quotes it reach a log.
      [request.code],
    );
    return r.kind === 'created' ? { kind: 'created', claim: r.value } : r;
  }

  // -------------------------------------------------------------------------------------------

  private async getJson<T>(ep: Endpoint, parse: (body: unknown) => WireResult<T>): Promise<T> {
    const max = this.config.maxAttempts;
    for (let attempt = 1; ; attempt++) {
      const a = await this.attempt(ep, undefined, undefined, parse, []);
      if (a.kind === 'ok') return a.value;
      if (a.kind === 'rejected') {
        this.log.warn('supplier rejected the request', { error: toSafeError(a.error) });
        throw a.error;
      }
      if (attempt >= max) {
        this.log.error('supplier call failed, giving up', { attempts: attempt, error: toSafeError(a.error) });
        throw a.error;
      }
      await this.beforeRetry(ep, attempt, a);
    }
  }

  private async post<T>(
    ep: Endpoint,
    request: unknown,
    idempotencyKey: string,
    parse: (body: unknown) => WireResult<T>,
    bearerValues: readonly string[],
  ): Promise<PostResult<T>> {
    assertIdempotencyKey(idempotencyKey);
    const body = JSON.stringify(request);
    const max = this.config.maxAttempts;
    let sentAt: number | undefined;
    for (let attempt = 1; ; attempt++) {
      const at = this.now();
      const a = await this.attempt(ep, body, idempotencyKey, parse, bearerValues);
      if (a.kind === 'ok') return { kind: 'created', value: a.value };
      if (a.kind === 'rejected') {
        this.log.warn('supplier rejected the request', { error: toSafeError(a.error) });
        return { kind: 'rejected', error: a.error };
      }
      if (a.kind === 'unknown') {
        sentAt ??= at;
        if (!this.config.honoursIdempotencyKeys) {
          this.log.error('supplier outcome unknown; not retried because idempotency keys are not honoured', {
            error: toSafeError(a.error),
          });
          return { kind: 'unknown', error: a.error, sentAt };
        }
      }
      if (attempt >= max) {
        this.log.error('supplier call failed, giving up', { attempts: attempt, error: toSafeError(a.error) });
        // Once any attempt may have been processed, the whole call's outcome is unknown.
        return sentAt !== undefined
          ? { kind: 'unknown', error: a.error, sentAt }
          : { kind: 'not-sent', error: a.error };
      }
      await this.beforeRetry(ep, attempt, a);
    }
  }

  /** Waits before the next attempt: a 429 blocks the pacer bucket, anything else backs off. */
  private async beforeRetry(ep: Endpoint, attempt: number, a: Attempt<unknown>): Promise<void> {
    this.stats.retries++;
    const retryAfterMs = a.kind === 'not-sent' ? a.retryAfterMs : undefined;
    if (retryAfterMs !== undefined) {
      // The pacer holds every caller of this bucket back, not just this one.
      this.pacer.blockUntil(ep.bucket, this.now() + retryAfterMs);
      this.log.warn('supplier rate limit hit, retrying after Retry-After', {
        attempt,
        retryAfterMs,
        error: a.kind === 'ok' ? undefined : toSafeError(a.error),
      });
      return;
    }
    const ceiling = Math.min(this.backoffMaxMs, this.backoffBaseMs * 2 ** (attempt - 1));
    const delayMs = Math.round(ceiling * (0.5 + 0.5 * this.random()));
    this.log.warn('supplier call failed, retrying', {
      attempt,
      delayMs,
      error: a.kind === 'ok' ? undefined : toSafeError(a.error),
    });
    await this.sleep(delayMs);
  }

  /** One paced HTTP exchange, classified. Never throws for I/O; only pacer (database) errors escape. */
  private async attempt<T>(
    ep: Endpoint,
    body: string | undefined,
    idempotencyKey: string | undefined,
    parse: (body: unknown) => WireResult<T>,
    bearerValues: readonly string[],
  ): Promise<Attempt<T>> {
    const ticket = await this.pacer.take(ep.bucket);
    const isPost = ep.method === 'POST';
    let res: AxiosResponse<unknown>;
    try {
      res = await this.http.request({
        method: ep.method,
        url: ep.path,
        ...(isPost && {
          data: body,
          headers: { 'Content-Type': 'application/json', 'Idempotency-Key': idempotencyKey },
        }),
        ...(isPost ? this.postAgents : this.getAgents),
      });
    } catch (e) {
      ticket.settle();
      return this.networkFailure(ep, e);
    }
    ticket.settle();
    this.stats.calls++;
    this.onAttempt?.(`${ep.method} ${ep.route}`, String(res.status));
    this.noteServerDate(res.headers.date);
    const status = res.status;
    const text = typeof res.data === 'string' ? res.data : '';
    this.log.debug('supplier response', { method: ep.method, path: ep.path, status });

    if (status >= 200 && status < 300) {
      const json = parseJson(text);
      if (!json.ok) return this.badResponse(ep, status, '(body)', 'is not JSON');
      const v = parse(json.value);
      if (!v.ok) return this.badResponse(ep, status, v.issue.field, v.issue.message);
      return { kind: 'ok', value: v.value };
    }

    const problem = problemFrom(text, bearerValues);
    if (status === 429) {
      this.stats.rateLimited++;
      const retryAfterMs = parseRetryAfter(res.headers['retry-after'], this.now());
      return {
        kind: 'not-sent',
        error: new SupplierError({
          failure: 'rate-limited',
          method: ep.method,
          path: ep.path,
          status,
          message: 'HTTP 429 rate limited',
          ...(problem && { problem }),
          ...(retryAfterMs !== undefined && { retryAfterMs }),
        }),
        ...(retryAfterMs !== undefined && { retryAfterMs }),
      };
    }
    if (status >= 500) {
      return {
        kind: 'unknown',
        error: new SupplierError({
          failure: 'unknown-outcome',
          method: ep.method,
          path: ep.path,
          status,
          message: `HTTP ${status}${problem?.title ? ` ${problem.title}` : ''}`,
          ...(problem && { problem }),
        }),
      };
    }
    if (status >= 400) {
      return {
        kind: 'rejected',
        error: new SupplierError({
          failure: 'rejected',
          method: ep.method,
          path: ep.path,
          status,
          message: `HTTP ${status}${problem?.title ? ` ${problem.title}` : ''}`,
          ...(problem && { problem }),
        }),
      };
    }
    // 1xx/3xx: not in the contract. For a POST the supplier may have acted on it.
    return this.badResponse(ep, status, '(status)', `unexpected HTTP status ${status}`);
  }

  private badResponse(ep: Endpoint, status: number, field: string, message: string): Attempt<never> {
    const error = new SupplierError({
      failure: 'bad-response',
      method: ep.method,
      path: ep.path,
      status,
      field,
      message: `response does not fit the wire contract: ${field} ${message}`,
    });
    this.log.error('supplier response does not fit the wire contract', {
      endpoint: `${ep.method} ${ep.path}`,
      field,
      error: toSafeError(error),
    });
    // A GET with a bad body is transient; a POST with one may have been processed.
    return { kind: 'unknown', error };
  }

  private networkFailure(ep: Endpoint, e: unknown): Attempt<never> {
    const codes = networkErrorCodes(e);
    const notSent = provesNotSent(e);
    if (!notSent) this.stats.calls++;
    this.onAttempt?.(`${ep.method} ${ep.route}`, notSent ? 'refused' : 'network');
    const code = codes[0] ?? 'network error';
    const error = new SupplierError({
      failure: notSent ? 'not-sent' : 'unknown-outcome',
      method: ep.method,
      path: ep.path,
      message: isTimeout(codes) ? `timed out after ${this.config.timeoutMs} ms (${code})` : code,
    });
    return notSent ? { kind: 'not-sent', error } : { kind: 'unknown', error };
  }

  private noteServerDate(header: unknown): void {
    if (!this.onServerDate || typeof header !== 'string') return;
    const date = new Date(header);
    if (Number.isNaN(date.getTime())) return;
    try {
      this.onServerDate(date);
    } catch (e) {
      this.log.warn('onServerDate hook failed', { error: toSafeError(e) });
    }
  }
}

// ---------------------------------------------------------------------------------------------

type WireResult<T> = WireParse<T>;

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  if (text.trim() === '') return { ok: false };
  try {
    return { ok: true, value: JSON.parse(text) };
  } catch {
    return { ok: false };
  }
}

/** An RFC 7807 body, if there is one; texts are cleared of anything code-like. */
function problemFrom(text: string, bearerValues: readonly string[]): ProblemDetails | undefined {
  const json = parseJson(text);
  if (!json.ok) return undefined;
  const data = readProblem(json.value);
  if (!data) return undefined;
  const clean = (s: string | undefined): string | undefined => {
    if (s === undefined) return undefined;
    let out = s;
    for (const v of bearerValues) if (v) out = out.split(v).join(maskCode(v));
    return maskCodesIn(out);
  };
  const p: ProblemDetails = { ...data };
  for (const k of ['type', 'title', 'detail', 'instance'] as const) {
    const v = clean(data[k]);
    if (v === undefined) delete p[k];
    else p[k] = v;
  }
  return p;
}

/**
 * `Retry-After` in seconds or as an HTTP date → ms from now, capped (pacer.ts): one bad header
 * must not stop the supplier for days. Undefined when absent or unreadable.
 */
export function parseRetryAfter(header: unknown, nowMs: number): number | undefined {
  if (typeof header !== 'string' || header.trim() === '') return undefined;
  const h = header.trim();
  if (/^\d+$/.test(h)) return capBlockMs(Number(h) * 1000);
  const at = Date.parse(h);
  if (Number.isNaN(at)) return undefined;
  return capBlockMs(at - nowMs);
}

function isTimeout(codes: readonly string[]): boolean {
  return codes.some((c) => c === 'ECONNABORTED' || c === 'ETIMEDOUT');
}

function assertId(id: string, what: string): void {
  if (typeof id !== 'string' || id.trim() === '' || id.length > 200) {
    throw new AppError('internal', `${what} must be a non-empty string of at most 200 characters`);
  }
}

function assertIdempotencyKey(key: string): void {
  if (typeof key !== 'string' || !/^[\x21-\x7e]{1,255}$/.test(key)) {
    throw new AppError('internal', 'Idempotency-Key must be 1–255 visible ASCII characters');
  }
}

function checkRequest<S extends z.ZodType>(schema: S, value: unknown): z.output<S> {
  const r = parseWire(schema, value);
  if (!r.ok) throw new AppError('internal', `invalid supplier request: ${r.issue.field} ${r.issue.message}`);
  return r.value;
}

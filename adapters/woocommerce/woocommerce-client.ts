import pkg from '@woocommerce/woocommerce-rest-api';
import { StorefrontError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { registerSecret } from '../../src/redact.js';
import { requestClass } from '../../src/request-class.js';
import type { CallCounts } from '../../src/storefront.js';
import { acquireQueue, type RequestQueue } from '../request-queue.js';

/**
 * A thin wrapper over the official `@woocommerce/woocommerce-rest-api` 1.0.2 client: the
 * store's one request queue (each request in its class, request-class.ts), retries with jittered
 * backoff, call counting, and one error form.
 * Every failure leaves here as a `StorefrontError` (method, path without query, status,
 * WooCommerce error code): the library's AxiosError holds the consumer secret (Basic header,
 * or the signed query string) and must never escape.
 */

// NodeNext loads the CommonJS build, whose module.exports is `{ default: Class }` (upstream #66);
// a bundler that unwraps it hands us the class itself.
const WooCommerceRestApi = pkg.default ?? (pkg as unknown as typeof pkg.default);
type WooLibrary = InstanceType<typeof WooCommerceRestApi>;

export interface RetryPolicy {
  /** Attempts in total, first included. */
  attempts: number;
  /** Backoff before attempt n+1 is random in [0, min(maxMs, baseMs · 2^n)] ("full jitter"). */
  baseMs: number;
  maxMs: number;
}

export const DEFAULT_RETRY: RetryPolicy = { attempts: 4, baseMs: 250, maxMs: 8_000 };

export interface WooClientOptions {
  /** Store name, for errors and logs. */
  store: string;
  /** Home URL exactly as the store signs OAuth (scheme, host, port). */
  url: string;
  consumerKey: string;
  consumerSecret: string;
  timeoutMs: number;
  /** Concurrent requests to this store; the queue is shared with every client of the same store. */
  concurrency: number;
  retry?: Partial<RetryPolicy>;
  log?: Logger;
  /** Test hook. */
  sleep?: (ms: number) => Promise<void>;
}

export type QueryParams = Record<string, string | number>;

export interface CallOptions {
  params?: QueryParams;
  /**
   * Safe to send again after an unknown outcome (5xx, timeout, reset). GET and PUT are; a POST
   * only when it says so (a batch that sets absolute quantities is, a create is not).
   */
  idempotent?: boolean;
  /** Per-operation counter, incremented beside the client's own totals. */
  counts?: CallCounts;
}

export interface WooResponse<T> {
  status: number;
  data: T;
  /** `X-WP-Total` / `X-WP-TotalPages`, when the store sent them. */
  total: number | undefined;
  totalPages: number | undefined;
}

const CLOCK_SKEW_WARN_MS = 5 * 60_000;

/** Errors that prove the request never reached the store: always safe to send again. */
const NOT_SENT = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH']);

interface AxiosErrorLike {
  isAxiosError: true;
  code?: string;
  response?: { status: number; data?: unknown; headers?: Record<string, unknown> };
}

function isAxiosError(e: unknown): e is AxiosErrorLike {
  return typeof e === 'object' && e !== null && (e as { isAxiosError?: unknown }).isAxiosError === true;
}

function header(headers: unknown, name: string): string | undefined {
  if (!headers || typeof headers !== 'object') return undefined;
  const h = headers as { get?: (n: string) => unknown } & Record<string, unknown>;
  const v = typeof h.get === 'function' ? h.get(name) : h[name.toLowerCase()];
  return v === undefined || v === null ? undefined : String(v);
}

function intHeader(headers: unknown, name: string): number | undefined {
  const v = header(headers, name);
  const n = v === undefined ? Number.NaN : Number(v);
  return Number.isFinite(n) ? n : undefined;
}

/** `Retry-After` in seconds or as an HTTP date. */
function retryAfterMs(headers: unknown): number | undefined {
  const v = header(headers, 'retry-after');
  if (!v) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

interface WooErrorBody {
  code: string;
  message: string;
}

function wooErrorBody(data: unknown): WooErrorBody | undefined {
  if (!data || typeof data !== 'object') return undefined;
  const d = data as Record<string, unknown>;
  return typeof d.code === 'string' && typeof d.message === 'string'
    ? { code: d.code, message: d.message }
    : undefined;
}

/** WordPress error messages carry HTML entities (`&lt;product_id&gt;`). */
function decodeEntities(s: string): string {
  return s
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&quot;/g, '"')
    .replace(/&#0?39;/g, "'")
    .replace(/&amp;/g, '&');
}

export class WooCommerceClient {
  readonly store: string;
  /** Every HTTP attempt of this client, retries included. */
  readonly calls: CallCounts = { reads: 0, writes: 0 };
  /** Store clock minus ours, from the last `Date` header (OAuth fails beyond 15 minutes). */
  clockSkewMs: number | undefined;

  private readonly api: WooLibrary;
  private readonly queue: RequestQueue;
  private readonly releaseQueue: () => void;
  private readonly retry: RetryPolicy;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly basePath: string;
  private readonly log: Logger | undefined;
  private skewWarned = false;
  private closed = false;

  constructor(opts: WooClientOptions) {
    this.store = opts.store;
    registerSecret(opts.consumerKey);
    registerSecret(opts.consumerSecret);
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.log = opts.log;
    this.sleep = opts.sleep ?? ((ms) => new Promise((r) => setTimeout(r, ms)));
    let home: URL;
    try {
      home = new URL(opts.url);
    } catch {
      throw new StorefrontError({ store: opts.store, message: 'url is not a valid URL', retryable: false });
    }
    this.basePath = `${home.pathname.replace(/\/$/, '')}/wp-json/wc/v3/`;
    try {
      this.api = new WooCommerceRestApi({
        url: opts.url,
        consumerKey: opts.consumerKey,
        consumerSecret: opts.consumerSecret,
        version: 'wc/v3',
        timeout: opts.timeoutMs,
        // Shallow-merged over the library's request options: never put headers/params here (they
        // would replace its auth). A redirect (http → https, www) would re-send signed requests
        // elsewhere and break the signature: fail clearly instead.
        axiosConfig: { maxRedirects: 0 },
      });
    } catch {
      // The library throws a non-Error OptionsException; its message names only the missing option.
      throw new StorefrontError({ store: opts.store, message: 'invalid client options', retryable: false });
    }
    const { queue, release } = acquireQueue(`woocommerce:${opts.store}:${home.origin}`, opts.concurrency);
    this.queue = queue;
    this.releaseQueue = release;
  }

  get<T>(endpoint: string, opts: Omit<CallOptions, 'idempotent'> = {}): Promise<WooResponse<T>> {
    return this.request<T>('get', endpoint, undefined, { ...opts, idempotent: true });
  }

  post<T>(endpoint: string, body: unknown, opts: CallOptions = {}): Promise<WooResponse<T>> {
    return this.request<T>('post', endpoint, body, opts);
  }

  put<T>(
    endpoint: string,
    body: unknown,
    opts: Omit<CallOptions, 'idempotent'> = {},
  ): Promise<WooResponse<T>> {
    return this.request<T>('put', endpoint, body, { ...opts, idempotent: true });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.releaseQueue();
  }

  private async request<T>(
    method: 'get' | 'post' | 'put',
    endpoint: string,
    body: unknown,
    opts: CallOptions,
  ): Promise<WooResponse<T>> {
    const upper = method.toUpperCase();
    const path = `${this.basePath}${endpoint}`;
    if (this.closed)
      throw new StorefrontError({ store: this.store, method: upper, path, message: 'client is closed' });
    if (endpoint.includes('?') || endpoint.startsWith('/')) {
      throw new StorefrontError({
        store: this.store,
        method: upper,
        path: path.split('?')[0],
        message: 'endpoint must be relative and without a query string (pass params)',
        retryable: false,
      });
    }
    const params = opts.params ?? {};
    for (let attempt = 1; ; attempt++) {
      const kind: keyof CallCounts = method === 'get' ? 'reads' : 'writes';
      try {
        const res: unknown = await this.queue.run(() => {
          this.calls[kind]++;
          if (opts.counts) opts.counts[kind]++;
          return method === 'get'
            ? this.api.get(endpoint, params)
            : method === 'post'
              ? this.api.post(endpoint, body, params)
              : this.api.put(endpoint, body, params);
        }, requestClass());
        return this.response<T>(res);
      } catch (e) {
        const { error, retryable, waitMs } = this.classify(upper, path, e, opts.idempotent === true);
        if (!retryable || attempt >= this.retry.attempts) throw error;
        this.log?.debug('woocommerce: retrying', {
          store: this.store,
          method: upper,
          path,
          status: error.status,
          code: error.code,
          attempt,
        });
        const backoff = Math.random() * Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (attempt - 1));
        const wait = Math.min(this.retry.maxMs, Math.max(backoff, waitMs ?? 0));
        // The store asks us to slow down: every job's requests to it wait too, not only this retry.
        if (error.status === 429 || error.status === 503) this.queue.pauseFor(wait);
        await this.sleep(wait);
      }
    }
  }

  private response<T>(res: unknown): WooResponse<T> {
    const r = res as { status: number; data: unknown; headers?: unknown };
    const date = header(r.headers, 'date');
    const at = date ? Date.parse(date) : Number.NaN;
    if (Number.isFinite(at)) {
      this.clockSkewMs = at - Date.now();
      // Over 5 minutes is worth an operator's look; WooCommerce refuses OAuth beyond 15.
      if (Math.abs(this.clockSkewMs) > CLOCK_SKEW_WARN_MS && !this.skewWarned) {
        this.skewWarned = true;
        this.log?.warn('woocommerce: store clock differs from ours', {
          store: this.store,
          skewSeconds: Math.round(this.clockSkewMs / 1000),
        });
      }
    }
    return {
      status: r.status,
      data: r.data as T,
      total: intHeader(r.headers, 'x-wp-total'),
      totalPages: intHeader(r.headers, 'x-wp-totalpages'),
    };
  }

  /** The only place a library error is looked at; nothing of it but status and WooCommerce code survives. */
  private classify(
    method: string,
    path: string,
    e: unknown,
    idempotent: boolean,
  ): { error: StorefrontError; retryable: boolean; waitMs: number | undefined } {
    const base = { store: this.store, method, path };
    if (!isAxiosError(e)) {
      const error = new StorefrontError({ ...base, message: 'unexpected client failure', retryable: false });
      return { error, retryable: false, waitMs: undefined };
    }
    const res = e.response;
    if (!res) {
      const code = e.code ?? 'ENETWORK';
      const notSent = NOT_SENT.has(code);
      const message =
        code === 'ECONNABORTED' || code === 'ETIMEDOUT'
          ? 'timed out'
          : notSent
            ? `store unreachable (${code})`
            : `network error (${code})`;
      // A timeout or reset after sending has an unknown outcome: only idempotent calls go again.
      const retryable = notSent || idempotent;
      return {
        error: new StorefrontError({ ...base, message, code, retryable }),
        retryable,
        waitMs: undefined,
      };
    }
    const status = res.status;
    const woo = wooErrorBody(res.data);
    if (status >= 300 && status < 400) {
      const error = new StorefrontError({
        ...base,
        status,
        message: 'store redirected the API request: set url to the exact home URL (scheme, host, port)',
        retryable: false,
      });
      return { error, retryable: false, waitMs: undefined };
    }
    const transient = status === 429 || status === 408 || status >= 500;
    // 429 means "not processed": safe even for a create. 5xx is an unknown outcome.
    const retryable = status === 429 || (transient && idempotent);
    const error = new StorefrontError({
      ...base,
      status,
      message: woo ? decodeEntities(woo.message) : `HTTP ${status}`,
      ...(woo && { code: woo.code }),
      retryable: transient,
    });
    return { error, retryable, waitMs: retryAfterMs(res.headers) };
  }
}

// The node adapter must be loaded before anything else from the library: it installs fetch.
import '@shopify/shopify-api/adapters/node';
import {
  ApiVersion,
  GraphqlQueryError,
  HttpRequestError,
  HttpResponseError,
  LogSeverity,
  Session,
  shopifyApi,
} from '@shopify/shopify-api';
import { QUERY_REFUSED, StorefrontError } from '../../src/errors.js';
import type { Logger } from '../../src/log.js';
import { registerSecret } from '../../src/redact.js';
import { requestClass } from '../../src/request-class.js';
import type { CallCounts } from '../../src/storefront.js';
import { RequestQueue } from '../request-queue.js';

/**
 * A thin wrapper over the real `@shopify/shopify-api` GraphQL client for one store:
 * - one call slot per store, shared by every client of the same shop; each attempt takes it on its
 *   own, so a failing call waits out its backoff without it and a stock push or a listing waiting
 *   (which goes before waiting delivery calls, request-slots.ts) gets in between two attempts;
 * - paced from the last `throttleStatus` Shopify reported (never a hard-coded bucket): before
 *   a call expected to cost C it waits until the bucket, extrapolated by its restore rate, holds C;
 * - the library's own retries are off (it reads `Retry-After` as milliseconds); THROTTLED, 429,
 *   5xx and network failures are retried here with jittered backoff, resending the very same
 *   document and variables — so a mutation keeps its `@idempotent(key:)`;
 * - a document the store refuses for what it is (over the cost cap, invalid: any GraphQL error but
 *   THROTTLED and server faults) is a bug, not a moment: a `QUERY_REFUSED` error naming the
 *   operation, and that document is never sent again by this process (a restart, i.e. a fix, does);
 * - the shop's clock is read from every answer's `Date` header (`clockSkewMs`);
 * - every failure becomes a `StorefrontError` that carries no token and no response body.
 */

export const API_VERSION = ApiVersion.October26;
const GRAPHQL_PATH = `/admin/api/${API_VERSION}/graphql.json`;

export interface ThrottleStatus {
  maximumAvailable: number;
  currentlyAvailable: number;
  restoreRate: number;
}

export interface RetryPolicy {
  /** Attempts for one call (THROTTLED answers are paced, not counted here, up to `throttledAttempts`). */
  attempts: number;
  baseMs: number;
  maxMs: number;
  throttledAttempts: number;
}

const PACE_MARGIN_MS = 5;
const DEFAULT_RETRY: RetryPolicy = { attempts: 5, baseMs: 500, maxMs: 20_000, throttledAttempts: 10 };

export interface ShopifyClientOptions {
  /** The store's name in config (for errors and logs). */
  store: string;
  /** `example.myshopify.com` or any `host[:port]`. */
  shop: string;
  accessToken: string;
  apiSecretKey: string;
  timeoutMs: number;
  log: Logger;
  retry?: Partial<RetryPolicy>;
  sleep?: (ms: number) => Promise<void>;
  now?: () => number;
  random?: () => number;
}

export interface ShopifyRequest {
  /** Operation name: used for counts, logs, errors and to learn how well `cost` estimates it. */
  operation: string;
  query: string;
  variables?: Record<string, unknown>;
  /** The requested cost the caller expects; the pacer waits until the bucket holds it. */
  cost: number;
  kind: 'read' | 'write';
  /** Also counted here (per push), besides the client's own totals. */
  counts?: CallCounts;
  /**
   * A write Shopify does not deduplicate (no `@idempotent`: fulfillmentCreate, holds): it is
   * re-sent only when the answer proves it was not executed (THROTTLED, 429). After a 5xx, a
   * timeout or a dropped connection the caller gets the error and reads back before writing again.
   */
  once?: boolean;
  /** The variables carry bearer values (codes): Shopify's error messages, which may echo them, are dropped. */
  sensitive?: boolean;
}

/**
 * A GraphQL document the adapter sends, with the largest variables it ever sends it with. Every
 * module that defines documents lists them, so a test can hold each to Shopify's 1,000-point cap.
 */
export interface ShopifyDocument {
  query: string;
  maxVariables: Record<string, unknown>;
  /** The `cost` the adapter paces it by at `maxVariables`, where it is sent at them (held to the store's by a test). */
  cost?: number;
}

interface CostExtension {
  requestedQueryCost?: number;
  actualQueryCost?: number | null;
  throttleStatus?: ThrottleStatus;
}

interface GraphqlErrorItem {
  message?: unknown;
  extensions?: { code?: unknown };
}

/** Pacing state and the call queue of one store, shared by every client of that shop. */
class StoreLane {
  users = 0;
  private readonly queue = new RequestQueue(1);
  /**
   * The last reported bucket, anchored at the time its answer arrived: Shopify measured it
   * earlier than that, so extrapolating from the arrival never overestimates what is left.
   */
  status: (ThrottleStatus & { at: number }) | undefined;
  /** Per operation, how much the store's requested cost exceeded the caller's estimate (≥ 1). */
  readonly costFactor = new Map<string, number>();
  /** Documents the store refused (by their text), with the refusal: never sent again. */
  readonly refused = new Map<string, StorefrontError>();
  /** The shop's clock minus ours, from the last answer's `Date` header. */
  clockSkewMs: number | undefined;

  run<T>(task: () => Promise<T>): Promise<T> {
    return this.queue.run(task, requestClass());
  }

  /** The store said "slow down" (429, 503): none of its calls starts for `ms`, not only the one told. */
  pause(ms: number): void {
    this.queue.pauseFor(ms);
  }

  /** How long to wait before a call of this cost; 0 when the bucket (as last seen) holds it. */
  waitMs(cost: number, now: number): number {
    const s = this.status;
    if (!s || s.restoreRate <= 0) return 0;
    const need = Math.min(cost, s.maximumAvailable);
    const available = Math.min(
      s.maximumAvailable,
      s.currentlyAvailable + ((now - s.at) / 1000) * s.restoreRate,
    );
    // A few ms on top: timers and clocks are coarser than a fast restore rate.
    return available >= need ? 0 : Math.ceil(((need - available) / s.restoreRate) * 1000) + PACE_MARGIN_MS;
  }
}

const lanes = new Map<string, StoreLane>();

function laneFor(shop: string): StoreLane {
  const key = shop.toLowerCase();
  let lane = lanes.get(key);
  if (!lane) {
    lane = new StoreLane();
    lanes.set(key, lane);
  }
  lane.users++;
  return lane;
}

function releaseLane(shop: string, lane: StoreLane): void {
  lane.users--;
  if (lane.users === 0 && lanes.get(shop.toLowerCase()) === lane) lanes.delete(shop.toLowerCase());
}

type Outcome =
  | { ok: true; data: unknown }
  | { ok: false; error: StorefrontError; retry: 'no' | 'backoff' | 'throttled'; retryAfterMs?: number };

export class ShopifyGraphqlClient {
  /** Calls sent by this client (every attempt counts: it is what the store saw). */
  readonly counts: CallCounts = { reads: 0, writes: 0 };
  private readonly opts: ShopifyClientOptions;
  private readonly retry: RetryPolicy;
  private readonly graphql: InstanceType<ReturnType<typeof shopifyApi>['clients']['Graphql']>;
  private readonly lane: StoreLane;
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly now: () => number;
  private readonly random: () => number;
  private closed = false;

  constructor(opts: ShopifyClientOptions) {
    registerSecret(opts.accessToken);
    registerSecret(opts.apiSecretKey);
    this.opts = opts;
    this.retry = { ...DEFAULT_RETRY, ...opts.retry };
    this.sleep = opts.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)));
    this.now = opts.now ?? Date.now;
    this.random = opts.random ?? Math.random;
    const api = shopifyApi({
      apiSecretKey: opts.apiSecretKey,
      apiVersion: API_VERSION,
      // A merchant's own Admin API token: a custom store app, no OAuth.
      isCustomStoreApp: true,
      adminApiAccessToken: opts.accessToken,
      isEmbeddedApp: false,
      // Only used to build OAuth/app URLs, which this daemon never does.
      hostName: 'localhost',
      logger: {
        level: LogSeverity.Warning,
        httpRequests: false,
        log: (_severity, message) => {
          opts.log.debug(`shopify-api: ${message}`, { component: 'shopify', store: opts.store });
        },
      },
    });
    // Built by hand: `customAppSession()` rejects hosts outside *.myshopify.com (a proxy, a fake).
    const session = new Session({
      id: `offline_${opts.shop}`,
      shop: opts.shop,
      state: '',
      isOnline: false,
      accessToken: opts.accessToken,
    });
    this.graphql = new api.clients.Graphql({ session });
    this.lane = laneFor(opts.shop);
  }

  /** The bucket as last reported by the store (undefined before the first answer). */
  get throttleStatus(): ThrottleStatus | undefined {
    const s = this.lane.status;
    return (
      s && {
        maximumAvailable: s.maximumAvailable,
        currentlyAvailable: s.currentlyAvailable,
        restoreRate: s.restoreRate,
      }
    );
  }

  /** The shop's clock minus ours, from the last `Date` header it sent (undefined before any answer). */
  get clockSkewMs(): number | undefined {
    return this.lane.clockSkewMs;
  }

  /** Runs one operation, each attempt through the store's queue; resolves with `data`, or throws a StorefrontError. */
  request<T>(req: ShopifyRequest): Promise<T> {
    if (this.closed) {
      return Promise.reject(this.error(req, 'client is closed', { retryable: false, code: 'CLOSED' }));
    }
    const refused = this.lane.refused.get(req.query);
    if (refused) return Promise.reject(refused);
    return this.attempt<T>(req);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    releaseLane(this.opts.shop, this.lane);
  }

  private async attempt<T>(req: ShopifyRequest): Promise<T> {
    let failures = 0;
    let throttled = 0;
    for (;;) {
      // A client closed while it backed off has given its lane up: no retry goes through it.
      if (this.closed) throw this.error(req, 'client is closed', { retryable: false, code: 'CLOSED' });
      // The pacing wait shares the slot with its send, so two calls never count on the same points.
      const outcome = await this.lane.run(async () => {
        const estimate = req.cost * (this.lane.costFactor.get(req.operation) ?? 1);
        const wait = this.lane.waitMs(estimate, this.now());
        if (wait > 0) await this.sleep(wait);
        return this.send(req);
      });
      if (outcome.ok) return outcome.data as T;
      const { error } = outcome;
      if (outcome.retry === 'throttled' && ++throttled < this.retry.throttledAttempts) {
        // The answer carried the bucket: the pacer now waits exactly long enough.
        if (!this.lane.status) await this.sleep(this.backoff(throttled));
        this.opts.log.debug(`shopify: ${req.operation} throttled, pacing`, {
          component: 'shopify',
          store: this.opts.store,
        });
        continue;
      }
      if (error.code === QUERY_REFUSED) {
        this.lane.refused.set(req.query, error);
        this.opts.log.error(`shopify: ${error.message}; this document is not sent again until a restart`, {
          component: 'shopify',
          store: this.opts.store,
        });
        throw error;
      }
      const neverExecuted = outcome.error.code === 'RATE_LIMITED';
      if (outcome.retry === 'backoff' && (!req.once || neverExecuted) && ++failures < this.retry.attempts) {
        const delay = Math.max(outcome.retryAfterMs ?? 0, this.backoff(failures));
        // The wait is outside the slot, so the store's other calls are held by a pause instead.
        if (error.status === 429 || error.status === 503) this.lane.pause(delay);
        this.opts.log.debug(`shopify: ${req.operation} failed (${error.message}); retry in ${delay} ms`, {
          component: 'shopify',
          store: this.opts.store,
        });
        await this.sleep(delay);
        continue;
      }
      throw error;
    }
  }

  /** Equal jitter: between half and all of base × 2^(n-1), capped — spread out, never near zero. */
  private backoff(n: number): number {
    const cap = Math.min(this.retry.maxMs, this.retry.baseMs * 2 ** (n - 1));
    return Math.round(cap / 2 + (this.random() * cap) / 2);
  }

  private async send(req: ShopifyRequest): Promise<Outcome> {
    const bucket = req.kind === 'write' ? 'writes' : 'reads';
    this.counts[bucket]++;
    if (req.counts) req.counts[bucket]++;
    try {
      const res = await this.graphql.request(req.query, {
        variables: req.variables,
        retries: 0,
        signal: AbortSignal.timeout(this.opts.timeoutMs),
      });
      this.noteClock(res.headers);
      this.learn(req, (res.extensions as { cost?: CostExtension } | undefined)?.cost);
      if (res.data === undefined || res.data === null) {
        return {
          ok: false,
          error: this.error(req, 'answer without data', { code: 'BAD_RESPONSE' }),
          retry: 'backoff',
        };
      }
      return { ok: true, data: res.data };
    } catch (e) {
      return this.classify(req, e);
    }
  }

  /** Like the other clients: the shop's `Date` against ours, for the clock-skew alert. */
  private noteClock(headers: unknown): void {
    if (!headers || typeof headers !== 'object') return;
    const entry = Object.entries(headers).find(([k]) => k.toLowerCase() === 'date')?.[1] as unknown;
    const value = Array.isArray(entry) ? entry[0] : entry;
    const at = typeof value === 'string' ? Date.parse(value) : Number.NaN;
    if (Number.isFinite(at)) this.lane.clockSkewMs = at - Date.now();
  }

  private learn(req: ShopifyRequest, cost: CostExtension | undefined): void {
    const s = cost?.throttleStatus;
    if (
      s &&
      Number.isFinite(s.maximumAvailable) &&
      Number.isFinite(s.currentlyAvailable) &&
      Number.isFinite(s.restoreRate)
    ) {
      this.lane.status = { ...s, at: this.now() };
    }
    // A caller that underestimates would be throttled over and over: scale its next estimates.
    if (typeof cost?.requestedQueryCost === 'number' && req.cost > 0) {
      this.lane.costFactor.set(req.operation, Math.max(1, cost.requestedQueryCost / req.cost));
    }
  }

  private classify(req: ShopifyRequest, e: unknown): Outcome {
    if (e instanceof GraphqlQueryError) {
      this.noteClock(e.headers);
      const body = (e.body ?? {}) as {
        extensions?: { cost?: CostExtension };
        errors?: { graphQLErrors?: GraphqlErrorItem[] };
      };
      this.learn(req, body.extensions?.cost);
      const errors = body.errors?.graphQLErrors ?? [];
      const codes = errors.map((x) =>
        typeof x.extensions?.code === 'string' ? x.extensions.code : undefined,
      );
      const first = errors[0];
      const code = codes.find((c) => c !== undefined) ?? 'GRAPHQL_ERROR';
      // A validation message can quote a variable's value; for sensitive calls only the code goes on.
      const message = typeof first?.message === 'string' && !req.sensitive ? first.message : 'GraphQL error';
      if (codes.includes('THROTTLED')) {
        return {
          ok: false,
          error: this.error(req, 'throttled', { code: 'THROTTLED', status: 200 }),
          retry: 'throttled',
        };
      }
      const more = errors.length > 1 ? ` (+${errors.length - 1} more)` : '';
      const transient = codes.some(
        (c) => c === 'INTERNAL_SERVER_ERROR' || c === 'SERVICE_UNAVAILABLE' || c === 'TIMEOUT',
      );
      if (transient) {
        return {
          ok: false,
          error: this.error(req, `${message}${more}`, { code, status: 200 }),
          retry: 'backoff',
        };
      }
      return {
        ok: false,
        error: this.error(req, `refused by Shopify (${code}): ${message}${more}`, {
          code: QUERY_REFUSED,
          status: 200,
          retryable: false,
        }),
        retry: 'no',
      };
    }
    if (e instanceof HttpResponseError) {
      this.noteClock(e.response.headers);
      const status = e.response.code;
      if (status === 429) {
        // Retry-After is in seconds (the library would read it as milliseconds).
        const after = Number(e.response.retryAfter ?? e.response.headers?.['Retry-After']);
        return {
          ok: false,
          error: this.error(req, 'HTTP 429 Too Many Requests', { status, code: 'RATE_LIMITED' }),
          retry: 'backoff',
          ...(Number.isFinite(after) && after > 0 && { retryAfterMs: after * 1000 }),
        };
      }
      if (status >= 500) {
        return {
          ok: false,
          error: this.error(req, `HTTP ${status}`, { status, code: 'SERVER_ERROR' }),
          retry: 'backoff',
        };
      }
      const code =
        status === 401
          ? 'UNAUTHORIZED'
          : status === 403
            ? 'FORBIDDEN'
            : status === 404
              ? 'NOT_FOUND'
              : 'HTTP_ERROR';
      const hint =
        status === 401
          ? ' (check the access token)'
          : status === 403
            ? ' (the app lacks a scope)'
            : status === 404
              ? ` (no Admin API ${API_VERSION} at this shop)`
              : '';
      return {
        ok: false,
        error: this.error(req, `HTTP ${status}${hint}`, { status, code, retryable: false }),
        retry: 'no',
      };
    }
    if (e instanceof HttpRequestError) {
      const timedOut = /abort|timeout/i.test(e.message);
      return {
        ok: false,
        error: this.error(
          req,
          timedOut ? `no answer within ${this.opts.timeoutMs} ms` : 'network error (no response)',
          {
            code: timedOut ? 'TIMEOUT' : 'NETWORK',
          },
        ),
        retry: 'backoff',
      };
    }
    const name = e instanceof Error ? e.name : 'Error';
    return {
      ok: false,
      error: this.error(req, `unexpected ${name}`, { code: 'INTERNAL', retryable: false }),
      retry: 'no',
    };
  }

  private error(
    req: ShopifyRequest,
    message: string,
    extra: { status?: number; code?: string; retryable?: boolean } = {},
  ): StorefrontError {
    return new StorefrontError({
      store: this.opts.store,
      method: 'POST',
      path: GRAPHQL_PATH,
      message: `${req.operation}: ${message}`,
      ...(extra.status !== undefined && { status: extra.status }),
      ...(extra.code !== undefined && { code: extra.code }),
      retryable: extra.retryable ?? true,
    });
  }
}

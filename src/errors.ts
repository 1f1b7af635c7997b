import { scrub } from './redact.js';

/**
 * The few error classes of this project. Each carries a `kind` that callers branch on, and
 * a `retryable` flag where an I/O boundary knows. Expected outcomes are typed unions elsewhere;
 * these are for what callers cannot go on from.
 */

export type ErrorKind = 'config' | 'supplier' | 'storefront' | 'database' | 'usage' | 'stopping' | 'internal';

export class AppError extends Error {
  readonly kind: ErrorKind;
  readonly retryable: boolean;
  constructor(kind: ErrorKind, message: string, opts: { retryable?: boolean; cause?: unknown } = {}) {
    super(scrub(message));
    this.name = new.target.name;
    this.kind = kind;
    this.retryable = opts.retryable ?? false;
  }
}

/** A bad config value; `path` is the key path (`supplier.apiKey`, `storefronts[1].url`). */
export class ConfigError extends AppError {
  readonly path: string;
  constructor(path: string, message: string) {
    super('config', path ? `${path}: ${message}` : message);
    this.path = path;
  }
}

export class UsageError extends AppError {
  constructor(message: string) {
    super('usage', message);
  }
}

export class DatabaseError extends AppError {
  constructor(message: string) {
    super('database', message);
  }
}

/** A run asked for while the daemon stops: refused, to be asked again once it is back. */
export class StoppingError extends AppError {
  constructor() {
    super('stopping', 'the daemon is stopping: no new run starts; ask again once it is back', {
      retryable: true,
    });
  }
}

/** RFC 7807 members the supplier sends on every error. */
export interface ProblemDetails {
  type?: string;
  title?: string;
  status?: number;
  detail?: string;
  instance?: string;
  [extension: string]: unknown;
}

export type SupplierFailure =
  /** the request never reached the supplier (refused, DNS): safe to send again */
  | 'not-sent'
  /** sent, but we do not know whether the supplier acted on it (timeout, reset, 5xx) */
  | 'unknown-outcome'
  /** the supplier answered with a problem (4xx) */
  | 'rejected'
  /** over the rate limit (429) */
  | 'rate-limited'
  /** an answer that did not parse or did not fit the wire contract */
  | 'bad-response';

export class SupplierError extends AppError {
  readonly failure: SupplierFailure;
  readonly method: string;
  readonly path: string;
  readonly status: number | undefined;
  readonly problem: ProblemDetails | undefined;
  /** For `bad-response`: the field path that failed validation (never its value). */
  readonly field: string | undefined;
  readonly retryAfterMs: number | undefined;
  constructor(args: {
    failure: SupplierFailure;
    method: string;
    path: string;
    message: string;
    status?: number;
    problem?: ProblemDetails;
    field?: string;
    retryAfterMs?: number;
  }) {
    super('supplier', `${args.method} ${args.path}: ${args.message}`, {
      retryable: args.failure !== 'rejected',
    });
    this.failure = args.failure;
    this.method = args.method;
    this.path = args.path;
    this.status = args.status;
    this.problem = args.problem;
    this.field = args.field;
    this.retryAfterMs = args.retryAfterMs;
  }
}

/**
 * `StorefrontError.code` of a request the store refused for what it *is* (a GraphQL document over
 * the cost cap or failing validation), not for the moment it came: sending it again cannot help,
 * so it is never retried and is reported by its operation name.
 */
export const QUERY_REFUSED = 'QUERY_REFUSED';

export class StorefrontError extends AppError {
  readonly store: string;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly status: number | undefined;
  readonly code: string | undefined;
  constructor(args: {
    store: string;
    message: string;
    method?: string;
    path?: string;
    status?: number;
    code?: string;
    retryable?: boolean;
  }) {
    super(
      'storefront',
      `${args.store}: ${args.method ? `${args.method} ${args.path} ` : ''}${args.message}`,
      {
        retryable: args.retryable ?? true,
      },
    );
    this.store = args.store;
    this.method = args.method;
    this.path = args.path;
    this.status = args.status;
    this.code = args.code;
  }
}

/**
 * The only error form that is logged or stored. It never carries request headers, bodies,
 * query strings or response values: an AxiosError holds the Authorization header and the
 * response body, so it is reduced to method, path, status and the RFC 7807 fields.
 */
export interface SafeError {
  kind: ErrorKind | 'network' | 'http';
  message: string;
  method?: string;
  path?: string;
  status?: number;
  code?: string;
  field?: string;
  problem?: Pick<ProblemDetails, 'type' | 'title' | 'status' | 'detail'>;
  retryable?: boolean;
}

function stripQuery(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const u = new URL(url, 'http://relative.invalid');
    return u.host === 'relative.invalid' ? u.pathname : `${u.protocol}//${u.host}${u.pathname}`;
  } catch {
    return url.split('?')[0];
  }
}

interface AxiosLike {
  isAxiosError: true;
  code?: string;
  message: string;
  config?: { method?: string; url?: string; baseURL?: string };
  response?: { status: number };
}

function isAxiosLike(e: unknown): e is AxiosLike {
  return typeof e === 'object' && e !== null && (e as { isAxiosError?: unknown }).isAxiosError === true;
}

export function toSafeError(e: unknown): SafeError {
  if (e instanceof SupplierError) {
    const p = e.problem;
    return {
      kind: 'supplier',
      message: e.message,
      method: e.method,
      path: stripQuery(e.path),
      ...(e.status !== undefined && { status: e.status }),
      ...(e.field !== undefined && { field: e.field }),
      code: e.failure,
      ...(p && {
        problem: {
          type: p.type,
          title: p.title && scrub(String(p.title)),
          status: p.status,
          detail: p.detail && scrub(String(p.detail)),
        },
      }),
      retryable: e.retryable,
    };
  }
  if (e instanceof StorefrontError) {
    return {
      kind: 'storefront',
      message: e.message,
      ...(e.method && { method: e.method }),
      ...(e.path && { path: stripQuery(e.path) }),
      ...(e.status !== undefined && { status: e.status }),
      ...(e.code && { code: e.code }),
      retryable: e.retryable,
    };
  }
  if (e instanceof AppError) return { kind: e.kind, message: e.message, retryable: e.retryable };
  if (isAxiosLike(e)) {
    const method = e.config?.method?.toUpperCase();
    const path = stripQuery(e.config?.url);
    const status = e.response?.status;
    return {
      kind: status ? 'http' : 'network',
      message: scrub(status ? `HTTP ${status}` : `${e.code ?? 'network error'}`),
      ...(method && { method }),
      ...(path && { path }),
      ...(status !== undefined && { status }),
      ...(e.code && { code: e.code }),
    };
  }
  if (e instanceof Error) {
    const code = (e as { code?: unknown }).code;
    return {
      kind: 'internal',
      message: scrub(`${e.name}: ${e.message}`),
      ...(typeof code === 'string' && { code }),
    };
  }
  return { kind: 'internal', message: scrub(String(e)) };
}

/** One line for humans: `supplier GET /inventory 503: Service Unavailable`. */
export function describeSafeError(s: SafeError): string {
  const where = [s.method, s.path, s.status].filter((x) => x !== undefined).join(' ');
  const detail = s.problem?.detail ?? s.problem?.title;
  return `${s.kind}${where ? ` ${where}` : ''}: ${s.message}${detail && !s.message.includes(detail) ? ` (${detail})` : ''}${s.field ? ` [field ${s.field}]` : ''}`;
}

import { timingSafeEqual } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { AppError, toSafeError } from '../errors.js';
import type { Logger } from '../log.js';

/**
 * The daemon's HTTP surface: `/healthz`, the bearer-token admin API the CLI uses while a
 * daemon holds the lock, and webhook routes. Every handler receives the raw body as bytes,
 * because webhook signatures are computed over exactly those bytes.
 */

export interface HttpRequest {
  method: string;
  path: string;
  query: URLSearchParams;
  headers: http.IncomingHttpHeaders;
  rawBody: Buffer;
  /** Route parameters (`:store`). */
  params: Record<string, string>;
}

export type HttpReply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  /** Newline-delimited JSON, written as it is produced (resync progress). */
  | { status: number; stream: (write: (line: unknown) => void) => Promise<void> };

export interface Route {
  method: 'GET' | 'POST';
  /** `/webhooks/woocommerce/:store` style; `:name` matches one path segment. */
  path: string;
  /** Admin routes require `server.adminToken` when one is configured. */
  admin?: boolean;
  handle: (req: HttpRequest) => Promise<HttpReply> | HttpReply;
}

const MAX_BODY = 1024 * 1024;

function matchPath(pattern: string, path: string): Record<string, string> | null {
  const a = pattern.split('/');
  const b = path.split('/');
  if (a.length !== b.length) return null;
  const params: Record<string, string> = {};
  for (let i = 0; i < a.length; i++) {
    const p = a[i] as string;
    const v = b[i] as string;
    if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(v);
    else if (p !== v) return null;
  }
  return params;
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const given = Buffer.from((header ?? '').replace(/^Bearer\s+/i, ''));
  const want = Buffer.from(token);
  return given.length === want.length && timingSafeEqual(given, want);
}

export function isLoopback(host: string): boolean {
  return host === 'localhost' || host === '::1' || host.startsWith('127.');
}

export interface ServerOptions {
  host: string;
  port: number;
  adminToken: string | undefined;
  routes: Route[];
  log: Logger;
}

export class HttpServer {
  private server: http.Server | null = null;
  constructor(private readonly opts: ServerOptions) {}

  async start(): Promise<string> {
    const server = http.createServer((req, res) => {
      this.dispatch(req, res).catch((e) => {
        // A caller's mistake (unknown intent, bad flag) is answered with its message; anything else is ours.
        const usage = e instanceof AppError && (e.kind === 'usage' || e.kind === 'config');
        if (!usage) this.opts.log.error('http handler failed', { component: 'http', error: toSafeError(e) });
        if (!res.headersSent) res.writeHead(usage ? 400 : 500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: usage ? (e as AppError).message : 'internal error' }));
      });
    });
    server.keepAliveTimeout = 5_000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  async stop(): Promise<void> {
    const s = this.server;
    if (!s) return;
    this.server = null;
    await new Promise<void>((resolve) => {
      s.close(() => resolve());
      s.closeAllConnections();
    });
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://local');
    let params: Record<string, string> | null = null;
    let route: Route | undefined;
    let pathKnown = false;
    for (const r of this.opts.routes) {
      const p = matchPath(r.path, url.pathname);
      if (!p) continue;
      pathKnown = true;
      if (r.method === req.method) {
        route = r;
        params = p;
        break;
      }
    }
    if (!route || !params) {
      res.writeHead(pathKnown ? 405 : 404, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ error: pathKnown ? 'method not allowed' : 'not found' }));
      req.resume();
      return;
    }
    if (
      route.admin &&
      this.opts.adminToken &&
      !tokenMatches(req.headers.authorization, this.opts.adminToken)
    ) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer' });
      res.end(JSON.stringify({ error: 'admin token required' }));
      req.resume();
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    for await (const chunk of req) {
      size += (chunk as Buffer).length;
      if (size > MAX_BODY) {
        res.writeHead(413, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: 'body too large' }));
        return;
      }
      chunks.push(chunk as Buffer);
    }
    const reply = await route.handle({
      method: req.method ?? 'GET',
      path: url.pathname,
      query: url.searchParams,
      headers: req.headers,
      rawBody: Buffer.concat(chunks),
      params,
    });
    if ('json' in reply) {
      res.writeHead(reply.status, { 'content-type': 'application/json', ...reply.headers });
      res.end(JSON.stringify(reply.json));
      return;
    }
    res.writeHead(reply.status, { 'content-type': 'application/x-ndjson' });
    await reply.stream((line) => res.write(`${JSON.stringify(line)}\n`));
    res.end();
  }
}

/** Parses a JSON request body into an object, or answers 400 naming the problem. */
export function jsonBody(
  req: HttpRequest,
): { ok: true; body: Record<string, unknown> } | { ok: false; reply: HttpReply } {
  if (req.rawBody.length === 0) return { ok: true, body: {} };
  try {
    const body = JSON.parse(req.rawBody.toString('utf8')) as unknown;
    if (body && typeof body === 'object' && !Array.isArray(body))
      return { ok: true, body: body as Record<string, unknown> };
  } catch {
    // fall through
  }
  return { ok: false, reply: { status: 400, json: { error: 'request body must be a JSON object' } } };
}

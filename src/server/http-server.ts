import type http from 'node:http';
import type { AddressInfo } from 'node:net';
import { PassThrough } from 'node:stream';
import Fastify, { type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import { AppError, toSafeError } from '../errors.js';
import type { Logger } from '../log.js';
import { type AdminRefusal, adminRefusal } from './admin-rules.js';
import { CSRF_HEADER, type DashboardSessions } from './dashboard-sessions.js';

/**
 * The daemon's HTTP surface on fastify: `/healthz`, the bearer-token admin API the CLI uses
 * while a daemon holds the lock, and webhook routes. Every handler receives the raw body as
 * bytes, because webhook signatures are computed over exactly those bytes. The admin rules
 * (token or dashboard session, Host, JSON only) run once, in an `onRequest` hook, before any
 * body is read. No response is framable and none carries CORS headers.
 */

export interface HttpRequest {
  method: string;
  path: string;
  headers: http.IncomingHttpHeaders;
  rawBody: Buffer;
  /** Route parameters (`:store`). */
  params: Record<string, string>;
  query: URLSearchParams;
}

export type HttpReply =
  | { status: number; json: unknown; headers?: Record<string, string> }
  /** Plain text with its own content type (Prometheus exposition). */
  | { status: number; text: string; contentType: string }
  /** A page (the dashboard); its headers carry its own Content-Security-Policy. */
  | { status: number; html: string; headers?: Record<string, string> }
  /** Newline-delimited JSON, written as it is produced (resync progress). */
  | { status: number; stream: (write: (line: unknown) => void) => Promise<void> };

export interface Route {
  method: 'GET' | 'POST';
  /** `/webhooks/:type/:store` style; `:name` matches one path segment. */
  path: string;
  /** Admin routes need the bearer token (or a dashboard session), a trusted Host and JSON bodies. */
  admin?: boolean;
  /** A page a person opens: a refusal is answered in HTML, saying how to log in. */
  page?: boolean;
  handle: (req: HttpRequest) => Promise<HttpReply> | HttpReply;
}

const MAX_BODY = 1024 * 1024;

export interface ServerOptions {
  host: string;
  port: number;
  /** The bearer token of every admin route (configured, or generated at first start). */
  adminToken: string;
  /** `server.publicUrl`: its host is accepted in `Host` besides the loopback names. */
  publicUrl: string | null;
  /** Dashboard sessions: their cookie (plus CSRF header) stands in for the bearer token. */
  sessions: DashboardSessions;
  routes: Route[];
  log: Logger;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    admin?: boolean;
    page?: boolean;
  }
}

/** What every answer carries: nothing here may be framed, sniffed, cached or leak its URL onwards. */
const SAFETY_HEADERS: Record<string, string> = {
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
  'cache-control': 'no-store',
  'content-security-policy': "default-src 'none'; frame-ancestors 'none'",
};

const LOGIN_HINT =
  'Run <code>psnb2b-sync dashboard</code> on the daemon&#39;s machine and open the one-time URL it prints.';

function refuse(reply: FastifyReply, r: AdminRefusal, page: boolean): FastifyReply {
  if (r.status === 401) reply.header('www-authenticate', 'Bearer');
  if (page) {
    const body = r.status === 401 ? LOGIN_HINT : 'Refused.';
    return reply
      .code(r.status)
      .type('text/html; charset=utf-8')
      .send(`<!doctype html><title>psnb2b-sync</title><p>${body}</p>`);
  }
  return reply.code(r.status).send({ error: r.error });
}

const header = (v: string | string[] | undefined) => (Array.isArray(v) ? v[0] : v);

function build(opts: ServerOptions): FastifyInstance {
  const app = Fastify({ logger: false, bodyLimit: MAX_BODY, return503OnClosing: true });
  // Every body stays bytes: webhooks verify their HMAC over them, admin handlers parse JSON themselves.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  app.addHook('onRequest', async (req, reply) => {
    reply.headers(SAFETY_HEADERS);
    const admin = req.routeOptions.config.admin === true;
    const refusal = adminRefusal(
      {
        admin,
        method: req.method,
        host: req.headers.host,
        authorization: req.headers.authorization,
        session: admin ? opts.sessions.fromCookie(req.headers.cookie) : null,
        csrfHeader: header(req.headers[CSRF_HEADER]),
        origin: req.headers.origin,
        contentType: req.headers['content-type'],
        hasBody:
          req.headers['transfer-encoding'] !== undefined || Number(req.headers['content-length'] ?? 0) > 0,
      },
      { token: opts.adminToken, publicUrl: opts.publicUrl },
    );
    if (refusal) return refuse(reply, refusal, req.routeOptions.config.page === true);
  });

  app.setNotFoundHandler((_req, reply) => reply.code(404).send({ error: 'not found' }));
  app.setErrorHandler((e: Error & { statusCode?: number }, _req, reply) => {
    // A caller's mistake (unknown intent, bad flag) is answered with its message; anything else is ours.
    if (e instanceof AppError && (e.kind === 'usage' || e.kind === 'config')) {
      return reply.code(400).send({ error: e.message });
    }
    if (e instanceof AppError && e.kind === 'stopping') return reply.code(503).send({ error: e.message });
    // fastify's own refusals (body too large, unreadable body) keep their status.
    if (e.statusCode && e.statusCode >= 400 && e.statusCode < 500) {
      return reply.code(e.statusCode).send({ error: e.message });
    }
    opts.log.error('http handler failed', { component: 'http', error: toSafeError(e) });
    return reply.code(500).send({ error: 'internal error' });
  });

  for (const route of opts.routes) {
    app.route({
      method: route.method,
      url: route.path,
      config: { admin: route.admin === true, page: route.page === true },
      handler: async (req, reply) => send(reply, await route.handle(toHttpRequest(req))),
    });
  }
  return app;
}

function toHttpRequest(req: FastifyRequest): HttpRequest {
  return {
    method: req.method,
    path: req.url.split('?')[0] as string,
    headers: req.headers,
    rawBody: Buffer.isBuffer(req.body) ? req.body : Buffer.alloc(0),
    params: req.params as Record<string, string>,
    query: new URLSearchParams(req.url.split('?')[1] ?? ''),
  };
}

function send(reply: FastifyReply, r: HttpReply): FastifyReply {
  if ('text' in r) return reply.code(r.status).type(r.contentType).send(r.text);
  if ('html' in r)
    return reply
      .code(r.status)
      .headers(r.headers ?? {})
      .type('text/html; charset=utf-8')
      .send(r.html);
  if ('json' in r)
    return reply
      .code(r.status)
      .headers(r.headers ?? {})
      .send(r.json);
  const out = new PassThrough();
  void r.stream((line) => out.write(`${JSON.stringify(line)}\n`)).finally(() => out.end());
  return reply.code(r.status).type('application/x-ndjson').send(out);
}

export class HttpServer {
  private app: FastifyInstance | null = null;
  constructor(private readonly opts: ServerOptions) {}

  async start(): Promise<string> {
    const app = build(this.opts);
    app.server.keepAliveTimeout = 5_000;
    await app.listen({ port: this.opts.port, host: this.opts.host });
    this.app = app;
    const addr = app.server.address() as AddressInfo;
    const host = addr.family === 'IPv6' ? `[${addr.address}]` : addr.address;
    return `http://${host}:${addr.port}`;
  }

  async stop(): Promise<void> {
    const app = this.app;
    if (!app) return;
    this.app = null;
    app.server.closeAllConnections();
    await app.close();
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

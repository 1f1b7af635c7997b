import { createHash, timingSafeEqual } from 'node:crypto';
import { hostnameOf, isLoopbackHost } from '../../config/loopback.js';

/**
 * The rules of the control surface, as one pure decision over a request's headers. Any web page
 * the operator opens can send requests to a loopback port, so loopback is not a credential:
 * - every route: the `Host` must be a loopback name or the host of `server.publicUrl` (421:
 *   DNS rebinding);
 * - admin routes: `Authorization: Bearer <token>`, or the dashboard's session cookie (401);
 *   with the cookie, every state-changing request also carries the session's CSRF token in a
 *   header and, when the browser says where it comes from, an `Origin` of this very host (403):
 *   a page on another loopback port is the same *site*, so `SameSite` alone does not stop it;
 * - a body only as `application/json` (415: what a cross-site form or `fetch` without preflight
 *   can send is not).
 */

export interface RequestFacts {
  admin: boolean;
  method: string;
  host: string | undefined;
  authorization: string | undefined;
  /** The dashboard session named by the request's cookie, if it is live. */
  session: { csrf: string } | null;
  csrfHeader: string | undefined;
  origin: string | undefined;
  contentType: string | undefined;
  hasBody: boolean;
}

export interface AdminRefusal {
  status: 401 | 403 | 415 | 421;
  error: string;
}

export function hostAllowed(host: string | undefined, publicUrl: string | null): boolean {
  const name = host ? hostnameOf(host) : null;
  if (!name) return false;
  if (isLoopbackHost(name)) return true;
  return publicUrl !== null && new URL(publicUrl).hostname === name;
}

/** Constant-time, and independent of the lengths (both sides are hashed first). */
function sameSecret(given: string, expected: string): boolean {
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(given), digest(expected));
}

export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  return m !== null && sameSecret(m[1] as string, token);
}

const SAFE_METHODS = new Set(['GET', 'HEAD']);

function sameOrigin(origin: string | undefined, host: string | undefined): boolean {
  if (origin === undefined) return true;
  try {
    return new URL(origin).host === host;
  } catch {
    return false;
  }
}

/** Why a cookie-borne request may not act, or null when it may. */
function sessionRefusal(req: RequestFacts, session: { csrf: string }): AdminRefusal | null {
  if (SAFE_METHODS.has(req.method.toUpperCase())) return null;
  if (!sameOrigin(req.origin, req.host)) return { status: 403, error: 'cross-origin request refused' };
  if (!req.csrfHeader || !sameSecret(req.csrfHeader, session.csrf)) {
    return { status: 403, error: 'CSRF token required' };
  }
  return null;
}

function isJson(contentType: string | undefined): boolean {
  return (contentType ?? '').split(';')[0]?.trim().toLowerCase() === 'application/json';
}

export function adminRefusal(
  req: RequestFacts,
  server: { token: string; publicUrl: string | null },
): AdminRefusal | null {
  if (!hostAllowed(req.host, server.publicUrl)) {
    return { status: 421, error: 'Host is not a loopback name or the host of server.publicUrl' };
  }
  if (!req.admin) return null;
  if (!tokenMatches(req.authorization, server.token)) {
    if (!req.session) return { status: 401, error: 'admin token required' };
    const refused = sessionRefusal(req, req.session);
    if (refused) return refused;
  }
  if ((req.hasBody || req.contentType !== undefined) && !isJson(req.contentType)) {
    return { status: 415, error: 'admin routes take application/json bodies only' };
  }
  return null;
}

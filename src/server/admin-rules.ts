import { createHash, timingSafeEqual } from 'node:crypto';
import { hostnameOf, isLoopbackHost } from '../loopback.js';

/**
 * The rules of the control surface, as one pure decision over a request's headers. Any web page
 * the operator opens can send requests to a loopback port, so loopback is not a credential:
 * - every route: the `Host` must be a loopback name or the host of `server.publicUrl` (421:
 *   DNS rebinding);
 * - admin routes: `Authorization: Bearer <token>` (401), and a body only as
 *   `application/json` (415: what a cross-site form or `fetch` without preflight can send is not).
 */

export interface RequestFacts {
  admin: boolean;
  host: string | undefined;
  authorization: string | undefined;
  contentType: string | undefined;
  hasBody: boolean;
}

export interface AdminRefusal {
  status: 401 | 415 | 421;
  error: string;
}

export function hostAllowed(host: string | undefined, publicUrl: string | null): boolean {
  const name = host ? hostnameOf(host) : null;
  if (!name) return false;
  if (isLoopbackHost(name)) return true;
  return publicUrl !== null && new URL(publicUrl).hostname === name;
}

/** Constant-time, and independent of the lengths (both sides are hashed first). */
export function tokenMatches(header: string | undefined, token: string): boolean {
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header ?? '');
  if (!m) return false;
  const digest = (s: string) => createHash('sha256').update(s).digest();
  return timingSafeEqual(digest(m[1] as string), digest(token));
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
  if (!tokenMatches(req.authorization, server.token)) return { status: 401, error: 'admin token required' };
  if ((req.hasBody || req.contentType !== undefined) && !isJson(req.contentType)) {
    return { status: 415, error: 'admin routes take application/json bodies only' };
  }
  return null;
}

import { createHash, randomBytes } from 'node:crypto';

/**
 * Browser sessions of the dashboard. A browser cannot send the bearer header, so
 * `psnb2b-sync dashboard` asks the daemon (with the bearer token) for a one-time login token:
 * single use, short-lived, kept only as its hash. Redeeming it starts a session whose id
 * travels in an `HttpOnly; SameSite=Strict` cookie and whose CSRF token every state-changing
 * request must carry in a header. Only hashes are kept, in the daemon's memory: a restart
 * ends every session (log in again).
 */

export const SESSION_COOKIE = 'psnb2b_session';
export const CSRF_HEADER = 'x-csrf-token';
export const LOGIN_TTL_MS = 5 * 60_000;
export const SESSION_TTL_MS = 8 * 3_600_000;

export interface Session {
  csrf: string;
  expiresAt: number;
}

const hash = (s: string) => createHash('sha256').update(s).digest('base64url');
const secret = () => randomBytes(32).toString('base64url');

export class DashboardSessions {
  private readonly logins = new Map<string, number>();
  private readonly sessions = new Map<string, Session>();

  constructor(private readonly now: () => number = Date.now) {}

  issueLogin(): { token: string; expiresAt: number } {
    this.sweep();
    const token = secret();
    const expiresAt = this.now() + LOGIN_TTL_MS;
    this.logins.set(hash(token), expiresAt);
    return { token, expiresAt };
  }

  /** Consumes a login token: a new session, or null when it is unknown, used or expired. */
  redeem(token: string): { id: string; session: Session } | null {
    const key = hash(token);
    const expiresAt = this.logins.get(key);
    this.logins.delete(key);
    if (expiresAt === undefined || expiresAt <= this.now()) return null;
    const id = secret();
    const session = { csrf: secret(), expiresAt: this.now() + SESSION_TTL_MS };
    this.sessions.set(hash(id), session);
    return { id, session };
  }

  /** The live session named by a `Cookie` header, if any. */
  fromCookie(cookieHeader: string | undefined): Session | null {
    const id = sessionIdOf(cookieHeader);
    if (!id) return null;
    const s = this.sessions.get(hash(id));
    if (!s) return null;
    if (s.expiresAt <= this.now()) {
      this.sessions.delete(hash(id));
      return null;
    }
    return s;
  }

  end(cookieHeader: string | undefined): void {
    const id = sessionIdOf(cookieHeader);
    if (id) this.sessions.delete(hash(id));
  }

  private sweep(): void {
    const now = this.now();
    for (const [k, t] of this.logins) if (t <= now) this.logins.delete(k);
    for (const [k, s] of this.sessions) if (s.expiresAt <= now) this.sessions.delete(k);
  }
}

function sessionIdOf(cookieHeader: string | undefined): string | null {
  for (const part of (cookieHeader ?? '').split(';')) {
    const [name, ...value] = part.trim().split('=');
    if (name === SESSION_COOKIE) return value.join('=') || null;
  }
  return null;
}

/** `Set-Cookie` for a session (or, with `null`, one that clears it). */
export function sessionCookie(id: string | null, secure: boolean): string {
  return [
    `${SESSION_COOKIE}=${id ?? ''}`,
    'Path=/',
    'HttpOnly',
    'SameSite=Strict',
    `Max-Age=${id ? SESSION_TTL_MS / 1000 : 0}`,
    ...(secure ? ['Secure'] : []),
  ].join('; ');
}

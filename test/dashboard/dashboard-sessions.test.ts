import { describe, expect, it } from 'vitest';
import {
  DashboardSessions,
  LOGIN_TTL_MS,
  SESSION_TTL_MS,
  sessionCookie,
} from '../../src/server/dashboard-sessions.js';

describe('dashboard sessions', () => {
  it('a login token works once, and only before it expires', () => {
    let now = 1_000_000;
    const s = new DashboardSessions(() => now);
    const a = s.issueLogin();
    expect(s.redeem(a.token)).not.toBeNull();
    expect(s.redeem(a.token)).toBeNull();
    const b = s.issueLogin();
    now += LOGIN_TTL_MS;
    expect(s.redeem(b.token)).toBeNull();
    expect(s.redeem('made-up')).toBeNull();
  });

  it('the cookie names a session until it expires or logs out; the CSRF token is its own', () => {
    let now = 0;
    const s = new DashboardSessions(() => now);
    const one = s.redeem(s.issueLogin().token);
    const two = s.redeem(s.issueLogin().token);
    if (!one || !two) throw new Error('no session');
    const cookie = (id: string) => `other=1; psnb2b_session=${id}; more=2`;
    expect(s.fromCookie(cookie(one.id))?.csrf).toBe(one.session.csrf);
    expect(one.session.csrf).not.toBe(two.session.csrf);
    expect(s.fromCookie('psnb2b_session=forged')).toBeNull();
    expect(s.fromCookie(undefined)).toBeNull();
    s.end(cookie(one.id));
    expect(s.fromCookie(cookie(one.id))).toBeNull();
    expect(s.fromCookie(cookie(two.id))).not.toBeNull();
    now += SESSION_TTL_MS;
    expect(s.fromCookie(cookie(two.id))).toBeNull();
  });

  it('sets HttpOnly, SameSite=Strict, Path=/ always and Secure over https', () => {
    expect(sessionCookie('abc', false)).toBe(
      'psnb2b_session=abc; Path=/; HttpOnly; SameSite=Strict; Max-Age=28800',
    );
    expect(sessionCookie('abc', true)).toMatch(/; Secure$/);
    expect(sessionCookie(null, false)).toMatch(/^psnb2b_session=; .*Max-Age=0/);
  });
});

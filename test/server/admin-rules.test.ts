import { describe, expect, it } from 'vitest';
import { adminRefusal, hostAllowed, tokenMatches } from '../../src/server/admin-rules.js';

const server = { token: 'the-admin-token-0123456789abcdef', publicUrl: 'https://sync.example.com/base' };
const ok = {
  admin: true,
  method: 'POST',
  host: '127.0.0.1:8787',
  authorization: `Bearer ${server.token}` as string | undefined,
  session: null as { csrf: string } | null,
  csrfHeader: undefined as string | undefined,
  origin: undefined as string | undefined,
  contentType: 'application/json' as string | undefined,
  hasBody: true,
};

describe('the Host rule (DNS rebinding)', () => {
  it('takes the loopback names on any port and the host of publicUrl, nothing else', () => {
    for (const h of [
      '127.0.0.1',
      '127.0.0.1:1',
      'localhost:8787',
      '[::1]:9',
      'sync.example.com',
      'sync.example.com:443',
    ]) {
      expect(hostAllowed(h, server.publicUrl), h).toBe(true);
    }
    for (const h of [
      'rebind.evil.example',
      '127.0.0.1.evil.example',
      'evil.example@127.0.0.1',
      'localhost/x',
      'sync.example.com.evil.example',
      '',
      undefined,
    ]) {
      expect(hostAllowed(h, server.publicUrl), String(h)).toBe(false);
    }
    expect(hostAllowed('sync.example.com', null)).toBe(false);
  });
});

describe('admin refusals', () => {
  it('421 before anything else, then 401, then 415; webhooks only get the Host rule', () => {
    expect(adminRefusal({ ...ok, host: 'evil.example' }, server)?.status).toBe(421);
    expect(adminRefusal({ ...ok, authorization: undefined }, server)?.status).toBe(401);
    expect(adminRefusal({ ...ok, authorization: 'Bearer wrong' }, server)?.status).toBe(401);
    expect(adminRefusal({ ...ok, authorization: server.token }, server)?.status).toBe(401);
    expect(adminRefusal({ ...ok, contentType: 'text/plain' }, server)?.status).toBe(415);
    expect(adminRefusal({ ...ok, contentType: undefined }, server)?.status).toBe(415);
    expect(adminRefusal({ ...ok, contentType: undefined, hasBody: false }, server)).toBeNull();
    expect(adminRefusal(ok, server)).toBeNull();
    expect(
      adminRefusal({ ...ok, admin: false, authorization: undefined, contentType: 'text/plain' }, server),
    ).toBeNull();
  });

  it('a dashboard session stands in for the token: reads freely, acts only with its CSRF token and from its own origin', () => {
    const session = { csrf: 'the-csrf-token-of-this-session' };
    const browser = { ...ok, authorization: undefined, session };
    expect(
      adminRefusal({ ...browser, method: 'GET', hasBody: false, contentType: undefined }, server),
    ).toBeNull();
    expect(adminRefusal(browser, server)).toEqual({ status: 403, error: 'CSRF token required' });
    expect(adminRefusal({ ...browser, csrfHeader: 'wrong' }, server)?.status).toBe(403);
    expect(adminRefusal({ ...browser, csrfHeader: session.csrf }, server)).toBeNull();
    expect(
      adminRefusal({ ...browser, csrfHeader: session.csrf, origin: 'http://127.0.0.1:8787' }, server),
    ).toBeNull();
    // Another loopback port is the same site (SameSite does not stop it) but not the same origin.
    expect(
      adminRefusal({ ...browser, csrfHeader: session.csrf, origin: 'http://127.0.0.1:9999' }, server)?.status,
    ).toBe(403);
    expect(adminRefusal({ ...browser, csrfHeader: session.csrf, origin: 'null' }, server)?.status).toBe(403);
    // Even with the CSRF token, the body must be JSON; without a session, it is 401 as before.
    expect(
      adminRefusal({ ...browser, csrfHeader: session.csrf, contentType: 'text/plain' }, server)?.status,
    ).toBe(415);
    expect(adminRefusal({ ...browser, session: null, csrfHeader: session.csrf }, server)?.status).toBe(401);
  });

  it('compares tokens whatever their lengths', () => {
    expect(tokenMatches(`Bearer ${server.token}`, server.token)).toBe(true);
    expect(tokenMatches(`bearer ${server.token}`, server.token)).toBe(true);
    expect(tokenMatches(`Bearer ${server.token}x`, server.token)).toBe(false);
    expect(tokenMatches('Bearer ', server.token)).toBe(false);
  });
});

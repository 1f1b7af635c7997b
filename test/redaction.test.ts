import { describe, expect, it } from 'vitest';
import { StorefrontError, SupplierError, toSafeError } from '../src/errors.js';
import { maskCode, registerSecret, scrub } from '../src/redact.js';

describe('redaction', () => {
  it('masks codes to their last 4 characters (8 of 12 shown made guessing the rest an hour of work)', () => {
    expect(maskCode('7QXK-M2PA-R9TD')).toBe('…R9TD');
    expect(maskCode('ABCDEFGHJKLMNPQR')).toBe('…NPQR');
    expect(maskCode('SHORT')).toBe('***');
  });

  it('scrubs registered secrets and credentials from free text', () => {
    registerSecret('sk_test_abcdefghijklmnop');
    const out = scrub(
      'key sk_test_abcdefghijklmnop and Bearer abc.def-123456 and ?consumer_secret=cs_zzz&x=1',
    );
    expect(out).not.toContain('sk_test_abcdefghijklmnop');
    expect(out).not.toContain('abc.def-123456');
    expect(out).not.toContain('cs_zzz');
  });

  it('reduces an AxiosError-like object to method, path without query, and status', () => {
    const axiosErr = {
      isAxiosError: true,
      message: 'Request failed',
      code: 'ERR_BAD_RESPONSE',
      config: {
        method: 'get',
        url: 'http://shop.test/wp-json/wc/v3/products?consumer_key=ck_secret1234&oauth_signature=zz',
        headers: { Authorization: 'Bearer very-secret-token' },
      },
      response: { status: 500, data: { code: '7QXK-M2PA-R9TD' } },
    };
    const safe = toSafeError(axiosErr);
    expect(safe).toMatchObject({
      kind: 'http',
      method: 'GET',
      status: 500,
      path: 'http://shop.test/wp-json/wc/v3/products',
    });
    const text = JSON.stringify(safe);
    for (const leak of ['ck_secret1234', 'very-secret-token', '7QXK-M2PA-R9TD', 'oauth_signature']) {
      expect(text).not.toContain(leak);
    }
  });

  it('keeps the RFC 7807 fields and the failing field path of a supplier error, never a value', () => {
    const e = new SupplierError({
      failure: 'rejected',
      method: 'POST',
      path: '/orders',
      status: 402,
      message: 'insufficient balance',
      problem: {
        type: 'https://psnb2b.com/problems/insufficient-balance',
        title: 'Insufficient balance',
        status: 402,
        detail: 'need 10.00',
      },
    });
    expect(toSafeError(e)).toMatchObject({
      kind: 'supplier',
      status: 402,
      problem: { type: 'https://psnb2b.com/problems/insufficient-balance', detail: 'need 10.00' },
      retryable: false,
    });
    const s = toSafeError(
      new StorefrontError({ store: 'a', message: 'boom', method: 'POST', path: '/x?y=1', status: 503 }),
    );
    expect(s.path).toBe('/x');
  });
});

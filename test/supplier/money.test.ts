import { describe, expect, it } from 'vitest';
import { parseUsdCents } from '../../config/usd.js';
import { centsToUsd, formatUsd, usdToCents } from '../../src/money.js';

describe('parseUsdCents', () => {
  it('turns two-decimal USD numbers into exact integer cents', () => {
    expect(parseUsdCents(46.25)).toEqual({ ok: true, cents: 4625 });
    expect(parseUsdCents(7.1)).toEqual({ ok: true, cents: 710 });
    // 0.29 * 100 is 28.999999999999996 in floating point: the parse must not multiply.
    expect(parseUsdCents(0.29)).toEqual({ ok: true, cents: 29 });
    expect(parseUsdCents(1.15)).toEqual({ ok: true, cents: 115 });
    expect(parseUsdCents(0)).toEqual({ ok: true, cents: 0 });
    expect(parseUsdCents(1234.56)).toEqual({ ok: true, cents: 123456 });
    expect(parseUsdCents(497)).toEqual({ ok: true, cents: 49700 });
  });

  it('rejects more than two decimals, negatives, non-finite and non-numbers with a reason', () => {
    expect(parseUsdCents(1.005)).toEqual({ ok: false, reason: 'has more than two decimals' });
    expect(parseUsdCents(46.255)).toEqual({ ok: false, reason: 'has more than two decimals' });
    expect(parseUsdCents(1e-7)).toEqual({ ok: false, reason: 'has more than two decimals' });
    expect(parseUsdCents(-1)).toEqual({ ok: false, reason: 'must not be negative' });
    expect(parseUsdCents(Number.NaN)).toEqual({ ok: false, reason: 'must be a finite number' });
    expect(parseUsdCents(Number.POSITIVE_INFINITY)).toEqual({ ok: false, reason: 'must be a finite number' });
    expect(parseUsdCents('46.25')).toEqual({ ok: false, reason: 'must be a number' });
    expect(parseUsdCents(null)).toEqual({ ok: false, reason: 'must be a number' });
    expect(parseUsdCents(1e21)).toEqual({ ok: false, reason: 'is too large' });
    expect(parseUsdCents(1e14)).toEqual({ ok: false, reason: 'is too large' });
  });

  it('never repeats the value in its reason', () => {
    const r = parseUsdCents(98765.432);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.reason).not.toContain('98765');
  });

  it('usdToCents throws a RangeError naming what was wrong', () => {
    expect(usdToCents(5000)).toBe(500000);
    expect(() => usdToCents(1.234, 'minBalanceUsd')).toThrow('minBalanceUsd has more than two decimals');
  });
});

describe('centsToUsd / formatUsd', () => {
  it('formats cents back to a JSON number that prints with at most two decimals', () => {
    expect(centsToUsd(4625)).toBe(46.25);
    expect(JSON.stringify({ total: centsToUsd(710) })).toBe('{"total":7.1}');
    expect(JSON.stringify(centsToUsd(29))).toBe('0.29');
    expect(formatUsd(5)).toBe('0.05');
    expect(formatUsd(49700)).toBe('497.00');
    expect(formatUsd(-305)).toBe('-3.05');
    expect(() => centsToUsd(1.5)).toThrow(RangeError);
  });

  it('round-trips every amount exactly', () => {
    let x = 12345;
    for (let i = 0; i < 20_000; i++) {
      x = (x * 1103515245 + 12345) % 2 ** 31;
      const cents = (x * 977) % 100_000_000_000;
      expect(parseUsdCents(centsToUsd(cents))).toEqual({ ok: true, cents });
    }
    for (let cents = 0; cents < 10_000; cents++) {
      expect(parseUsdCents(centsToUsd(cents))).toEqual({ ok: true, cents });
    }
  });
});

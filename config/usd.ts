/**
 * USD amounts. The supplier sends JSON numbers with at most two decimals; the project holds
 * integer cents from the moment a number is parsed, and adds and compares only integers.
 *
 * The parse reads the number's shortest decimal form (what `String(n)` prints, which is exact
 * for every amount of up to 15 significant digits) instead of multiplying by 100, so `7.1`
 * becomes 710 and never 709.9999….
 */

/** 15 significant digits round-trip exactly through a double; above this cents are refused. */
export const MAX_CENTS = 999_999_999_999_999;

export type CentsParse = { ok: true; cents: number } | { ok: false; reason: string };

const PLAIN_DECIMAL = /^(\d+)(?:\.(\d+))?$/;

/**
 * A USD JSON number → integer cents. The reason never repeats the value, so it can be logged
 * next to a field path without leaking what the supplier sent.
 */
export function parseUsdCents(value: unknown): CentsParse {
  if (typeof value !== 'number') return { ok: false, reason: 'must be a number' };
  if (!Number.isFinite(value)) return { ok: false, reason: 'must be a finite number' };
  if (value < 0) return { ok: false, reason: 'must not be negative' };
  // `String(1e21)` is exponent form; anything that prints so is out of range or has too many decimals.
  const text = String(value);
  if (/e/i.test(text)) {
    return value >= 1
      ? { ok: false, reason: 'is too large' }
      : { ok: false, reason: 'has more than two decimals' };
  }
  const m = PLAIN_DECIMAL.exec(text);
  if (!m) return { ok: false, reason: 'is not a plain decimal number' };
  const whole = m[1] ?? '0';
  const fraction = m[2] ?? '';
  if (fraction.length > 2) return { ok: false, reason: 'has more than two decimals' };
  if (whole.length > 13) return { ok: false, reason: 'is too large' };
  const cents = Number(whole) * 100 + Number(fraction.padEnd(2, '0'));
  if (cents > MAX_CENTS) return { ok: false, reason: 'is too large' };
  return { ok: true, cents };
}

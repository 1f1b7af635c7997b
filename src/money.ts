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

/** Like `parseUsdCents`, for trusted input (config, tests): throws a RangeError naming `what`. */
export function usdToCents(value: number, what = 'amount'): number {
  const r = parseUsdCents(value);
  if (!r.ok) throw new RangeError(`${what} ${r.reason}`);
  return r.cents;
}

function assertCents(cents: number): void {
  if (!Number.isSafeInteger(cents) || Math.abs(cents) > MAX_CENTS) {
    throw new RangeError('cents must be an integer within range');
  }
}

/**
 * Integer cents → a JSON number in USD (`4625` → `46.25`). The one division is correctly
 * rounded, so the number prints as exactly two decimals or fewer.
 */
export function centsToUsd(cents: number): number {
  assertCents(cents);
  return cents / 100;
}

/** Cents of any currency → `"46.25"`: the form shops take and answer prices in. */
export const formatCents = (cents: number): string => formatUsd(cents);

/** Integer cents → `"46.25"`, `"-3.05"`: for messages and tables, always two decimals. */
export function formatUsd(cents: number): string {
  assertCents(cents);
  const sign = cents < 0 ? '-' : '';
  const abs = Math.abs(cents);
  return `${sign}${Math.trunc(abs / 100)}.${String(abs % 100).padStart(2, '0')}`;
}

const DECIMAL_TEXT = /^(\d{1,13})(?:\.(\d+))?$/;

/**
 * A shop's money string (`"49.99"`, `"8.333333"`, `"10"`) → integer cents, rounded to the
 * nearest cent; null when it is not a plain non-negative decimal. Currency-agnostic: the caller
 * knows which currency the amount is in.
 */
export function decimalTextToCents(text: unknown): number | null {
  if (typeof text !== 'string') return null;
  const m = DECIMAL_TEXT.exec(text.trim());
  if (!m) return null;
  const fraction = (m[2] ?? '').padEnd(3, '0');
  const cents = Number(m[1]) * 100 + Number(fraction.slice(0, 2)) + (Number(fraction[2]) >= 5 ? 1 : 0);
  return cents <= MAX_CENTS ? cents : null;
}

/**
 * Integer cents in and out: USD numbers are read into cents by `config/usd.ts` (config and the
 * supplier wire both read them); this module formats cents and reads shops' decimal strings.
 */

import { MAX_CENTS, parseUsdCents } from '../config/usd.js';

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

import { entryKey } from '../sku.js';

/**
 * A well-formed `/codes` answer is still only accepted whole: exactly the quantity of every
 * item bought, nothing else, no code twice, and no code we already hold. Anything else is
 * parked with an alert, never half-applied.
 */

export interface CodesAnswerLine {
  region: string;
  denomination: number;
  code: string;
  serial?: string | undefined;
}

export type CodesCheck =
  | { ok: true }
  | { ok: false; problem: 'count' | 'items' | 'duplicate' | 'known'; detail: string };

export function checkCodes(
  bought: readonly { region: string; denomination: number; qty: number }[],
  codes: readonly CodesAnswerLine[],
  isKnown: (code: string) => boolean,
): CodesCheck {
  const want = new Map(bought.map((b) => [entryKey(b), b.qty]));
  const got = new Map<string, number>();
  for (const c of codes) {
    const k = entryKey(c);
    if (!want.has(k)) return { ok: false, problem: 'items', detail: `codes for ${k}, which was not bought` };
    got.set(k, (got.get(k) ?? 0) + 1);
  }
  for (const [k, q] of want) {
    if ((got.get(k) ?? 0) !== q) {
      return { ok: false, problem: 'count', detail: `${k}: ${got.get(k) ?? 0} codes for ${q} bought` };
    }
  }
  const seen = new Set<string>();
  for (const c of codes) {
    const norm = c.code.trim().toUpperCase();
    if (!norm) return { ok: false, problem: 'items', detail: 'an empty code' };
    if (seen.has(norm))
      return { ok: false, problem: 'duplicate', detail: 'the same code twice in one answer' };
    seen.add(norm);
    if (isKnown(norm))
      return { ok: false, problem: 'known', detail: 'a code we already hold from another order' };
  }
  return { ok: true };
}

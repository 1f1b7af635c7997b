import type { Delivery } from '../../src/storefront.js';

/**
 * The delivery ledger (`psnb2b.deliveries`, json, no codes) and what the fulfill step decides
 * from it, pure: which units of a delivery's lines are delivered but not yet fulfilled.
 */

/** deliveryId → lineId → units. */
export type Ledger = Record<string, Record<string, number>>;

/** Fulfillments that did not fulfil anything. */
const NOT_FULFILLED = new Set(['CANCELLED', 'ERROR', 'FAILURE']);

export const isObj = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null;

/** The ledger a metafield holds: {} when absent, null when unreadable (edited by hand). */
export function parseLedger(value: string | undefined): Ledger | null {
  if (value === undefined) return {};
  try {
    const v = JSON.parse(value) as unknown;
    if (!isObj(v)) return null;
    const out: Ledger = {};
    for (const [id, lines] of Object.entries(v)) {
      if (!isObj(lines)) return null;
      out[id] = {};
      for (const [line, n] of Object.entries(lines)) {
        if (typeof n !== 'number' || !Number.isSafeInteger(n) || n < 0) return null;
        (out[id] as Record<string, number>)[line] = n;
      }
    }
    return out;
  } catch {
    return null;
  }
}

/** Units the delivery puts on each line. */
function unitsOf(d: Delivery): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of d.lines) out[l.lineId] = (out[l.lineId] ?? 0) + l.codes.length;
  return out;
}

/** The ledger the metafield step writes: what was there (an unreadable one dropped), plus this delivery. */
export function ledgerWith(current: Ledger | null, d: Delivery): Ledger {
  return { ...current, [d.deliveryId]: unitsOf(d) };
}

/** Is this fulfillment counted (cancelled or failed ones fulfilled nothing)? */
export const fulfilledSomething = (status: string): boolean => !NOT_FULFILLED.has(status);

/** Units per line in these (counted) fulfillments' line items. */
export function fulfilledUnits(
  lines: readonly { quantity: number; lineItem: { id: string } }[],
): Map<string, number> {
  const out = new Map<string, number>();
  for (const l of lines) out.set(l.lineItem.id, (out.get(l.lineItem.id) ?? 0) + l.quantity);
  return out;
}

/**
 * Per line of the delivery: units delivered by every delivery in the ledger (this one counted
 * even when the ledger lacks it) less the units already fulfilled; only lines with some left.
 */
export function unitsToFulfil(
  ledger: Ledger,
  d: Delivery,
  fulfilled: ReadonlyMap<string, number>,
): Map<string, number> {
  const all = d.deliveryId in ledger ? ledger : ledgerWith(ledger, d);
  const need = new Map<string, number>();
  for (const lineId of Object.keys(unitsOf(d))) {
    const delivered = Object.values(all).reduce((s, units) => s + (units[lineId] ?? 0), 0);
    const n = delivered - (fulfilled.get(lineId) ?? 0);
    if (n > 0) need.set(lineId, n);
  }
  return need;
}

import { raiseAlert, resolveAlert } from '../alerts.js';
import type { Db } from '../db/open.js';
import { formatUsd } from '../money.js';
import type { LineRow } from './fulfillment-ledger.js';

/**
 * Margin at purchase (design-notes "Prices"): what the buyer paid for a unit, after discounts and
 * converted to USD with `catalog.pricing.fxRates`, against what the supplier charges for it. A
 * sale under `fulfillment.minMarginPercent` is never silent: alert `low-margin` (open 24 hours,
 * it is about a sale that happened), or with `onLowMargin: hold` the order waits for review.
 */

export interface MarginRules {
  minMarginPercent: number;
  onLowMargin: 'alert' | 'hold';
  /** Shop currency units per USD; USD itself is 1. */
  fxRates: Readonly<Record<string, number>>;
}

export interface PaidPrice {
  paidUnitCents: number;
  currency: string;
}

export type MarginVerdict =
  | { kind: 'ok' }
  | { kind: 'low'; paidUsdCents: number; costCents: number }
  /** The order's currency has no rate: the margin cannot be known, so it is not assumed fine. */
  | { kind: 'no-rate'; currency: string };

const DAY_MS = 24 * 3_600_000;

/** The paid price in USD cents, rounded down (a fraction of a cent never makes a margin), or null without a rate. */
export function paidUsdCents(paid: PaidPrice, fxRates: MarginRules['fxRates']): number | null {
  const rate = paid.currency === 'USD' ? 1 : fxRates[paid.currency];
  if (rate === undefined || !(rate > 0)) return null;
  return Math.floor(paid.paidUnitCents / rate);
}

/** Margin on the selling price: (paid − cost) / paid, in percent; under the minimum is low. */
export function marginVerdict(paid: PaidPrice, costCents: number, rules: MarginRules): MarginVerdict {
  const usd = paidUsdCents(paid, rules.fxRates);
  if (usd === null) return { kind: 'no-rate', currency: paid.currency };
  const low = (usd - costCents) * 100 < rules.minMarginPercent * usd;
  return low ? { kind: 'low', paidUsdCents: usd, costCents } : { kind: 'ok' };
}

export function marginPercent(paidCents: number, costCents: number): number | null {
  return paidCents === 0 ? null : Math.round(((paidCents - costCents) * 10_000) / paidCents) / 100;
}

export function describeVerdict(v: Exclude<MarginVerdict, { kind: 'ok' }>, rules: MarginRules): string {
  if (v.kind === 'no-rate') {
    return `the buyer paid in ${v.currency} and catalog.pricing.fxRates.${v.currency} is not set, so the margin is unknown`;
  }
  const pct = marginPercent(v.paidUsdCents, v.costCents);
  return `paid ${formatUsd(v.paidUsdCents)} USD a unit, the supplier charges ${formatUsd(v.costCents)} USD (margin ${pct === null ? '-' : `${pct}%`}, under fulfillment.minMarginPercent ${rules.minMarginPercent}%)`;
}

/** Records what the buyer paid for our line, once (the first read is the price of the sale). */
export function recordLinePrice(db: Db, line: number, paid: PaidPrice): void {
  db.prepare(
    'INSERT INTO line_prices (line, paid_unit_cents, currency) VALUES (?, ?, ?) ON CONFLICT (line) DO NOTHING',
  ).run(line, paid.paidUnitCents, paid.currency);
}

export function linePrice(db: Db, line: number): PaidPrice | undefined {
  return db
    .prepare('SELECT paid_unit_cents AS paidUnitCents, currency FROM line_prices WHERE line = ?')
    .get(line) as PaidPrice | undefined;
}

/** The first line of these whose margin is short at these unit costs, with why; null when all are fine. */
export function lowMarginLine(
  db: Db,
  lines: readonly Pick<LineRow, 'id' | 'sku' | 'entryKey'>[],
  costOf: (entryKey: string) => number | undefined,
  rules: MarginRules,
): { line: Pick<LineRow, 'id' | 'sku'>; detail: string } | null {
  for (const l of lines) {
    const paid = linePrice(db, l.id);
    const cost = costOf(l.entryKey);
    if (!paid || cost === undefined) continue;
    const v = marginVerdict(paid, cost, rules);
    if (v.kind !== 'ok') return { line: l, detail: `${l.sku}: ${describeVerdict(v, rules)}` };
  }
  return null;
}

/** After a purchase: each line bought under the minimum margin at the supplier's actual unit price raises `low-margin`. */
export function alertLowMargins(
  db: Db,
  lines: readonly LineRow[],
  unitCostOf: (entryKey: string) => number | undefined,
  rules: MarginRules,
  now: number,
): number {
  let raised = 0;
  for (const l of lines) {
    const low = lowMarginLine(db, [l], unitCostOf, rules);
    if (!low) continue;
    raised++;
    raiseAlert(
      db,
      'low-margin',
      `${l.store}/${l.orderId}/${l.lineId}`,
      `order ${l.orderNumber} in ${l.store} sold below margin: ${low.detail}. Check the shop price (catalog.pricing can follow the supplier)`,
      now,
    );
  }
  return raised;
}

/** `low-margin` is about a sale that happened: it closes 24 hours after it was raised, whatever prices do next. */
export function expireLowMarginAlerts(db: Db, now: number): void {
  const stale = db
    .prepare("SELECT subject FROM alerts WHERE kind = 'low-margin' AND resolved_at IS NULL AND since <= ?")
    .all(now - DAY_MS) as { subject: string }[];
  for (const a of stale) resolveAlert(db, 'low-margin', a.subject, now);
}

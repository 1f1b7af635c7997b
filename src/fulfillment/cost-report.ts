import { type EntryId, formatSku } from '../../config/sku-template.js';
import type { Db } from '../db/open.js';
import { UsageError } from '../errors.js';
import { formatUsd } from '../money.js';
import { entryKey, parseEntryKey } from '../sku.js';
import { paidUsdCents } from './margin.js';

/**
 * `psnb2b-sync report`: for each accepted supplier order, what it cost (the unit prices it
 * charged), the shop revenue its codes served (what the buyers paid, in USD with
 * `catalog.pricing.fxRates`), the margin on what was served, and the codes left in the pool with
 * their cost. A supplier order that failed is left out: its debit was credited back. Integer
 * cents throughout; read-only.
 */

export type ReportGrouping = 'order' | 'sku' | 'day';

export interface ReportRow {
  /** Supplier order id, SKU (by `catalog.skuTemplate`) or UTC day, by grouping. */
  key: string;
  orders: number;
  units: number;
  costCents: number;
  revenueCents: number;
  /** Revenue less the cost of the units that served it (pooled units are not sold yet). */
  marginCents: number;
  /** null when nothing was sold. */
  marginPercent: number | null;
  pooled: number;
  pooledCostCents: number;
  /** Units whose buyer paid in a currency without a rate: not in revenue. */
  unpriced: number;
}

interface UnitRow {
  intentId: string;
  supplierOrderId: string;
  entryKey: string;
  unitCents: number;
  chargedAt: number;
  line: number | null;
  paidUnitCents: number | null;
  currency: string | null;
}

const DAY_MS = 86_400_000;

/**
 * What the supplier charged per entry of an accepted order (its unit prices), recorded when we
 * learn the order: its 201, or `orders resolve --supplier-order`. Inside the caller's transaction.
 */
export function recordCharges(
  db: Db,
  intentId: string,
  items: readonly (EntryId & { unitPriceCents: number })[],
  now: number,
): void {
  const charge = db.prepare(
    'INSERT INTO supplier_charges (intent_id, entry_key, unit_cents, charged_at) VALUES (?, ?, ?, ?) ON CONFLICT DO NOTHING',
  );
  for (const i of items) charge.run(intentId, entryKey(i), i.unitPriceCents, now);
}

/** `--from` / `--to` (UTC days, `YYYY-MM-DD`, both inclusive) as [from, to) epoch ms; errors name the flag. */
export function reportRange(o: { from?: string; to?: string }): { from: number; to: number } {
  const day = (s: string | undefined, flag: string, fallback: number): number => {
    if (s === undefined) return fallback;
    const t = /^\d{4}-\d{2}-\d{2}$/.test(s) ? Date.parse(`${s}T00:00:00Z`) : Number.NaN;
    // Date.parse rolls 2026-02-30 over to March: a real day prints back as itself.
    if (Number.isNaN(t) || new Date(t).toISOString().slice(0, 10) !== s)
      throw new UsageError(`${flag}: "${s}" is not a day; use YYYY-MM-DD (UTC)`);
    return t;
  };
  const from = day(o.from, '--from', 0);
  const to = o.to === undefined ? Number.MAX_SAFE_INTEGER : day(o.to, '--to', 0) + DAY_MS;
  if (to <= from) throw new UsageError(`--to: ${o.to} is before --from ${o.from}`);
  return { from, to };
}

/**
 * One row per unit bought: from its stored code when the codes are in (a pooled code has no line),
 * else from the purchase's allocations.
 */
function unitsBought(db: Db, from: number, to: number): UnitRow[] {
  return db
    .prepare(
      `WITH RECURSIVE seq(n) AS (
         SELECT 1 UNION ALL SELECT n + 1 FROM seq WHERE n < (SELECT COALESCE(MAX(units), 0) FROM intent_lines)),
       bought AS (
         SELECT pi.id AS intentId, pi.supplier_order_id AS supplierOrderId, sc.entry_key AS entryKey,
                sc.unit_cents AS unitCents, sc.charged_at AS chargedAt
         FROM purchase_intents pi JOIN supplier_charges sc ON sc.intent_id = pi.id
         WHERE pi.supplier_order_id IS NOT NULL AND pi.supplier_status IS NOT 'failed'
           AND sc.charged_at >= ? AND sc.charged_at < ?),
       units AS (
         SELECT c.intent_id AS intentId, c.entry_key AS entryKey, c.line AS line FROM codes c
         UNION ALL
         SELECT il.intent_id, il.entry_key, il.line FROM intent_lines il
           JOIN seq ON seq.n <= il.units
           WHERE NOT EXISTS (SELECT 1 FROM codes c WHERE c.intent_id = il.intent_id))
       SELECT b.intentId, b.supplierOrderId, b.entryKey, b.unitCents, b.chargedAt, u.line,
              lp.paid_unit_cents AS paidUnitCents, lp.currency
       FROM bought b JOIN units u ON u.intentId = b.intentId AND u.entryKey = b.entryKey
       LEFT JOIN line_prices lp ON lp.line = u.line
       ORDER BY b.chargedAt, b.supplierOrderId, b.entryKey`,
    )
    .all(from, to) as UnitRow[];
}

export function costReport(
  db: Db,
  opts: {
    from: number;
    to: number;
    by: ReportGrouping;
    fxRates: Readonly<Record<string, number>>;
    /** `catalog.skuTemplate`: `--by sku` names each entry by its SKU. */
    skuTemplate: string;
  },
): { rows: ReportRow[]; totals: ReportRow } {
  const groups = new Map<string, ReportRow & { orderIds: Set<string> }>();
  const totals: ReportRow & { orderIds: Set<string> } = blank('total');
  for (const u of unitsBought(db, opts.from, opts.to)) {
    const key =
      opts.by === 'order'
        ? u.supplierOrderId
        : opts.by === 'sku'
          ? formatSku(opts.skuTemplate, parseEntryKey(u.entryKey))
          : new Date(Math.floor(u.chargedAt / DAY_MS) * DAY_MS).toISOString().slice(0, 10);
    const g = groups.get(key) ?? blank(key);
    groups.set(key, g);
    for (const r of [g, totals]) add(r, u, opts.fxRates);
  }
  const finish = (r: ReportRow & { orderIds: Set<string> }): ReportRow => {
    const { orderIds, ...row } = r;
    const sold = row.revenueCents;
    return {
      ...row,
      orders: orderIds.size,
      marginPercent: sold === 0 ? null : Math.round((row.marginCents * 10_000) / sold) / 100,
    };
  };
  return { rows: [...groups.values()].map(finish), totals: finish(totals) };
}

function blank(key: string): ReportRow & { orderIds: Set<string> } {
  return {
    key,
    orders: 0,
    orderIds: new Set(),
    units: 0,
    costCents: 0,
    revenueCents: 0,
    marginCents: 0,
    marginPercent: null,
    pooled: 0,
    pooledCostCents: 0,
    unpriced: 0,
  };
}

function add(
  r: ReportRow & { orderIds: Set<string> },
  u: UnitRow,
  fxRates: Readonly<Record<string, number>>,
): void {
  r.orderIds.add(u.supplierOrderId);
  r.units++;
  r.costCents += u.unitCents;
  if (u.line === null) {
    r.pooled++;
    r.pooledCostCents += u.unitCents;
    return;
  }
  const paid =
    u.paidUnitCents === null || u.currency === null
      ? null
      : paidUsdCents({ paidUnitCents: u.paidUnitCents, currency: u.currency }, fxRates);
  if (paid === null) {
    r.unpriced++;
    return;
  }
  r.revenueCents += paid;
  r.marginCents += paid - u.unitCents;
}

/**
 * The CSV header, an outside contract (spreadsheets address columns by it): the first column is
 * named by the grouping (`supplier_order`, `sku`, `day`); amounts are USD with two decimals.
 */
export const CSV_HEADER = [
  'key',
  'orders',
  'units',
  'cost_usd',
  'revenue_usd',
  'margin_usd',
  'margin_percent',
  'pooled',
  'pooled_cost_usd',
  'unpriced',
] as const;

const TABLE_HEAD = [
  'orders',
  'units',
  'cost',
  'revenue',
  'margin',
  'margin %',
  'pooled',
  'pooled cost',
  'unpriced',
];

/** One row's cells; `usd` prints an amount (bare for the CSV, with its currency for the table). */
function cells(r: ReportRow, usd: (cents: number) => string): string[] {
  return [
    r.key,
    String(r.orders),
    String(r.units),
    usd(r.costCents),
    usd(r.revenueCents),
    usd(r.marginCents),
    r.marginPercent === null ? '' : r.marginPercent.toFixed(2),
    String(r.pooled),
    usd(r.pooledCostCents),
    String(r.unpriced),
  ];
}

/** CSV, amounts in USD with two decimals; the last row is the totals. */
export function reportCsv(report: { rows: ReportRow[]; totals: ReportRow }, by: ReportGrouping): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const head = [by === 'order' ? 'supplier_order' : by, ...CSV_HEADER.slice(1)];
  const body = [...report.rows, report.totals].map((r) => cells(r, formatUsd).map(quote).join(','));
  return `${[head.join(','), ...body].join('\n')}\n`;
}

export function reportTable(report: { rows: ReportRow[]; totals: ReportRow }, by: ReportGrouping): string {
  const withCurrency = (cents: number) => `${formatUsd(cents)} USD`;
  const rows = [
    [by === 'order' ? 'supplier order' : by, ...TABLE_HEAD],
    ...[...report.rows, report.totals].map((r) => cells(r, withCurrency)),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return `${[...rows.map(line)].join('\n')}\n(margin = revenue − cost of the units sold; revenue is what buyers paid, converted with catalog.pricing.fxRates; pooled codes are bought, not yet sold)\n`;
}

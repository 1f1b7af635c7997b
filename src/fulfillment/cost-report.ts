import type { Db } from '../db/open.js';
import { formatUsd } from '../money.js';
import { formatSku, parseEntryKey } from '../sku.js';
import { paidUsdCents } from './margin.js';

/**
 * `psnb2b-sync report`: for each accepted supplier order, what it cost (the unit prices its 201
 * charged), the shop revenue its codes served (what the buyers paid, in USD with
 * `catalog.pricing.fxRates`), the margin on what was served, and the codes left in the pool with
 * their cost. Integer cents throughout; read-only.
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
         WHERE pi.supplier_order_id IS NOT NULL AND sc.charged_at >= ? AND sc.charged_at < ?),
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

const HEAD = [
  'key',
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

function cells(r: ReportRow): string[] {
  return [
    r.key,
    String(r.orders),
    String(r.units),
    formatUsd(r.costCents),
    formatUsd(r.revenueCents),
    formatUsd(r.marginCents),
    r.marginPercent === null ? '' : r.marginPercent.toFixed(2),
    String(r.pooled),
    formatUsd(r.pooledCostCents),
    String(r.unpriced),
  ];
}

/** CSV, amounts in USD with two decimals; the last row is the totals. */
export function reportCsv(report: { rows: ReportRow[]; totals: ReportRow }, by: ReportGrouping): string {
  const quote = (s: string) => (/[",\n]/.test(s) ? `"${s.replace(/"/g, '""')}"` : s);
  const head = [by === 'order' ? 'supplier_order' : by, ...HEAD.slice(1)].map((h) => h.replace(/ /g, '_'));
  const body = [...report.rows, report.totals].map((r) => cells(r).map(quote).join(','));
  return `${[head.join(','), ...body].join('\n')}\n`;
}

export function reportTable(report: { rows: ReportRow[]; totals: ReportRow }, by: ReportGrouping): string {
  const rows = [
    [by === 'order' ? 'supplier order' : by, ...HEAD.slice(1)],
    ...[...report.rows, report.totals].map(cells),
  ];
  const widths = rows[0]?.map((_, i) => Math.max(...rows.map((r) => (r[i] ?? '').length))) ?? [];
  const line = (r: string[]) =>
    r.map((c, i) => (i === 0 ? c.padEnd(widths[i] ?? 0) : c.padStart(widths[i] ?? 0))).join('  ');
  return `${[...rows.map(line)].join('\n')}\n(amounts in USD; margin = revenue − cost of the units sold; pooled codes are bought, not yet sold)\n`;
}

import { skuFormatter } from '../../config/sku-template.js';
import type { Db } from '../db/open.js';
import { balanceHistory } from '../fulfillment/balance-history.js';
import { type LineRow, linesInState } from '../fulfillment/fulfillment-ledger.js';
import { type ReviewListing, reviewListing } from '../fulfillment/order-review.js';
import { type OrdersListing, ordersListing } from '../fulfillment/orders-report.js';
import { overridesByEntry, parseEntryKey, type SkuMapping, skuKey } from '../sku.js';
import type { Status } from '../status.js';
import type { SkuState } from '../storefront.js';

/**
 * Everything the dashboard shows, read from the database. The catalogue is read a page at a
 * time (primary-key lookups for that page's SKUs), so its cost does not grow with the catalogue.
 * Codes appear only in their masked form.
 */

export interface CatalogueRow {
  sku: string;
  entryKey: string;
  currency: string;
  priceCents: number;
  supplierQty: number;
  listed: boolean;
  /** Per store (in `storeNames` order): the quantity the shop acknowledged, and what we know of the SKU there. */
  stores: { ackedQty: number | null; state: SkuState | null }[];
}

export interface RunRow {
  id: number;
  kind: string;
  store: string | null;
  startedAt: number;
  finishedAt: number | null;
  outcome: string | null;
  entries: number | null;
  changes: number | null;
  pushed: number;
  shopWrites: number;
  supplierCalls: number;
}

export interface ClaimRow {
  id: string;
  masked: string;
  supplierOrderId: string;
  errorCode: string;
  state: string;
  supplierClaimId: string | null;
  windowClosesAt: number;
  createdAt: number;
}

export interface DashboardView {
  now: number;
  status: Status;
  storeNames: string[];
  /** One page of the catalogue (`CATALOGUE_PAGE` entries), so the page stays small at any size. */
  catalogue: CatalogueRow[];
  cataloguePage: { page: number; pages: number; total: number; filter: string };
  /** SKUs a shop has twice (unmatched) or not at all (missing); at most `MAX_SKU_PROBLEMS`. */
  skuProblems: { store: string; sku: string; state: 'missing' | 'duplicate' }[];
  runs: RunRow[];
  /** Null when fulfillment is off. */
  orders: (OrdersListing & { waiting: LineRow[]; review: ReviewListing[] }) | null;
  balance: { at: number; cents: number }[];
  claims: ClaimRow[];
}

export interface DashboardSource {
  db: Db;
  mapping: SkuMapping;
  storeNames: readonly string[];
  fulfillment: boolean;
  status: () => Status;
}

export const CATALOGUE_PAGE = 250;
export const MAX_SKU_PROBLEMS = 500;
const RECENT_RUNS = 12;
const RECENT_CLAIMS = 50;
export const BALANCE_CHART_MS = 7 * 24 * 3_600_000;

/** Which slice of the catalogue to show: a page of entries, optionally those whose key contains `filter`. */
export interface CatalogueQuery {
  page: number;
  filter: string;
}

export function readDashboard(
  src: DashboardSource,
  query: CatalogueQuery = { page: 1, filter: '' },
  now = Date.now(),
): DashboardView {
  const { db } = src;
  const like = `%${query.filter.replace(/[\\%_]/g, (c) => `\\${c}`)}%`;
  const total = (
    db.prepare("SELECT COUNT(*) AS n FROM supplier_entries WHERE entry_key LIKE ? ESCAPE '\\'").get(like) as {
      n: number;
    }
  ).n;
  const pages = Math.max(1, Math.ceil(total / CATALOGUE_PAGE));
  const page = Math.min(Math.max(1, Math.trunc(query.page) || 1), pages);
  const entries = db
    .prepare(
      `SELECT entry_key AS entryKey, currency, price_cents AS priceCents, qty, listed FROM supplier_entries
       WHERE entry_key LIKE ? ESCAPE '\\' ORDER BY entry_key LIMIT ? OFFSET ?`,
    )
    .all(like, CATALOGUE_PAGE, (page - 1) * CATALOGUE_PAGE) as {
    entryKey: string;
    currency: string;
    priceCents: number;
    qty: number;
    listed: number;
  }[];
  const acked = db.prepare('SELECT qty FROM store_checkpoints WHERE store = ? AND sku_key = ?').pluck();
  const known = db.prepare('SELECT state FROM sku_cache WHERE store = ? AND sku_key = ?').pluck();
  const catalogue: CatalogueRow[] = [];
  const format = skuFormatter(src.mapping.template);
  const overrides = overridesByEntry(src.mapping.overrides);
  for (const e of entries) {
    const skus = [format(parseEntryKey(e.entryKey)), ...(overrides.get(e.entryKey) ?? [])];
    for (const sku of skus) {
      const key = skuKey(sku);
      catalogue.push({
        sku,
        entryKey: e.entryKey,
        currency: e.currency,
        priceCents: e.priceCents,
        supplierQty: e.qty,
        listed: e.listed === 1,
        stores: src.storeNames.map((store) => ({
          ackedQty: (acked.get(store, key) as number | undefined) ?? null,
          state: (known.get(store, key) as SkuState | undefined) ?? null,
        })),
      });
    }
  }
  const skuProblems = db
    .prepare(
      `SELECT store, sku, state FROM sku_cache WHERE state != 'matched' ORDER BY store, sku_key LIMIT ?`,
    )
    .all(MAX_SKU_PROBLEMS) as DashboardView['skuProblems'];
  return {
    now,
    status: src.status(),
    storeNames: [...src.storeNames],
    catalogue,
    cataloguePage: { page, pages, total, filter: query.filter },
    skuProblems,
    runs: db
      .prepare(
        `SELECT id, kind, store, started_at AS startedAt, finished_at AS finishedAt, outcome, entries, changes,
           pushed, shop_writes AS shopWrites, supplier_calls AS supplierCalls
         FROM sync_runs ORDER BY id DESC LIMIT ?`,
      )
      .all(RECENT_RUNS) as RunRow[],
    orders: src.fulfillment
      ? { ...ordersListing(db), waiting: linesInState(db, 'open'), review: reviewListing(db) }
      : null,
    balance: balanceHistory(db, now - BALANCE_CHART_MS),
    claims: db
      .prepare(
        `SELECT cl.id, c.masked, cl.supplier_order_id AS supplierOrderId, cl.error_code AS errorCode, cl.state,
           cl.supplier_claim_id AS supplierClaimId, cl.window_closes_at AS windowClosesAt, cl.created_at AS createdAt
         FROM claims cl JOIN codes c ON c.id = cl.code_id ORDER BY cl.created_at DESC LIMIT ?`,
      )
      .all(RECENT_CLAIMS) as ClaimRow[],
  };
}

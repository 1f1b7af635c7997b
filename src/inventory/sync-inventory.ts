import { raiseAlert, resolveAlert } from '../alerts.js';
import { type Db, immediate } from '../db/open.js';
import { describeSafeError, type SafeError, toSafeError } from '../errors.js';
import type { Logger } from '../log.js';
import { formatCents } from '../money.js';
import { entryKey, type SkuMapping, skuKey } from '../sku.js';
import type { CallCounts, Storefront } from '../storefront.js';
import { advanceCheckpoint, loadCheckpoint, loadPriceCheckpoint } from './checkpoints.js';
import { decideAfterRecheck, type GuardSettings, judgePull } from './destructive-guard.js';
import { type PlanInput, type PlannedPush, planStockPushes } from './plan-stock-pushes.js';
import { type PriceRules, shopPriceCents } from './shop-price.js';
import { countChanges, loadSnapshot, mergePull, type PulledEntry, saveSnapshot } from './snapshot-store.js';
import { capPull, liftShortfalls, shortfalls } from './supplier-shortfalls.js';

/** The shell around the planner: pull → guard → snapshot → per store: plan → push → checkpoint. */

export interface InventorySource {
  getInventory(): Promise<{ updatedAt: string; items: PulledEntry[] }>;
}

export interface CatalogSettings {
  mapping: SkuMapping;
  reserve: number;
  allocation: 'shared' | 'split';
  guard: GuardSettings & { recheckSeconds: number };
  /** `catalog.pricing` when enabled: the price rules and each store's currency. */
  pricing?: { rules: PriceRules; currencies: ReadonlyMap<string, string> };
}

export interface InventorySyncDeps {
  db: Db;
  supplier: InventorySource;
  /** Supplier requests sent so far (a counter the client keeps), for the run record. */
  supplierCalls: () => number;
  stores: readonly Storefront[];
  weights: ReadonlyMap<string, number>;
  catalog: CatalogSettings;
  log: Logger;
  /** entryKey → units sold in a shop but not yet ordered; empty until fulfillment runs. */
  soldNotOrdered?: () => ReadonlyMap<string, number>;
  /** Per-store lanes (the daemon's); without them every push is awaited in the cycle. */
  lanes?: StoreLanes;
  /** Default LANE_WAIT_MS. */
  laneWaitMs?: number;
  now?: () => number;
  sleep?: (ms: number) => Promise<void>;
}

export interface CycleOptions {
  /** Push even if the destructive-update guard objects. */
  force?: boolean;
  /** Plan and print; write nothing anywhere. */
  dryRun?: boolean;
  /** Push every SKU regardless of the checkpoint (resync). */
  full?: boolean;
  /** Only this store (resync --store). */
  store?: string;
  /**
   * A schedule tick: a store still busy with an earlier push is skipped, and a slow store is
   * waited for only briefly, so one store down never holds back another. Manual runs wait.
   */
  scheduled?: boolean;
  onProgress?: (store: string, settled: number, total: number) => void;
}

/** How long a scheduled cycle waits for one store's push before leaving it to finish in its lane. */
export const LANE_WAIT_MS = 15_000;

/** One lane per store: a push to a store never overlaps an earlier push to the same store. */
export class StoreLanes {
  private readonly running = new Map<string, Promise<StoreReport>>();

  current(store: string): Promise<StoreReport> | undefined {
    return this.running.get(store);
  }

  start(store: string, push: () => Promise<StoreReport>): Promise<StoreReport> {
    const p = push().finally(() => this.running.delete(store));
    this.running.set(store, p);
    return p;
  }

  async idle(): Promise<void> {
    await Promise.allSettled([...this.running.values()]);
  }
}

export interface StoreReport {
  store: string;
  planned: number;
  acknowledged: number;
  missing: number;
  duplicate: number;
  /** The SKUs behind `missing` and `duplicate`, by name. */
  missingSkus: string[];
  duplicateSkus: string[];
  failed: number;
  calls: CallCounts;
  error?: SafeError;
  /** `busy`: an earlier push was still running (skipped); `in-flight`: still pushing when the cycle ended. */
  lane?: 'busy' | 'in-flight';
  /** The store answered nothing at all (down, refused, timed out): its checkpoint is kept. */
  unreachable?: true;
  /** Only for dry runs: each write it would make, with what the store shows now. */
  plan?: DryRunLine[];
}

/** A dry run's line: the target, the store's last acknowledged value, and what the store shows now. */
export interface DryRunLine extends PlannedPush {
  /** Read from the store; null when it does not manage that item's stock, or the SKU did not match. */
  current: number | null;
}

export interface CycleReport {
  /** `partial`: some store failed (it catches up from its checkpoint next run). */
  outcome: 'pushed' | 'partial' | 'held' | 'dry-run' | 'pull-failed';
  entries: number;
  changes: number;
  supplierCalls: number;
  note?: string;
  error?: SafeError;
  stores: StoreReport[];
  startedAt: number;
  finishedAt: number;
}

export const GUARD_ALERT = 'inventory-guard';
export const PULL_ALERT = 'inventory-pull';
export const STORE_ALERT = 'store-push';

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function runInventoryCycle(
  deps: InventorySyncDeps,
  opts: CycleOptions = {},
): Promise<CycleReport> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? defaultSleep;
  const startedAt = now();
  const callsBefore = deps.supplierCalls();
  const kind = opts.dryRun ? 'dry-run' : opts.full ? 'resync' : 'inventory';
  const runId = Number(
    deps.db
      .prepare('INSERT INTO sync_runs (kind, store, started_at) VALUES (?, ?, ?)')
      .run(kind, opts.store ?? null, startedAt).lastInsertRowid,
  );
  const finish = (report: Omit<CycleReport, 'startedAt' | 'finishedAt' | 'supplierCalls'>): CycleReport => {
    const full: CycleReport = {
      ...report,
      supplierCalls: deps.supplierCalls() - callsBefore,
      startedAt,
      finishedAt: now(),
    };
    const sum = (f: (s: StoreReport) => number) => full.stores.reduce((a, s) => a + f(s), 0);
    const errors = [
      ...(full.error ? [full.error] : []),
      ...full.stores.flatMap((s) => (s.error ? [s.error] : [])),
    ];
    const written = deps.db
      .prepare(
        `UPDATE sync_runs SET finished_at = ?, outcome = ?, entries = ?, changes = ?, supplier_calls = ?, shop_reads = ?,
           shop_writes = ?, pushed = ?, errors = ? WHERE id = ? AND finished_at IS NULL`,
      )
      .run(
        full.finishedAt,
        full.outcome,
        full.entries,
        full.changes,
        full.supplierCalls,
        sum((s) => s.calls.reads),
        sum((s) => s.calls.writes),
        sum((s) => s.acknowledged),
        errors.length ? JSON.stringify(errors) : null,
        runId,
      ).changes;
    // Another lock holder closed it meanwhile (as interrupted): its record stays as that one wrote it.
    if (written === 0) {
      deps.log.warn(
        `run ${runId} (${kind}) was closed meanwhile by another process; its outcome ${full.outcome} is not recorded`,
        {
          component: 'inventory',
        },
      );
    }
    return full;
  };

  // 1. Pull, and let the guard judge it against the accepted snapshot.
  const previous = loadSnapshot(deps.db);
  const listedBefore = previous.filter((e) => e.listed);
  let pulled: PulledEntry[];
  let note: string | undefined;
  try {
    pulled = (await deps.supplier.getInventory()).items;
    const first = judgePull(listedBefore, pulled, deps.catalog.guard);
    if (first.suspicious && !opts.force) {
      deps.log.warn(`inventory guard: ${first.reason}; pulling again to confirm`, { component: 'inventory' });
      await sleep(deps.catalog.guard.recheckSeconds * 1000);
      const second = (await deps.supplier.getInventory()).items;
      const decision = decideAfterRecheck(first, judgePull(listedBefore, second, deps.catalog.guard));
      if (decision.action === 'hold') {
        if (!opts.dryRun) raiseAlert(deps.db, GUARD_ALERT, '', decision.reason, now());
        deps.log.error(`inventory guard: ${decision.reason}`, { component: 'inventory' });
        return finish({
          outcome: 'held',
          entries: previous.length,
          changes: 0,
          note: decision.reason,
          stores: [],
        });
      }
      pulled = second;
      note = decision.note;
      if (note) deps.log.warn(`inventory guard: ${note}`, { component: 'inventory' });
    }
  } catch (e) {
    const error = toSafeError(e);
    if (!opts.dryRun) raiseAlert(deps.db, PULL_ALERT, '', describeSafeError(error), now());
    deps.log.error(`inventory pull failed: ${describeSafeError(error)}`, { component: 'inventory', error });
    return finish({ outcome: 'pull-failed', entries: previous.length, changes: 0, error, stores: [] });
  }

  // 2. Accept the pull as the new snapshot (a dry run only looks). A refused purchase is believed
  //    over a feed that has not moved since (a cached feed lags its order desk).
  const capped = capPull(pulled, shortfalls(deps.db));
  const next = mergePull(previous, capped.rows);
  const changes = countChanges(previous, next);
  if (!opts.dryRun) {
    immediate(deps.db, () => {
      saveSnapshot(deps.db, next, now());
      liftShortfalls(deps.db, capped.moved);
      resolveAlert(deps.db, PULL_ALERT, '', now());
      resolveAlert(deps.db, GUARD_ALERT, '', now());
    });
  }

  // 3. Each store on its own: one that fails keeps its checkpoint and is retried next run.
  const stores = deps.stores.filter((s) => !opts.store || s.name === opts.store);
  const sold = deps.soldNotOrdered?.() ?? new Map<string, number>();
  const reports = await Promise.all(
    stores.map((store) => {
      const push = () => syncStore(deps, store, next, sold, opts, now);
      return opts.dryRun || !deps.lanes
        ? push()
        : inLane(deps.lanes, store.name, push, opts.scheduled === true, deps.laneWaitMs ?? LANE_WAIT_MS);
    }),
  );
  const outcome = opts.dryRun
    ? 'dry-run'
    : reports.some((r) => r.error || r.failed > 0)
      ? 'partial'
      : 'pushed';
  return finish({ outcome, entries: next.length, changes, stores: reports, ...(note && { note }) });
}

function laneReport(store: string, lane: 'busy' | 'in-flight'): StoreReport {
  return {
    store,
    planned: 0,
    acknowledged: 0,
    missing: 0,
    duplicate: 0,
    missingSkus: [],
    duplicateSkus: [],
    failed: 0,
    calls: { reads: 0, writes: 0 },
    lane,
  };
}

async function inLane(
  lanes: StoreLanes,
  store: string,
  push: () => Promise<StoreReport>,
  scheduled: boolean,
  waitMs: number,
): Promise<StoreReport> {
  const busy = lanes.current(store);
  if (busy) {
    if (scheduled) return laneReport(store, 'busy');
    await busy.catch(() => undefined);
  }
  const running = lanes.start(store, push);
  if (!scheduled) return running;
  let timer: NodeJS.Timeout | undefined;
  const waited = new Promise<StoreReport>((resolve) => {
    timer = setTimeout(() => resolve(laneReport(store, 'in-flight')), waitMs);
  });
  try {
    return await Promise.race([running, waited]);
  } finally {
    clearTimeout(timer);
  }
}

async function syncStore(
  deps: InventorySyncDeps,
  store: Storefront,
  entries: ReturnType<typeof mergePull>,
  sold: ReadonlyMap<string, number>,
  opts: CycleOptions,
  now: () => number,
): Promise<StoreReport> {
  const pricing = deps.catalog.pricing;
  const plan = planStockPushes({
    entries,
    checkpoint: loadCheckpoint(deps.db, store.name),
    ...(pricing && { prices: storePrices(deps.db, store.name, entries, pricing) }),
    mapping: deps.catalog.mapping,
    reserve: deps.catalog.reserve,
    allocation: deps.catalog.allocation,
    weight: deps.weights.get(store.name) ?? 1,
    soldNotOrdered: sold,
    full: opts.full === true,
  });
  const empty: StoreReport = {
    store: store.name,
    planned: plan.length,
    acknowledged: 0,
    missing: 0,
    duplicate: 0,
    missingSkus: [],
    duplicateSkus: [],
    failed: 0,
    calls: { reads: 0, writes: 0 },
  };
  if (opts.dryRun) return readPlan(store, plan, empty);
  if (plan.length === 0) {
    markStore(deps.db, store, now(), null);
    return empty;
  }
  try {
    const out = await store.pushStock(
      plan.map(({ sku, quantity, price }) => ({ sku, quantity, ...(price !== undefined && { price }) })),
      { onProgress: (settled, total) => opts.onProgress?.(store.name, settled, total) },
    );
    const firstFailure = out.failed[0]?.error;
    immediate(deps.db, () => {
      advanceCheckpoint(deps.db, store.name, out.acknowledged, now());
      markStore(deps.db, store, now(), firstFailure ?? null);
      if (firstFailure) {
        raiseAlert(
          deps.db,
          STORE_ALERT,
          store.name,
          `${out.failed.length} SKU(s) not written: ${describeSafeError(firstFailure)}`,
          now(),
        );
      } else resolveAlert(deps.db, STORE_ALERT, store.name, now());
    });
    const report: StoreReport = {
      ...empty,
      acknowledged: out.acknowledged.length,
      missing: out.missing.length,
      duplicate: out.duplicate.length,
      missingSkus: out.missing,
      duplicateSkus: out.duplicate,
      failed: out.failed.length,
      calls: out.calls,
      ...(firstFailure && { error: firstFailure }),
    };
    // Quiet when there was nothing to do (only SKUs the shop lacks, answered from the cache).
    deps.log[report.acknowledged + report.failed > 0 ? 'info' : 'debug'](
      `${store.name}: ${report.acknowledged} pushed, ${report.failed} failed, ${report.missing} not in shop, ${report.duplicate} duplicate (${report.calls.writes} write calls)`,
      { component: 'inventory', store: store.name },
    );
    return report;
  } catch (e) {
    const error = toSafeError(e);
    immediate(deps.db, () => {
      markStore(deps.db, store, null, error);
      raiseAlert(deps.db, STORE_ALERT, store.name, describeSafeError(error), now());
    });
    deps.log.error(`${store.name}: push failed, will catch up next run: ${describeSafeError(error)}`, {
      component: 'inventory',
      store: store.name,
    });
    return { ...empty, failed: empty.planned, error, unreachable: true };
  }
}

/** With `catalog.pricing` on: the price text of each SKU in this store, and what it last acknowledged. */
function storePrices(
  db: Db,
  store: string,
  entries: ReturnType<typeof mergePull>,
  pricing: NonNullable<CatalogSettings['pricing']>,
): NonNullable<PlanInput['prices']> {
  const currency = pricing.currencies.get(store) ?? 'USD';
  const priceCents = new Map(entries.map((e) => [entryKey(e), e.priceCents]));
  return {
    of: (e, sku) => {
      const cents = shopPriceCents(priceCents.get(entryKey(e)) ?? 0, sku, currency, pricing.rules);
      return cents === null ? null : formatCents(cents);
    },
    checkpoint: loadPriceCheckpoint(db, store),
  };
}

/** A dry run reads what the store shows for every SKU it would write; it writes nothing anywhere. */
async function readPlan(store: Storefront, plan: PlannedPush[], empty: StoreReport): Promise<StoreReport> {
  if (plan.length === 0) return { ...empty, plan: [] };
  try {
    const read = await store.readStock(plan.map((p) => p.sku));
    const current = new Map(read.quantities.map((q) => [skuKey(q.sku), q.quantity]));
    return {
      ...empty,
      missing: read.missing.length,
      duplicate: read.duplicate.length,
      missingSkus: read.missing,
      duplicateSkus: read.duplicate,
      failed: read.failed.length,
      calls: read.calls,
      ...(read.failed[0] && { error: read.failed[0].error }),
      plan: plan
        .filter((p) => current.has(skuKey(p.sku)))
        .map((p) => ({ ...p, current: current.get(skuKey(p.sku)) ?? null })),
    };
  } catch (e) {
    return { ...empty, failed: plan.length, error: toSafeError(e), unreachable: true, plan: [] };
  }
}

/** `ackAt` null keeps the last acknowledgement time (the store did not confirm anything). */
function markStore(db: Db, store: Storefront, ackAt: number | null, error: SafeError | null): void {
  db.prepare(
    `INSERT INTO store_state (store, type, last_ack_at, last_error) VALUES (?, ?, ?, ?)
     ON CONFLICT (store) DO UPDATE SET type = excluded.type,
       last_ack_at = COALESCE(excluded.last_ack_at, last_ack_at), last_error = excluded.last_error`,
  ).run(store.name, store.type, ackAt, error ? JSON.stringify(error) : null);
}

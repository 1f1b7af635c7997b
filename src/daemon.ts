import cron from 'node-cron';
import type { LoadedConfig } from '../config/load.js';
import { AlertWebhook } from './alert-webhook.js';
import { portInUse } from './config-check.js';
import { Reaper } from './db/reaper.js';
import { HEARTBEAT_MS, type LockOwner, setAdminUrl } from './db/run-lock.js';
import { ConfigError, describeSafeError, toSafeError } from './errors.js';
import { hasWork } from './fulfillment/fulfillment-job.js';
import { salesFlowing } from './fulfillment/intake.js';
import { every, guardedTick } from './guarded-timers.js';
import type { CycleReport } from './inventory/sync-inventory.js';
import type { Logger } from './log.js';
import { checkStoreClocks, databasePath, openRuntime, type Runtime, storeSummaries } from './main.js';
import { metricsRegistry } from './metrics/metrics-registry.js';
import { adminRoutes } from './server/admin-routes.js';
import { loadOrCreateAdminToken } from './server/admin-token.js';
import { dashboardRoutes } from './server/dashboard-routes.js';
import { DashboardSessions } from './server/dashboard-sessions.js';
import { HttpServer } from './server/http-server.js';
import { opsRoutes } from './server/ops-routes.js';
import { webhookRoutes } from './server/webhook-routes.js';
import { readStatus } from './status.js';

/** The longest gap between a cron schedule's next runs: its period, for `/readyz`. */
export function schedulePeriodMs(expression: string): number {
  const probe = cron.createTask(expression, () => {});
  try {
    const runs = probe.getNextRuns(6).map((d) => d.getTime());
    return Math.max(...runs.slice(1).map((t, i) => t - (runs[i] as number)));
  } finally {
    void probe.destroy();
  }
}

/** How often work in flight is moved on between order polls. */
const WORKER_TICK_MS = 1_000;
/** The reaper runs at start and then hourly. */
const REAP_EVERY_MS = 3_600_000;

/**
 * `psnb2b-sync run`: the always-on process. It holds the run lock, serves the admin API and
 * webhooks, and drives the schedules — each run once at start, never overlapping itself.
 */

export interface DaemonHandle {
  runtime: Runtime;
  url: string;
  /** Finishes the step in flight, then closes everything. */
  stop(): Promise<void>;
}

export async function startDaemon(loaded: LoadedConfig, log: Logger): Promise<DaemonHandle> {
  let handle: DaemonHandle | undefined;
  // The runtime heartbeats until it closes, its drain included. Lost before `handle` exists,
  // nothing has started yet: exiting is all there is to do.
  const runtime = await openRuntime(loaded, log, {
    onLockLost: () => void (handle?.stop() ?? Promise.resolve()).finally(() => process.exit(1)),
  });
  const { db, config, job } = runtime;
  let adminToken: string;
  try {
    adminToken = loadOrCreateAdminToken(config.server.adminToken, databasePath(config), log);
  } catch (e) {
    await runtime.close();
    throw e;
  }
  const status = () => readStatus(db, storeSummaries(config));
  const sessions = new DashboardSessions();
  const publicUrl = config.server.publicUrl;
  let url = '';
  const http = new HttpServer({
    host: config.server.host,
    port: config.server.port,
    adminToken,
    publicUrl,
    sessions,
    log,
    routes: [
      ...opsRoutes({
        db,
        tally: runtime.tally,
        registry: metricsRegistry(db, runtime.tally),
        stores: storeSummaries(config),
        periodMs: schedulePeriodMs(config.schedule.inventory),
      }),
      ...(runtime.fulfillment
        ? webhookRoutes({
            ctx: runtime.fulfillment.ctx,
            supplierSecret: config.supplier.webhookSecret,
            kick: runtime.fulfillment.kick,
            log,
          })
        : []),
      ...adminRoutes({
        db,
        log,
        job,
        fulfillment: runtime.fulfillment,
        status,
        storeNames: config.storefronts.map((s) => s.name),
      }),
      ...dashboardRoutes({
        db,
        mapping: { template: config.catalog.skuTemplate, overrides: config.catalog.skuOverrides },
        storeNames: config.storefronts.map((s) => s.name),
        fulfillment: runtime.fulfillment !== null,
        status,
        sessions,
        baseUrl: () => publicUrl ?? url,
        secureCookies: publicUrl?.startsWith('https:') === true,
      }),
    ],
  });
  try {
    url = await http.start();
  } catch (e) {
    await runtime.close();
    if ((e as NodeJS.ErrnoException).code === 'EADDRINUSE') {
      const busy = portInUse(config.server.host, config.server.port);
      throw new ConfigError(busy.path, busy.message);
    }
    throw e;
  }
  // The daemon never runs on a dry run's scratch copy: it always holds the lock.
  const lockOwner = runtime.lockOwner as LockOwner;
  setAdminUrl(db, lockOwner, url);
  log.info(
    `listening on ${url} (healthz, readyz, metrics, admin API, dashboard: run \`psnb2b-sync dashboard\` to log in)`,
    { component: 'daemon' },
  );

  const logCycle = (r: CycleReport) => {
    if (
      (r.outcome === 'pushed' || r.outcome === 'partial') &&
      (r.changes > 0 || r.stores.some((s) => s.acknowledged + s.failed > 0))
    ) {
      const acked = r.stores.reduce((a, s) => a + s.acknowledged, 0);
      log.info(
        `inventory: ${r.entries} entries, ${r.changes} changed at the supplier, ${acked} stock updates acknowledged (${r.supplierCalls} supplier calls)`,
        { component: 'inventory' },
      );
    }
  };
  // A tick returns its run: a run that rejects (a database error, not a supplier outage, which a
  // cycle records itself) fails its timer, with an alert, until a later run succeeds.
  const inventoryTick = () => {
    const run = job.tick({ scheduled: true });
    if (!run) {
      log.debug(
        job.stopping ? 'stopping: inventory tick refused' : 'inventory run still in flight; tick skipped',
        {
          component: 'inventory',
        },
      );
      return;
    }
    return run.then(logCycle);
  };

  const timers = { db, log };
  const reaper = new Reaper(db, config.retention);
  const guardedInventory = guardedTick(timers, 'inventory', inventoryTick);
  const tasks = [
    cron.schedule(config.schedule.inventory, guardedInventory, {
      name: 'inventory',
      noOverlap: true,
    }),
  ];
  const intervals: NodeJS.Timeout[] = [];
  const fulfillment = runtime.fulfillment;
  if (fulfillment) {
    const guardedOrders = guardedTick(timers, 'orders', () => fulfillment.job.tick({ poll: true }));
    tasks.push(cron.schedule(config.schedule.orders, guardedOrders, { name: 'orders', noOverlap: true }));
    // Between polls, work in flight (batch windows, supplier orders, deliveries) moves on promptly,
    // and while polls keep finding sales the tick polls too (flow-polling.ts).
    intervals.push(
      every(timers, 'worker', WORKER_TICK_MS, () => {
        const poll = salesFlowing(fulfillment.ctx);
        if (poll || hasWork(fulfillment.ctx) || fulfillment.pendingIntake() > 0)
          fulfillment.kick(undefined, poll);
      }),
    );
    if (publicUrl) {
      for (const store of fulfillment.ctx.stores.values()) {
        store.orders.ensureWebhooks(publicUrl).then(
          () =>
            log.info(`${store.name}: order webhooks registered at ${publicUrl}`, { component: 'webhooks' }),
          (e) =>
            log.warn(
              `${store.name}: webhooks not registered (polling covers it): ${describeSafeError(toSafeError(e))}`,
              {
                component: 'webhooks',
              },
            ),
        );
      }
    }
    guardedOrders();
  }
  const alertWebhook = new AlertWebhook({ db, url: config.alerts.webhookUrl, log });
  intervals.push(
    every(timers, 'clock-check', HEARTBEAT_MS, () => checkStoreClocks(db, runtime.stores)),
    every(timers, 'reaper', REAP_EVERY_MS, () => reap(reaper, log), { atStart: true }),
    every(timers, 'metrics-flush', HEARTBEAT_MS, () => runtime.tally.flush()),
    // Off the pipeline: a slow receiver holds back only its own messages.
    every(timers, 'alert-webhook', 1_000, () => alertWebhook.tick()),
  );
  // node-cron 4 has no run-on-start.
  guardedInventory();

  let stopping: Promise<void> | null = null;
  handle = {
    runtime,
    url,
    stop() {
      stopping ??= (async () => {
        // First, so nothing new starts (ticks, kicks, admin runs) while the runs in flight finish.
        const finished = Promise.all([job.stop(), fulfillment?.job.stop()]);
        for (const t of tasks) await t.stop();
        for (const t of intervals) clearInterval(t);
        await alertWebhook.stop();
        await finished;
        await http.stop();
        await runtime.close();
        log.info('stopped', { component: 'daemon' });
      })();
      return stopping;
    },
  };
  return handle;
}

function reap(reaper: Reaper, log: Logger): void {
  const r = reaper.runOnce();
  if (Object.values(r).some((n) => n > 0)) {
    log.info(
      `reaper: deleted ${r.webhookEvents} webhook events, ${r.syncRuns} sync runs, ${r.alerts} resolved alerts and ${r.intents} dead intents; erased ${r.codesErased} old codes`,
      { component: 'reaper' },
    );
  }
}

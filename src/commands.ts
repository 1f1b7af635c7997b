import { existsSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import path from 'node:path';
import { parseEnv } from 'node:util';
import { SingleBar } from 'cli-progress';
import { Command, CommanderError } from 'commander';
import { type LoadedConfig, maskConfig } from '../config/load.js';
import { checkConfigFile } from './config-check.js';
import { loadConfigFile, loadStatusView } from './config-file.js';
import { startDaemon } from './daemon.js';
import { type BackupResult, backupDatabase } from './db/backup.js';
import { assertSchemaVersion, openDb } from './db/open.js';
import { currentHolder } from './db/run-lock.js';
import { formatDoctor, runDoctor, saleWouldGoThrough } from './doctor.js';
import { AppError, ConfigError, describeSafeError, toSafeError, UsageError } from './errors.js';
import { fileClaim } from './fulfillment/claims.js';
import {
  costReport,
  type ReportGrouping,
  reportCsv,
  reportRange,
  reportTable,
} from './fulfillment/cost-report.js';
import { catalogView } from './fulfillment/fulfillment-job.js';
import { ORDER_DECISIONS, type OrderDecision } from './fulfillment/order-decisions.js';
import { formatReviewListing, reviewListing } from './fulfillment/order-review.js';
import { formatOrdersListing, ordersListing } from './fulfillment/orders-report.js';
import { type ResolveAction, resolveIntent } from './fulfillment/resolve-intent.js';
import { completeAnswers, type InitAnswers, initFiles, writeInit } from './init.js';
import type { CycleOptions, CycleReport } from './inventory/sync-inventory.js';
import { codesKeyVariable, DEFAULT_ROTATE_BATCH, formatRotation, runKeysRotate } from './keys-rotate.js';
import { createLogger, type Logger } from './log.js';
import { databasePath, type Fulfillment, openRuntime, storeSummaries } from './main.js';
import { packageVersion } from './package-info.js';
import { registerSecret } from './redact.js';
import { sandboxStoreSummaries } from './sandbox/sandbox-store.js';
import { AdminClient } from './server/admin-client.js';
import { readAdminToken } from './server/admin-token.js';
import { emptyStatus, formatStatus, readStatus, type Status, skuLine } from './status.js';

/** `psnb2b-sync`: thin commands over the runtime. Exit codes: 0 ok, 1 failure, 2 bad usage or config. */

function configFile(opts: { config?: string }): string {
  return opts.config ?? process.env.SYNC_CONFIG ?? './sync.config.yaml';
}

function load(cmd: Command): LoadedConfig {
  return loadConfigFile(configFile(cmd.optsWithGlobals()));
}

/** Logs of one-shot commands go to stderr so stdout carries only the command's answer. */
function commandLogger(loaded: LoadedConfig, level?: 'warn' | 'info'): Logger {
  return createLogger({ level: level ?? 'warn', format: loaded.raw.log.format, stream: process.stderr });
}

function dbFile(loaded: LoadedConfig): string {
  return databasePath({ database: loaded.raw.database, baseDir: loaded.baseDir });
}

function storesOf(loaded: LoadedConfig) {
  return loaded.raw.sandbox ? sandboxStoreSummaries() : storeSummaries(loaded.raw);
}

/** A `--store` that names no configured store is a usage error, listing the ones there are. */
function assertStore(loaded: LoadedConfig, store: string): void {
  const names = storesOf(loaded).map((s) => s.name);
  if (!names.includes(store)) {
    throw new UsageError(`--store: no store named "${store}" (have: ${names.join(', ')})`);
  }
}

/** The running daemon's admin API, if a live daemon holds this database. */
function daemonAdmin(loaded: LoadedConfig): AdminClient | null {
  const file = dbFile(loaded);
  if (!existsSync(file)) return null;
  const db = openDb(file, { readonly: true });
  try {
    const holder = currentHolder(db);
    if (!holder?.adminUrl) return null;
    return new AdminClient(holder.adminUrl, readAdminToken(loaded.raw.server.adminToken, file));
  } catch {
    return null;
  } finally {
    db.close();
  }
}

/** KEY=VALUE lines into the environment; a variable already set wins, as with `node --env-file`. */
function loadEnvFile(file: string): void {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new UsageError(`--env-file: cannot read ${file}: ${(e as NodeJS.ErrnoException).code ?? e}`);
  }
  for (const [k, v] of Object.entries(parseEnv(text))) {
    registerSecret(v);
    if (process.env[k] === undefined) process.env[k] = v;
  }
}

/** Relative to the cwd when below it, else absolute. */
function shortPath(file: string): string {
  const rel = path.relative(process.cwd(), file);
  return rel.startsWith('..') ? file : rel;
}

async function printDoctor(loaded: LoadedConfig): Promise<void> {
  const checks = await runDoctor(loaded, commandLogger(loaded));
  process.stdout.write(`${formatDoctor(checks)}\n`);
  if (!saleWouldGoThrough(checks)) process.exitCode = 1;
}

/**
 * Another process took the run lock over (logged by the runtime): an in-process command stops
 * writing at once, as a kill would; every step it took is a recovery point for the new holder.
 */
const exitOnLockLost = { onLockLost: () => process.exit(1) };

/** Runs a mutating command through the daemon when one holds the lock, else in-process under the lock. */
async function mutate(
  loaded: LoadedConfig,
  viaDaemon: (admin: AdminClient) => Promise<CycleReport>,
  inProcess: (opts: CycleOptions) => CycleOptions,
): Promise<CycleReport> {
  const admin = daemonAdmin(loaded);
  if (admin) return viaDaemon(admin);
  const opts = inProcess({});
  const runtime = await openRuntime(loaded, commandLogger(loaded, 'info'), {
    dryRun: opts.dryRun === true,
    ...exitOnLockLost,
  });
  try {
    return await runtime.job.run(opts);
  } finally {
    await runtime.close();
  }
}

/** Fulfillment commands: through the daemon when one runs, else in-process under the lock. */
async function withFulfillment<T>(
  loaded: LoadedConfig,
  viaDaemon: (admin: AdminClient) => Promise<T>,
  inProcess: (f: Fulfillment) => Promise<T>,
): Promise<T> {
  const admin = daemonAdmin(loaded);
  if (admin) return viaDaemon(admin);
  const runtime = await openRuntime(loaded, commandLogger(loaded), exitOnLockLost);
  try {
    if (!runtime.fulfillment) throw new UsageError('fulfillment is off: set codesKey in the config');
    return await inProcess(runtime.fulfillment);
  } finally {
    await runtime.close();
  }
}

async function readStdin(): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('code (then Enter, Ctrl-D): ');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').trim();
}

function printReport(r: CycleReport, json: boolean): void {
  if (json) {
    process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
    return;
  }
  const lines = [
    `${r.outcome}: ${r.entries} supplier entries, ${r.changes} changed, ${r.supplierCalls} supplier call(s)${r.note ? ` — ${r.note}` : ''}`,
  ];
  if (r.error) lines.push(`  error: ${describeSafeError(r.error)}`);
  for (const s of r.stores) {
    if (s.unreachable) {
      lines.push(
        `  ${s.store}: unreachable, nothing read or written (${s.planned} planned): ${s.error ? describeSafeError(s.error) : ''}`,
      );
      continue;
    }
    lines.push(
      `  ${s.store}: ${s.planned} planned, ${s.acknowledged} acknowledged, ${s.failed} failed, ${s.missing} not in shop, ${s.duplicate} duplicate SKU(s); ${s.calls.writes} write / ${s.calls.reads} read call(s)`,
    );
    if (s.error) lines.push(`    error: ${describeSafeError(s.error)}`);
    lines.push(...skuLine('not in shop', s.missingSkus), ...skuLine('duplicate SKU', s.duplicateSkus));
    for (const p of s.plan ?? []) {
      const now = p.current ?? '(stock not managed)';
      // A price (catalog.pricing) is shown against what this store last acknowledged from us.
      const price =
        p.price === undefined ? '' : `; price ${p.previousPrice ?? '(never set by us)'} → ${p.price}`;
      lines.push(
        `    ${p.sku}: ${now} → ${p.quantity}${p.current === p.quantity ? ' (already so)' : ''}${price}`,
      );
    }
  }
  process.stdout.write(`${lines.join('\n')}\n`);
}

function progressBar(): {
  update: (store: string, settled: number, total: number) => void;
  stop: () => void;
} {
  if (!process.stderr.isTTY) {
    let last = 0;
    return {
      update(store, settled, total) {
        if (settled === total || Date.now() - last > 1000) {
          last = Date.now();
          process.stderr.write(`${store}: ${settled}/${total}\n`);
        }
      },
      stop() {},
    };
  }
  const bar = new SingleBar({ format: '{store} [{bar}] {value}/{total} SKUs', stream: process.stderr });
  let started = false;
  return {
    update(store, settled, total) {
      if (!started) bar.start(total, 0, { store });
      started = true;
      bar.setTotal(total);
      bar.update(settled, { store });
    },
    stop: () => bar.stop(),
  };
}

export function buildProgram(): Command {
  const program = new Command('psnb2b-sync')
    .description('Keeps WooCommerce and Shopify shops in step with the PSN:B2B supplier.')
    .version(packageVersion(), '-V, --version', 'print the version')
    .option('-c, --config <file>', 'config file (default: $SYNC_CONFIG or ./sync.config.yaml)')
    .option('--env-file <file>', 'read KEY=VALUE lines into the environment first (what init writes)')
    .hook('preAction', (_p, action) => {
      const envFile = (action.optsWithGlobals() as { envFile?: string }).envFile;
      if (envFile) loadEnvFile(envFile);
    })
    .exitOverride()
    .showHelpAfterError();

  program
    .command('run')
    .description('run the daemon: schedules, admin API, webhooks')
    .action(async (_o, cmd: Command) => {
      const loaded = load(cmd);
      const log = createLogger({ level: loaded.raw.log.level, format: loaded.raw.log.format });
      // Every step's state is durable, so a stray rejection is logged (safely) rather than taking the daemon down.
      process.on('unhandledRejection', (e) =>
        log.error(`unhandled rejection: ${describeSafeError(toSafeError(e))}`, { component: 'daemon' }),
      );
      // Ctrl-C under `npm start` arrives twice (the terminal's, and npm forwarding it), and may come
      // while the daemon is still starting: the handlers are in place first, every signal after
      // the first is absorbed, and the exit is 0 (so npm's is too).
      const started = startDaemon(loaded, log);
      let stopping = false;
      const stopped = new Promise<void>((resolve) => {
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          log.info(`${signal}: finishing the step in flight`, { component: 'daemon' });
          started.then((d) => d.stop()).then(resolve, resolve);
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      });
      await started;
      await stopped;
    });

  program
    .command('sync')
    .description('pull the inventory and push what changed, now')
    .option('--dry-run', 'print the plan per store; push nothing')
    .option('--force', 'push even if the destructive-update guard objects')
    .option('--json', 'print the report as JSON')
    .action(async (o: { dryRun?: boolean; force?: boolean; json?: boolean }, cmd: Command) => {
      const loaded = load(cmd);
      const opts = { dryRun: o.dryRun === true, force: o.force === true };
      const report = await mutate(
        loaded,
        (admin) => admin.sync(opts),
        () => opts,
      );
      printReport(report, o.json === true);
      if (report.outcome === 'pull-failed' || report.stores.some((s) => s.failed > 0)) process.exitCode = 1;
    });

  program
    .command('resync')
    .description('push every SKU to every store (or one), repairing drift')
    .option('--store <name>', 'only this store')
    .option('--json', 'print the report as JSON')
    .action(async (o: { store?: string; json?: boolean }, cmd: Command) => {
      const loaded = load(cmd);
      if (o.store) assertStore(loaded, o.store);
      const bar = progressBar();
      try {
        const report = await mutate(
          loaded,
          (admin) => admin.resync(o.store, bar.update),
          () => ({ full: true, ...(o.store && { store: o.store }), onProgress: bar.update }),
        );
        bar.stop();
        printReport(report, o.json === true);
        if (report.outcome !== 'pushed' || report.stores.some((s) => s.failed > 0)) process.exitCode = 1;
      } finally {
        bar.stop();
      }
    });

  program
    .command('status')
    .description('what the daemon knows: inventory, stores, alerts (needs no secret)')
    .option('--json', 'one JSON object (the documented shape)')
    .action((o: { json?: boolean }, cmd: Command) => {
      const { view, baseDir } = loadStatusView(configFile(cmd.optsWithGlobals()));
      const file = databasePath({ database: view.database, baseDir });
      const stores = view.sandbox ? sandboxStoreSummaries() : view.storefronts;
      let status: Status;
      if (!existsSync(file)) status = emptyStatus(stores);
      else {
        const db = openDb(file, { readonly: true });
        try {
          assertSchemaVersion(db);
          status = readStatus(db, stores);
        } finally {
          db.close();
        }
      }
      process.stdout.write(o.json ? `${JSON.stringify(status, null, 2)}\n` : `${formatStatus(status)}\n`);
    });

  program
    .command('report')
    .description('per supplier order: cost, the shop revenue it served, margin, pooled codes (read-only)')
    .option('--from <date>', 'first day (UTC, YYYY-MM-DD), inclusive')
    .option('--to <date>', 'last day (UTC, YYYY-MM-DD), inclusive')
    .option('--by <grouping>', 'order, sku or day', 'order')
    .option('--csv', 'CSV, amounts in USD')
    .action((o: { from?: string; to?: string; by: string; csv?: boolean }, cmd: Command) => {
      const loaded = load(cmd);
      if (!['order', 'sku', 'day'].includes(o.by)) throw new UsageError('--by: must be order, sku or day');
      const by = o.by as ReportGrouping;
      const range = reportRange(o);
      const file = dbFile(loaded);
      if (!existsSync(file)) throw new UsageError(`no database at ${file} yet: nothing bought`);
      const db = openDb(file, { readonly: true });
      try {
        assertSchemaVersion(db);
        const report = costReport(db, {
          ...range,
          by,
          fxRates: loaded.raw.catalog.pricing.fxRates,
          skuTemplate: loaded.raw.catalog.skuTemplate,
        });
        process.stdout.write(o.csv ? reportCsv(report, by) : reportTable(report, by));
      } finally {
        db.close();
      }
    });

  const orders = program
    .command('orders')
    .description('purchases parked for an operator, in flight, lines on hold, and deliveries not yet ended')
    .option('--json', 'as JSON')
    .action(async (o: { json?: boolean }, cmd: Command) => {
      const loaded = load(cmd);
      const listing = await withFulfillment(
        loaded,
        (admin) => admin.orders(),
        async (f) => ordersListing(f.ctx.db),
      );
      process.stdout.write(
        o.json ? `${JSON.stringify(listing, null, 2)}\n` : `${formatOrdersListing(listing)}\n`,
      );
    });

  orders
    .command('resolve <intentId>')
    .description('settle a parked purchase intent after checking the supplier for its reference')
    .option('--supplier-order <id>', 'the supplier did place it: follow this supplier order')
    .option('--rebuy', 'the supplier did not place it: buy again under a new key')
    .option('--abandon', 'give up on it; its lines stay on hold for you')
    .action(
      async (
        intentId: string,
        o: { supplierOrder?: string; rebuy?: boolean; abandon?: boolean },
        cmd: Command,
      ) => {
        const loaded = load(cmd);
        const chosen = [o.supplierOrder !== undefined, o.rebuy === true, o.abandon === true].filter(
          Boolean,
        ).length;
        if (chosen !== 1)
          throw new UsageError('orders resolve: give exactly one of --supplier-order ID, --rebuy, --abandon');
        const action: ResolveAction = o.supplierOrder
          ? { kind: 'supplier-order', supplierOrderId: o.supplierOrder }
          : o.rebuy
            ? { kind: 'rebuy' }
            : { kind: 'abandon' };
        const message = await withFulfillment(
          loaded,
          (admin) => admin.resolve(intentId, action),
          (f) => resolveIntent(f.ctx, intentId, action, catalogView(f.ctx)),
        );
        process.stdout.write(`${message}\n`);
      },
    );

  orders
    .command('review')
    .description('orders held for review (over a spending limit): store, order, buyer, value, the limit hit')
    .option('--json', 'as JSON')
    .action(async (_o, cmd: Command) => {
      const loaded = load(cmd);
      // `orders` has its own --json: whichever side of `review` it is written on, it counts.
      const o = cmd.optsWithGlobals<{ json?: boolean }>();
      const rows = await withFulfillment(
        loaded,
        (admin) => admin.review(),
        async (f) => reviewListing(f.ctx.db),
      );
      process.stdout.write(o.json ? `${JSON.stringify(rows, null, 2)}\n` : `${formatReviewListing(rows)}\n`);
    });

  for (const [decision, { run: decide, what }] of Object.entries(ORDER_DECISIONS) as [
    OrderDecision,
    (typeof ORDER_DECISIONS)[OrderDecision],
  ][]) {
    orders
      .command(decision)
      .description(what)
      .requiredOption('--store <name>', 'store name')
      .requiredOption('--order <id>', 'shop order id')
      .action(async (o: { store: string; order: string }, cmd: Command) => {
        const loaded = load(cmd);
        const names = storesOf(loaded).map((s) => s.name);
        if (!names.includes(o.store)) {
          throw new UsageError(`--store: no store named "${o.store}" (have: ${names.join(', ')})`);
        }
        const by = `cli: ${operatorName()}`;
        const message = await withFulfillment(
          loaded,
          (admin) => admin.decide(decision, o.store, o.order, by),
          (f) => decide(f.ctx, o.store, o.order, by),
        );
        process.stdout.write(`${message}\n`);
      });
  }

  program
    .command('claim')
    .description('file a code-support claim for a delivered code (the code is read from stdin, never argv)')
    .requiredOption('--store <name>', 'store name')
    .requiredOption('--order <id>', 'shop order id')
    .requiredOption('--line <id>', 'shop line item id')
    .requiredOption('--error-code <code>', 'the PSN error code the buyer saw')
    .option('--description <text>', 'what happened')
    .action(
      async (
        o: { store: string; order: string; line: string; errorCode: string; description?: string },
        cmd: Command,
      ) => {
        const loaded = load(cmd);
        assertStore(loaded, o.store);
        const code = await readStdin();
        const req = {
          store: o.store,
          orderId: o.order,
          lineId: o.line,
          code,
          errorCode: o.errorCode,
          description: o.description,
        };
        const outcome = await withFulfillment(
          loaded,
          (admin) => admin.claim(req),
          (f) => fileClaim(f.ctx, req),
        );
        switch (outcome.kind) {
          case 'filed':
            process.stdout.write(
              `claim ${outcome.supplierClaimId} filed for ${outcome.masked} (window closes ${outcome.windowClosesAt})\n`,
            );
            break;
          case 'already-filed':
            process.stdout.write(
              `a claim for ${outcome.masked} was filed already (${outcome.supplierClaimId ?? 'outcome pending'})\n`,
            );
            break;
          default:
            process.stderr.write(`psnb2b-sync: claim ${outcome.kind}: ${outcome.reason}\n`);
            process.exitCode = outcome.kind === 'refused' ? 2 : 1;
        }
      },
    );

  program
    .command('backup <file>')
    .description('copy the database to <file> (0600), safely while the daemon runs; codesKey is not in it')
    .option('--force', 'replace <file> if it exists')
    .action(async (target: string, o: { force?: boolean }, cmd: Command) => {
      const loaded = load(cmd);
      const file = path.resolve(target);
      const force = o.force === true;
      const admin = daemonAdmin(loaded);
      let result: BackupResult;
      if (admin) result = await admin.backup(file, force);
      else {
        const source = dbFile(loaded);
        if (!existsSync(source)) throw new UsageError(`backup: no database at ${source}`);
        const db = openDb(source, { readonly: true });
        try {
          result = await backupDatabase(db, file, { force });
        } finally {
          db.close();
        }
      }
      process.stdout.write(
        `backed up to ${result.file} (${result.bytes} bytes, schema version ${result.schemaVersion}); back up codesKey separately\n`,
      );
    });

  program
    .command('keys')
    .description('the codes key')
    .command('rotate')
    .description(
      're-encrypt every stored code under a new codesKey, written to a 0600 file beside the database (stop the daemon first; resumes after a crash)',
    )
    .option('--batch-size <n>', 'codes per transaction', String(DEFAULT_ROTATE_BATCH))
    .action((o: { batchSize: string }, cmd: Command) => {
      const loaded = load(cmd);
      const batch = Number(o.batchSize);
      if (!Number.isInteger(batch) || batch < 1)
        throw new UsageError('--batch-size: a whole number, 1 or more');
      let shown = 0;
      const outcome = runKeysRotate(loaded, batch, (done, total) => {
        if (done === total || shown === 0 || Date.now() - shown >= 1000) {
          shown = Date.now();
          process.stderr.write(`keys rotate: ${done}/${total} codes re-encrypted\n`);
        }
      });
      const variable = codesKeyVariable(readFileSync(loaded.configPath, 'utf8'));
      process.stdout.write(`${formatRotation(outcome, shortPath(loaded.configPath), variable)}\n`);
    });

  program
    .command('dashboard')
    .description("print a one-time login URL for the running daemon's dashboard")
    .action(async (_o, cmd: Command) => {
      const admin = daemonAdmin(load(cmd));
      if (!admin)
        throw new UsageError('no daemon is running on this database: start it with `psnb2b-sync run`');
      const login = await admin.dashboardLogin();
      process.stdout.write(
        `Open this URL within 5 minutes; it works once:\n${login.url}\n(expires ${login.expiresAt})\n`,
      );
    });

  program
    .command('config')
    .description('configuration')
    .command('check')
    .description('validate the config and print it with secrets masked; --live also runs doctor')
    .option('--live', 'then run doctor: the live checks of the supplier, the shops and the database')
    .action(async (o: { live?: boolean }, cmd: Command) => {
      const loaded = await checkConfigFile(configFile(cmd.optsWithGlobals()));
      process.stdout.write(
        `# ${loaded.configPath}: valid\n${JSON.stringify(maskConfig(loaded.raw), null, 2)}\n`,
      );
      if (o.live) await printDoctor(loaded);
    });

  program
    .command('doctor')
    .description('live checks, one line and a verdict each; exit 0 only when a sale would go through')
    .action(async (_o, cmd: Command) => {
      await printDoctor(load(cmd));
    });

  program
    .command('init')
    .description(
      'write a live config (secrets as environment references, their values in an owner-only env file), then run doctor',
    )
    .option('--out <file>', 'config file to write', './live.yaml')
    .option('--env-file-out <file>', 'env file to write (default: beside --out, .env)')
    .option('--database <path>', 'database, relative to the config (never the sandbox one)', './data/live.db')
    .option('--supplier-url <url>', 'PSN:B2B API base', 'https://psnb2b.com/api/v1')
    .option('--supplier-key <key>', 'PSN:B2B API key')
    .option('--woo-name <name>', 'WooCommerce store name', 'shop-a')
    .option('--woo-url <url>', 'WooCommerce home URL')
    .option('--woo-key <key>', 'WooCommerce REST consumer key (Read/Write)')
    .option('--woo-secret <secret>', 'WooCommerce REST consumer secret')
    .option('--shopify-name <name>', 'Shopify store name', 'shop-b')
    .option('--shopify-shop <host>', 'Shopify shop host (example.myshopify.com)')
    .option('--shopify-token <token>', 'Shopify Admin API access token')
    .option('--shopify-secret <secret>', 'Shopify app API secret key')
    .action(async (o: InitAnswers & { envFileOut?: string }) => {
      const files = initFiles({ out: o.out, envFile: o.envFileOut });
      const answers = await completeAnswers({ ...o, envFile: files.envFile }, process.stdin.isTTY === true);
      const { configFile: written, envFile } = writeInit(answers);
      process.stdout.write(
        `wrote ${written}\nwrote ${envFile} (mode 0600: the secrets and a new codesKey; back it up)\n`,
      );
      loadEnvFile(envFile);
      await printDoctor(loadConfigFile(written));
      process.stdout.write(
        `next: psnb2b-sync run --config ${shortPath(written)} --env-file ${shortPath(envFile)}\n`,
      );
    });

  program
    .command('sandbox')
    .description('run the sandbox supplier and sandbox shop alone, and print their URLs and keys')
    .action(async (_o, cmd: Command) => {
      const loaded = load(cmd);
      // Loaded on demand: the fakes it starts are never in the daemon's import graph.
      const { runStandaloneSandbox } = await import('./sandbox/sandbox-mode.js');
      await runStandaloneSandbox(loaded, commandLogger(loaded, 'info'));
    });

  return program;
}

export async function main(argv: string[]): Promise<number> {
  try {
    await buildProgram().parseAsync(argv);
    return typeof process.exitCode === 'number' ? process.exitCode : 0;
  } catch (e) {
    if (e instanceof CommanderError) {
      return e.exitCode === 0 ? 0 : 2;
    }
    const usage = e instanceof ConfigError || e instanceof UsageError;
    const message = e instanceof AppError ? e.message : describeSafeError(toSafeError(e));
    process.stderr.write(`psnb2b-sync: ${message}\n`);
    return usage ? 2 : 1;
  }
}

/** Who runs this CLI, as recorded with an operator's decision (`orders resend`). */
function operatorName(): string {
  try {
    return userInfo().username;
  } catch {
    return 'unknown user';
  }
}

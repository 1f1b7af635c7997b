import { accessSync, constants, existsSync, statfsSync, statSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../config/load.js';
import { openAlerts } from './alerts.js';
import { SCHEMA_VERSION } from './db/migrations.js';
import { schemaVersion } from './db/open.js';
import { AppError, ConfigError, describeSafeError, toSafeError } from './errors.js';
import { CodeVault, parseCodesKey } from './fulfillment/code-vault.js';
import type { CycleReport } from './inventory/sync-inventory.js';
import type { Logger } from './log.js';
import { checkStoreClocks, databasePath, openRuntime, type Runtime } from './main.js';
import { formatUsd, usdToCents } from './money.js';
import { refuseSandboxDatabase } from './sandbox/sandbox-database.js';

/**
 * `psnb2b-sync doctor`: what a sale needs, checked live, one line and a verdict each. It reads
 * and never writes: the database is opened as an in-memory copy (as a dry run does), a shop's
 * write permission is tried with a write that changes nothing, and the stock is only read.
 */

export type Verdict = 'ok' | 'warn' | 'fail';

export interface DoctorCheck {
  verdict: Verdict;
  name: string;
  detail: string;
}

const MIN_FREE_BYTES = 50 * 1024 * 1024;
const LOW_FREE_BYTES = 500 * 1024 * 1024;
const WARN_SKEW_MS = 5 * 60_000;
/** WooCommerce's OAuth refuses requests beyond this. */
const FAIL_SKEW_MS = 15 * 60_000;

/** A sale goes through only when nothing failed; warnings are worth a look but block nothing. */
export function saleWouldGoThrough(checks: readonly DoctorCheck[]): boolean {
  return checks.every((c) => c.verdict !== 'fail');
}

export function formatDoctor(checks: readonly DoctorCheck[]): string {
  const tag = { ok: 'ok  ', warn: 'WARN', fail: 'FAIL' } as const;
  const lines = checks.map((c) => `${tag[c.verdict]}  ${c.name}: ${c.detail}`);
  lines.push(
    saleWouldGoThrough(checks)
      ? 'verdict: a sale would go through'
      : 'verdict: a sale would NOT go through — fix the FAIL lines above',
  );
  return lines.join('\n');
}

export function skewCheck(peer: string, skewMs: number): DoctorCheck {
  const min = Math.round(Math.abs(skewMs) / 60_000);
  const side = skewMs > 0 ? 'ahead of' : 'behind';
  const about = `${peer}'s clock is ${Math.abs(skewMs) < 60_000 ? `${Math.round(Math.abs(skewMs) / 1000)} s` : `${min} min`} ${side} ours`;
  if (Math.abs(skewMs) > FAIL_SKEW_MS)
    return {
      verdict: 'fail',
      name: `clock ${peer}`,
      detail: `${about}: fix the time (NTP); OAuth fails beyond 15 min`,
    };
  if (Math.abs(skewMs) > WARN_SKEW_MS)
    return { verdict: 'warn', name: `clock ${peer}`, detail: `${about}: over 5 min, fix the time (NTP)` };
  return { verdict: 'ok', name: `clock ${peer}`, detail: about };
}

async function supplierChecks(rt: Runtime): Promise<DoctorCheck[]> {
  try {
    const balance = await rt.supplier.getBalance();
    const min = usdToCents(rt.config.fulfillment.minBalanceUsd, 'fulfillment.minBalanceUsd');
    return [
      {
        verdict: 'ok',
        name: 'supplier',
        detail: `${rt.config.supplier.baseUrl} reachable, API key accepted`,
      },
      balance.availableCents > min
        ? { verdict: 'ok', name: 'balance', detail: `${formatUsd(balance.availableCents)} USD` }
        : {
            verdict: 'fail',
            name: 'balance',
            detail: `${formatUsd(balance.availableCents)}, not above fulfillment.minBalanceUsd (${formatUsd(min)}): purchases would be held; top up at PSN:B2B`,
          },
    ];
  } catch (e) {
    const err = toSafeError(e);
    const refused = err.status === 401 || err.status === 403;
    return [
      {
        verdict: 'fail',
        name: 'supplier',
        detail: refused
          ? `API key refused (${err.status}): check supplier.apiKey`
          : `not reachable at ${rt.config.supplier.baseUrl}: ${describeSafeError(err)}`,
      },
    ];
  }
}

function skuChecks(report: CycleReport): DoctorCheck[] {
  if (report.outcome === 'pull-failed' || report.outcome === 'held') return [];
  return report.stores.map((s) => {
    const name = `${s.store} SKUs`;
    if (s.unreachable || (s.error && (s.plan?.length ?? 0) === 0)) {
      return {
        verdict: 'fail',
        name,
        detail: `not read: ${s.error ? describeSafeError(s.error) : 'unreachable'}`,
      };
    }
    const matched = s.plan?.length ?? 0;
    const parts = [`${matched} matched`];
    if (s.missingSkus.length)
      parts.push(`${s.missingSkus.length} missing (no product): ${s.missingSkus.join(', ')}`);
    if (s.duplicateSkus.length)
      parts.push(`${s.duplicateSkus.length} duplicate (never published): ${s.duplicateSkus.join(', ')}`);
    const verdict: Verdict =
      matched === 0 ? 'fail' : s.missingSkus.length + s.duplicateSkus.length > 0 ? 'warn' : 'ok';
    return { verdict, name, detail: parts.join('; ') };
  });
}

function clockChecks(rt: Runtime): DoctorCheck[] {
  checkStoreClocks(rt.db, rt.stores);
  const checks: DoctorCheck[] = [];
  for (const s of rt.stores) if (s.clockSkewMs !== undefined) checks.push(skewCheck(s.name, s.clockSkewMs));
  // The supplier's skew is recorded from its Date header as an alert (in this run's scratch copy).
  const supplier = openAlerts(rt.db).find((a) => a.kind === 'clock-skew' && a.subject === 'supplier');
  checks.push(
    supplier
      ? { verdict: 'warn', name: 'clock supplier', detail: `${supplier.detail}: fix the time (NTP)` }
      : { verdict: 'ok', name: 'clock supplier', detail: 'within 5 min' },
  );
  return checks;
}

async function webhookChecks(rt: Runtime): Promise<DoctorCheck[]> {
  const publicUrl = rt.config.server.publicUrl;
  if (!publicUrl)
    return [{ verdict: 'ok', name: 'webhooks', detail: 'off (server.publicUrl not set): polling only' }];
  const url = `${publicUrl.replace(/\/$/, '')}/healthz`;
  try {
    const res = await fetch(url, { signal: AbortSignal.timeout(5_000) });
    return res.ok
      ? [
          {
            verdict: 'ok',
            name: 'publicUrl',
            detail: `${url} answers; run registers the shops' webhooks there`,
          },
        ]
      : [
          {
            verdict: 'warn',
            name: 'publicUrl',
            detail: `${url} answered ${res.status}: polling still covers orders`,
          },
        ];
  } catch (e) {
    return [
      {
        verdict: 'warn',
        name: 'publicUrl',
        detail: `${url} not reachable from here (${toSafeError(e).message}); is the daemon running behind it? Polling still covers orders`,
      },
    ];
  }
}

/** The nearest folder that exists on the way to `file` (the database's folder may not yet). */
function existingFolder(file: string): string {
  let dir = path.dirname(file);
  while (!existsSync(dir) && path.dirname(dir) !== dir) dir = path.dirname(dir);
  return dir;
}

/** A live config on the sandbox's (marked) database: the refusal `run` would give, as a check. */
function sandboxDatabaseProblem(loaded: LoadedConfig): string | null {
  if (loaded.raw.sandbox) return null;
  try {
    refuseSandboxDatabase(databasePath({ database: loaded.raw.database, baseDir: loaded.baseDir }));
    return null;
  } catch (e) {
    return e instanceof AppError ? e.message : toSafeError(e).message;
  }
}

function databaseChecks(loaded: LoadedConfig, wrongDatabase: string | null): DoctorCheck[] {
  const file = databasePath({ database: loaded.raw.database, baseDir: loaded.baseDir });
  const checks: DoctorCheck[] = [];
  if (wrongDatabase) checks.push({ verdict: 'fail', name: 'database', detail: wrongDatabase });
  const folder = existingFolder(file);
  const target = existsSync(file) ? file : folder;
  try {
    accessSync(target, constants.W_OK);
    const loose = existsSync(file) && (statSync(file).mode & 0o077) !== 0;
    checks.push(
      loose
        ? {
            verdict: 'warn',
            name: 'database',
            detail: `${file} is readable by others: chmod 600 it (and 700 its folder)`,
          }
        : {
            verdict: 'ok',
            name: 'database',
            detail: existsSync(file)
              ? `${file} writable, owner-only`
              : `${file} will be created by run (${folder} writable)`,
          },
    );
  } catch {
    checks.push({ verdict: 'fail', name: 'database', detail: `${target} is not writable by this user` });
  }
  const free = (() => {
    const s = statfsSync(folder);
    return s.bavail * s.bsize;
  })();
  const mb = Math.round(free / 1024 / 1024);
  checks.push(
    free < MIN_FREE_BYTES
      ? { verdict: 'fail', name: 'disk', detail: `${mb} MB free at ${folder}: free some space` }
      : free < LOW_FREE_BYTES
        ? { verdict: 'warn', name: 'disk', detail: `${mb} MB free at ${folder}` }
        : { verdict: 'ok', name: 'disk', detail: `${mb} MB free at ${folder}` },
  );
  return checks;
}

function codesKeyCheck(rt: Runtime, dbExisted: boolean, wrongDatabase: boolean): DoctorCheck {
  const name = 'codesKey';
  if (wrongDatabase && rt.config.codesKey) {
    return { verdict: 'ok', name, detail: 'valid; not tried against the sandbox database (see database)' };
  }
  if (!rt.config.codesKey) {
    return {
      verdict: 'fail',
      name,
      detail: 'not set: orders would not be fulfilled; generate one with `openssl rand -base64 32`',
    };
  }
  try {
    if (schemaVersion(rt.db) > SCHEMA_VERSION)
      throw new AppError('database', 'the database is newer than this program');
    new CodeVault(parseCodesKey(rt.config.codesKey)).verifyAgainst(rt.db);
    return {
      verdict: 'ok',
      name,
      detail: dbExisted ? 'opens the stored codes' : 'valid; no codes stored yet',
    };
  } catch (e) {
    // The line already names codesKey: its own error's `codesKey: ` prefix would say it twice.
    const detail =
      e instanceof ConfigError && e.path === name
        ? e.message.slice(name.length + 2)
        : e instanceof AppError
          ? e.message
          : toSafeError(e).message;
    return { verdict: 'fail', name, detail };
  }
}

export async function runDoctor(loaded: LoadedConfig, log: Logger): Promise<DoctorCheck[]> {
  const dbExisted = existsSync(databasePath({ database: loaded.raw.database, baseDir: loaded.baseDir }));
  const wrongDatabase = sandboxDatabaseProblem(loaded);
  const rt = await openRuntime(loaded, log, { dryRun: true, ignoreDatabase: wrongDatabase !== null });
  try {
    const checks = await supplierChecks(rt);
    for (const s of rt.stores) {
      const access = await s.checkAccess();
      checks.push({ ...access, name: `${s.name} credentials` });
    }
    if (checks[0]?.verdict === 'ok')
      checks.push(...skuChecks(await rt.job.run({ dryRun: true, full: true })));
    checks.push(
      ...clockChecks(rt),
      ...(await webhookChecks(rt)),
      ...databaseChecks(loaded, wrongDatabase),
      codesKeyCheck(rt, dbExisted, wrongDatabase !== null),
    );
    return checks;
  } finally {
    await rt.close();
  }
}

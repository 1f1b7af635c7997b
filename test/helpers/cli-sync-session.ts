import { type CliResult, OutputLog, runCli } from './cli-process.js';
import { databaseFile, newSecrets, writeSyncConfig } from './e2e-config.js';
import { SyncWorld } from './sync-world.js';
import { tempDir } from './temp-dir.js';

/**
 * One `sync`-by-`sync` session with no daemon: a world (supplier + WooCommerce shops), a config
 * for it, and `sync(...flags)` running `psnb2b-sync sync --json` as a child process and parsing
 * its report. Register `cleanup` in the test's afterEach.
 */

export interface SyncReport {
  outcome: string;
  note?: string;
  entries: number;
  changes: number;
  supplierCalls: number;
  stores: {
    store: string;
    planned: number;
    acknowledged: number;
    failed: number;
    plan?: { sku: string; quantity: number; previous: number | null }[];
  }[];
}

export async function startCliSyncSession(wooShops: string[], opts: { entries?: number } = {}) {
  const secrets = newSecrets();
  const tmp = tempDir('cli');
  const output = new OutputLog();
  const world = await SyncWorld.start({ secrets, entries: opts.entries ?? 12, wooShops });
  const configPath = writeSyncConfig(tmp.dir, {
    supplierUrl: world.supplierUrl,
    secrets,
    storefronts: world.storefronts(),
    recheckSeconds: 1,
  });
  const cli = (args: string[], extra: Parameters<typeof runCli>[1] = {}) =>
    runCli([...args, '--config', configPath], { log: output, ...extra });
  const sync = async (...flags: string[]): Promise<{ res: CliResult; report: SyncReport }> => {
    const res = await cli(['sync', '--json', ...flags]);
    try {
      return { res, report: JSON.parse(res.stdout) as SyncReport };
    } catch {
      throw new Error(`sync printed no report (exit ${res.code}):\n${res.stdout}\n${res.stderr}`);
    }
  };
  return {
    world,
    secrets,
    dir: tmp.dir,
    configPath,
    dbFile: databaseFile(tmp.dir),
    output,
    cli,
    sync,
    cleanup: async () => {
      await world.stop();
      tmp.remove();
    },
  };
}

export const storeReport = (r: SyncReport, name: string) => r.stores.find((s) => s.store === name);

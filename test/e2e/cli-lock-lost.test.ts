import Database from 'better-sqlite3';
import { afterEach, expect, it } from 'vitest';
import { startCliSyncSession } from '../helpers/cli-sync-session.js';
import { lockHolder } from '../helpers/sqlite-peek.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * An in-process CLI run that loses the run lock (another process took it over) stops at once,
 * as a kill would, instead of pushing stock beside the new holder.
 */

let session: Awaited<ReturnType<typeof startCliSyncSession>> | undefined;
afterEach(async () => {
  await session?.cleanup();
  session = undefined;
});

it('a CLI sync whose lock another process took stops, exits 1 and pushes nothing', async () => {
  session = await startCliSyncSession(['shop-a']);
  const { world, dbFile, sync, cli } = session;
  expect((await sync()).res.code).toBe(0);
  const shop = world.wooShop('shop-a').fake;
  const sku = world.skus[4] as string;
  world.setQty(sku, 5);
  // The pull answers after 8 s (the client gives up at 10): the lock changes hands meanwhile.
  world.supplier.latencyMs = 8_000;
  const running = cli(['sync', '--json']);
  await waitUntil(() => lockHolder(dbFile) !== undefined, {
    timeoutMs: 10_000,
    what: 'the CLI holds the lock',
  });
  const db = new Database(dbFile);
  try {
    db.prepare("UPDATE run_lock SET nonce = 'another-process', pid = 1 WHERE id = 1").run();
  } finally {
    db.close();
  }

  const res = await running;
  expect(res.code).toBe(1);
  expect(res.stderr).toContain('lost the run lock');
  world.supplier.latencyMs = 0;
  expect(shop.productBySku(sku)?.stock_quantity).not.toBe(5);
}, 60_000);

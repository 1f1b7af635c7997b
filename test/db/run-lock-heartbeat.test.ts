import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { afterEach, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { loadConfigFile } from '../../src/config-file.js';
import { HEARTBEAT_MS } from '../../src/db/run-lock.js';
import { silentLogger } from '../../src/log.js';
import { openRuntime, type Runtime } from '../../src/main.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Whoever holds the run lock heartbeats until it lets go, not only the daemon: an in-process CLI
 * `resync` of a large catalogue takes minutes, and a holder silent for 30 s may be taken over.
 */

const tmp = tempDir('lock-heartbeat');
let runtime: Runtime | undefined;
afterEach(async () => {
  await runtime?.close();
  tmp.remove();
});

it('a runtime (what the CLI runs in-process) keeps the lock fresh while it holds it', async () => {
  const config = path.join(tmp.dir, 'sandbox.yaml');
  writeFileSync(config, stringify({ sandbox: { shopperSeconds: 0 }, database: './sb.db' }));
  runtime = await openRuntime(loadConfigFile(config), silentLogger());
  const { db } = runtime;
  // As if its last beat were long ago: only a new beat brings it back.
  db.prepare('UPDATE run_lock SET heartbeat_at = 0').run();
  const beat = await waitUntil(
    () => (db.prepare('SELECT heartbeat_at AS at FROM run_lock').get() as { at: number } | undefined)?.at,
    { timeoutMs: HEARTBEAT_MS * 3, what: 'a heartbeat' },
  );
  expect(beat).toBeGreaterThan(0);
}, 30_000);

import { readFileSync, writeFileSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeCodesKey } from '../../config/codes-key.js';
import { CodeVault } from '../../src/fulfillment/code-vault.js';
import { FulfillmentDaemonWorld } from '../helpers/fulfillment-daemon-world.js';
import { findSecrets, sqliteFiles } from '../helpers/secret-leak-scan.js';
import { withDb } from '../helpers/sqlite-peek.js';
import { storedCodes } from '../helpers/stored-codes.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * A codes key rotation as a reseller does it: with codes delivered by the real daemon, `keys
 * rotate` refuses while the daemon runs; stopped, it rotates; the daemon then refuses the old key
 * with the fix, and with the new key in the config it starts, and sells and delivers as before.
 */

let w: FulfillmentDaemonWorld;
const placed: number[] = [];

async function sell(quantity: number): Promise<void> {
  const order = w.placeOrder([{ sku: w.skus[0] as string, quantity }]);
  placed.push(order.id);
  await waitUntil(() => w.shop.orderStatus(order.id) === 'completed', {
    timeoutMs: 30_000,
    what: 'order completed',
  });
}

beforeAll(async () => {
  w = await FulfillmentDaemonWorld.start({ honoursIdempotencyKeys: true });
  await w.startDaemon();
  await sell(2);
}, 60_000);

afterAll(async () => {
  await w?.stop();
});

describe('keys rotate with the daemon', () => {
  it('refuses while it runs; then the old key is refused at start, naming the fix, and the new key works', async () => {
    const busy = await w.cli('keys', 'rotate');
    expect(busy.code).toBe(2);
    expect(busy.stderr).toMatch(/is running on \S+sync\.db: stop the daemon first/);

    w.daemon?.signal('SIGTERM');
    expect((await w.daemon?.exit())?.code).toBe(0);
    const r = await w.cli('keys', 'rotate');
    expect(r.stderr).toBe('keys rotate: 2/2 codes re-encrypted\n');
    expect(r.code).toBe(0);
    const [, from, to] =
      /re-encrypted 2 code\(s\) from key id (\w{8}) to key id (\w{8})\n/.exec(r.stdout) ?? [];
    const file = /the new codesKey is in (\S+) \(mode 0600; not printed\)/.exec(r.stdout)?.[1] as string;
    expect(file).toMatch(new RegExp(`/data/codes-key-${to}$`));
    expect(r.stdout).toContain(`set codesKey in `);
    expect(r.stdout).toContain(
      `retire the old one (key id ${from}) only after the daemon runs with the new one`,
    );

    const old = await w.startDaemon(false);
    expect((await old.exit()).code).toBe(2);
    expect(old.stderr).toContain(
      `codesKey: (key id ${from}) no longer opens the stored codes: \`keys rotate\` re-encrypted the stored codes under key id ${to}, kept in ${file}: set codesKey to its contents, then start again`,
    );

    const newKey = readFileSync(file, 'utf8').trim();
    writeFileSync(w.configPath, readFileSync(w.configPath, 'utf8').replace(w.secrets.codesKey, newKey));
    await w.startDaemon();
    await sell(1);

    // Every code, the rotated ones and the new one, is under the new key and is what the buyers got.
    const vault = new CodeVault(decodeCodesKey(newKey));
    const notes = placed
      .flatMap((id) => w.shop.notesOf(id, { customer: true }).map((n) => n.note))
      .join('\n');
    const rows = withDb(w.dbFile, (db) => storedCodes(db));
    expect(rows).toHaveLength(3);
    for (const row of rows) {
      expect(row.keyId).toBe(to);
      expect(notes).toContain(vault.decrypt(row.codeEnc));
    }

    expect(
      findSecrets({ oldKey: w.secrets.codesKey, newKey }, [
        { label: 'daemon and CLI output', text: w.output.text },
        ...sqliteFiles(w.dbFile),
      ]),
    ).toEqual([]);
  }, 90_000);
});

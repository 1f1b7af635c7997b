import { existsSync, readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { OutputLog, runCli } from '../helpers/cli-process.js';
import { newSecrets, syncConfigDocument, writeSyncConfig } from '../helpers/e2e-config.js';
import { findSecrets } from '../helpers/secret-leak-scan.js';
import { SyncWorld } from '../helpers/sync-world.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * Going live: `init` writes a live config from flags (no TTY) and runs `doctor`; `doctor` checks
 * what a sale needs, one line and a verdict each, and exits 0 only when a sale would go through.
 */

vi.setConfig({ testTimeout: 90_000, hookTimeout: 60_000 });

const secrets = newSecrets();
const output = new OutputLog();
let world: SyncWorld;
let tmp: ReturnType<typeof tempDir>;

beforeAll(async () => {
  world = await SyncWorld.start({ secrets, entries: 12, wooShops: ['shop-a', 'shop-b', 'shop-c'] });
  tmp = tempDir('doctor');
});
afterAll(async () => {
  await world?.stop();
  tmp?.remove();
});

describe('doctor', () => {
  it('names a wrong shop key, a missing SKU and a skewed clock, and exits 1', async () => {
    const b = world.wooShop('shop-b').fake;
    const missing = world.skus[11] as string;
    b.deleteProduct(b.productBySku(missing)?.id as number);
    b.clockSkewMs = 7 * 60_000;
    const [a, bEntry] = world.woo.map((w) => w.entry);
    const configPath = writeSyncConfig(path.join(tmp.dir, 'bad'), {
      ...syncConfigDocument({ supplierUrl: world.supplierUrl, secrets, storefronts: [] }),
      storefronts: [{ ...a, consumerSecret: 'cs_wrong_0000000000000000' }, bEntry],
    });
    try {
      const res = await runCli(['doctor', '--config', configPath], { log: output });
      expect(res.code).toBe(1);
      const lines = res.stdout.split('\n');
      const line = (re: RegExp) => lines.find((l) => re.test(l)) ?? '';
      expect(line(/supplier/)).toMatch(/^ok/);
      expect(line(/shop-a credentials/)).toMatch(/^FAIL.*key refused.*consumerKey/);
      expect(line(/shop-b.*SKU/)).toMatch(new RegExp(`missing.*${missing}`));
      expect(line(/clock.*shop-b|shop-b.*clock/)).toMatch(/^(WARN|FAIL).*7 min/);
      expect(res.stdout).toMatch(/a sale would NOT go through/i);
    } finally {
      b.clockSkewMs = 0;
    }
  });
});

describe('init', () => {
  it('writes a live config with environment references, a 0600 env file and its own database, then doctor passes', async () => {
    const c = world.wooShop('shop-c');
    const dir = path.join(tmp.dir, 'init');
    const out = path.join(dir, 'live.yaml');
    const res = await runCli(
      [
        'init',
        '--out',
        out,
        '--supplier-url',
        world.supplierUrl,
        '--supplier-key',
        secrets.supplierApiKey,
        '--woo-name',
        'shop-c',
        '--woo-url',
        c.entry.url,
        '--woo-key',
        c.entry.consumerKey,
        '--woo-secret',
        c.entry.consumerSecret,
      ],
      // The secrets are on this command line, so its output is scanned on its own below.
    );
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    output.append('init', res.stdout + res.stderr);
    const config = readFileSync(out, 'utf8');
    expect(config).not.toMatch(/sandbox:/);
    expect(config).toMatch(/apiKey: \$\{PSN_B2B_API_KEY\}/);
    expect(config).toMatch(/database: "?\.\/data\/live\.db"?/);
    for (const secret of [secrets.supplierApiKey, c.entry.consumerKey, c.entry.consumerSecret])
      expect(config).not.toContain(secret);
    const envFile = path.join(dir, 'live.env');
    expect(statSync(envFile).mode & 0o777).toBe(0o600);
    const envText = readFileSync(envFile, 'utf8');
    expect(envText).toContain(`PSN_B2B_API_KEY=${secrets.supplierApiKey}`);
    expect(envText).toMatch(/PSNSYNC_CODES_KEY=\S{40,}/);
    expect(res.stdout).toMatch(/a sale would go through/i);
    // doctor created nothing: the database is made by the first `run`.
    expect(existsSync(path.join(dir, 'data', 'live.db'))).toBe(false);

    // The written pair works on its own.
    const again = await runCli(['doctor', '--config', out, '--env-file', envFile], { log: output });
    expect(again.code, again.stdout).toBe(0);
    const check = await runCli(['config', 'check', '--config', out, '--env-file', envFile], { log: output });
    expect(check.code, check.stderr).toBe(0);

    // init never overwrites.
    const twice = await runCli(['init', '--out', out, '--supplier-key', 'x'], { log: output });
    expect(twice.code).toBe(2);
    expect(twice.stderr).toMatch(/exists/);
    expect(readdirSync(dir).sort()).toEqual(['live.env', 'live.yaml']);
  });

  it('without a TTY, names the flags it still needs', async () => {
    const res = await runCli(['init', '--out', path.join(tmp.dir, 'x', 'live.yaml')], { log: output });
    expect(res.code).toBe(2);
    expect(res.stderr).toMatch(/--supplier-key/);
  });
});

afterAll(() => {
  expect(findSecrets(world.allSecrets(), [{ label: 'output', text: output.text }])).toEqual([]);
});

import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it, vi } from 'vitest';
import { writeSyncConfig } from '../helpers/e2e-config.js';
import { tempDir } from '../helpers/temp-dir.js';
import { waitUntil } from '../helpers/wait-until.js';

/**
 * Ctrl-C on `npm start`: the terminal sends SIGINT to the whole process group (npm and the
 * daemon), and npm forwards it to the daemon once more. The daemon finishes the step in flight
 * and exits 0 however many SIGINTs arrive, so npm exits 0 too (not 130).
 */

vi.setConfig({ testTimeout: 60_000 });

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const tmp = tempDir('npm-start');
afterAll(() => tmp.remove());

describe('npm start', () => {
  it('exits 0 on Ctrl-C (SIGINT to the process group)', async () => {
    const configPath = writeSyncConfig(tmp.dir, {
      sandbox: { dataDir: './data', entries: 4, shopperSeconds: 0 },
      database: './data/sync.db',
      server: { host: '127.0.0.1', port: 0 },
      log: { level: 'info', format: 'json' },
    });
    // A plain shell's environment: not the npm_* and NODE_OPTIONS of the npm and vitest running this test.
    const env = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^npm_/i.test(k) && k !== 'NODE_OPTIONS'),
    );
    const npm = spawn('npm', ['start', '--', '--config', configPath], {
      cwd: ROOT,
      env,
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    npm.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    npm.stderr.on('data', (d: Buffer) => {
      out += d.toString();
    });
    const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
      npm.on('exit', (code, signal) => resolve({ code, signal })),
    );
    try {
      await waitUntil(() => /listening on/.test(out), { timeoutMs: 30_000, what: 'daemon listening' });
      process.kill(-(npm.pid as number), 'SIGINT');
      const result = await exited;
      expect(result, out).toEqual({ code: 0, signal: null });
      expect(out).toMatch(/stopped/);
    } finally {
      try {
        process.kill(-(npm.pid as number), 'SIGKILL');
      } catch {
        // already gone
      }
    }
  });
});

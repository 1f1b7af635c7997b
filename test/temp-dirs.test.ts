import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { startFulfillmentWorld } from './helpers/fulfillment-world.js';
import { removeLeftTempDirs, tempDir } from './helpers/temp-dir.js';

/**
 * Test folders hold SQLite files (with codes in them), about half a megabyte each: every run left
 * thousands in /tmp. A test's folder goes when its helper closes, and at the latest after its file.
 */

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const p = path.join(dir, e.name);
    return e.isDirectory() ? sourceFiles(p) : p.endsWith('.ts') ? [p] : [];
  });
}

describe('test temp folders', () => {
  it('a fulfillment world takes its folder (database, WAL) with it when closed', async () => {
    const w = await startFulfillmentWorld();
    expect(existsSync(w.dbFile)).toBe(true);
    await w.close();
    expect(existsSync(w.dir)).toBe(false);
  });

  it('a folder its test did not remove goes after the file (test/setup/remove-temp-dirs.ts)', () => {
    const kept = tempDir('kept');
    const removed = tempDir('removed');
    removed.remove();
    removeLeftTempDirs();
    expect(existsSync(kept.dir)).toBe(false);
    expect(existsSync(removed.dir)).toBe(false);
  });

  it('no test makes a temp folder but through tempDir (which removes it)', () => {
    const allowed = [path.join('test', 'helpers', 'temp-dir.ts'), path.join('test', 'temp-dirs.test.ts')];
    const makers = sourceFiles('test').filter(
      (f) => !allowed.includes(f) && /\bmkdtemp/.test(readFileSync(f, 'utf8')),
    );
    expect(makers).toEqual([]);
  });
});

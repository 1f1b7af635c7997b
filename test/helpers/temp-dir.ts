import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

/**
 * Every folder a test makes under the OS temp dir comes from here. Test databases hold codes and
 * weigh about half a megabyte each; left behind, a few runs filled /tmp with thousands of them.
 */

export interface TempDir {
  dir: string;
  /** Deletes the folder now (a helper's close); otherwise it goes after its test file. */
  remove: () => void;
}

const left = new Set<string>();

/** A fresh folder `<tmpdir>/psnb2b-<prefix>-XXXXXX`. */
export function tempDir(prefix: string): TempDir {
  const dir = mkdtempSync(path.join(tmpdir(), `psnb2b-${prefix}-`));
  left.add(dir);
  return {
    dir,
    remove: () => {
      rmSync(dir, { recursive: true, force: true });
      left.delete(dir);
    },
  };
}

/** Deletes the folders not removed yet, also those of a test that failed before its close. */
export function removeLeftTempDirs(): void {
  for (const dir of left) rmSync(dir, { recursive: true, force: true });
  left.clear();
}

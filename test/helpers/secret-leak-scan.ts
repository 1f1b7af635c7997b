import { existsSync, readFileSync } from 'node:fs';

/**
 * Looks for secret values in captured text and in files (the SQLite database, its -wal and
 * -shm), byte for byte. Returns one line per finding, naming the secret and where it was seen.
 */

export function findSecrets(
  secrets: Record<string, string>,
  sources: { label: string; text?: string; file?: string }[],
): string[] {
  const found: string[] = [];
  for (const src of sources) {
    let haystack: string | undefined = src.text;
    if (src.file !== undefined) {
      if (!existsSync(src.file)) continue;
      haystack = readFileSync(src.file).toString('latin1');
    }
    if (haystack === undefined) continue;
    for (const [name, value] of Object.entries(secrets)) {
      if (value.length < 8) throw new Error(`secret ${name} is too short to search for meaningfully`);
      if (haystack.includes(value)) found.push(`${name} found in ${src.label}`);
    }
  }
  return found;
}

/** The database file and its WAL companions. */
export function sqliteFiles(dbFile: string): { label: string; file: string }[] {
  return ['', '-wal', '-shm'].map((suffix) => ({ label: `${dbFile}${suffix}`, file: `${dbFile}${suffix}` }));
}

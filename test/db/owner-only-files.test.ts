import { chmodSync, existsSync, mkdirSync, statSync } from 'node:fs';
import path from 'node:path';
import { PassThrough } from 'node:stream';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { migrate, openDb } from '../../src/db/open.js';
import { createLogger } from '../../src/log.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * The database holds encrypted codes, intents and claims: it, its write-ahead log and shared
 * memory file are readable by their owner only, also when SQLite creates them later, and also
 * when an older version left them readable.
 */

const modeOf = (f: string) => statSync(f).mode & 0o777;
const opened: Database.Database[] = [];
afterEach(() => {
  for (const db of opened.splice(0)) db.close();
});

function capture() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on('data', (c: Buffer) => lines.push(c.toString('utf8')));
  return { log: createLogger({ level: 'info', format: 'json', stream }), text: () => lines.join('') };
}

describe('owner-only database files', () => {
  it('a new database: folders 0700, the file, its -wal and -shm 0600', () => {
    const root = tempDir('modes').dir;
    const file = path.join(root, 'data', 'nested', 'live.db');
    const db = openDb(file);
    opened.push(db);
    migrate(db);
    db.prepare("INSERT INTO kv (key, value) VALUES ('probe', 'x')").run();
    expect(existsSync(`${file}-wal`)).toBe(true);
    expect(existsSync(`${file}-shm`)).toBe(true);
    expect(modeOf(path.join(root, 'data'))).toBe(0o700);
    expect(modeOf(path.dirname(file))).toBe(0o700);
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f), f).toBe(0o600);
  });

  it('an existing 0644 database (and folder) is tightened at start, with a log line naming it', () => {
    const dir = path.join(tempDir('modes').dir, 'data');
    const file = path.join(dir, 'live.db');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    const old = new Database(file);
    old.pragma('journal_mode = WAL');
    old.exec('CREATE TABLE t (x)');
    old.close();
    chmodSync(file, 0o644);
    const { log, text } = capture();
    const db = openDb(file, { log });
    opened.push(db);
    db.exec('INSERT INTO t VALUES (1)');
    for (const f of [file, `${file}-wal`, `${file}-shm`]) expect(modeOf(f), f).toBe(0o600);
    expect(modeOf(dir)).toBe(0o700);
    expect(text()).toContain(`tightened ${file} from 0644 to 0600`);
    expect(text()).toContain(`tightened ${dir} from 0755 to 0700`);
  });
});

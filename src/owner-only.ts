import { chmodSync, existsSync, mkdirSync, statSync, writeFileSync } from 'node:fs';
import type { Logger } from './log.js';

/**
 * The database, its `-wal`/`-shm`, the admin token and generated keys are the owner's alone:
 * files 0600, folders 0700. What already exists with a looser mode is tightened, with a log
 * line naming it (an older version, or a copy, left it readable).
 */

const FILE = 0o600;
const DIR = 0o700;

function tighten(target: string, mode: number, log: Logger | undefined): void {
  if (!existsSync(target)) return;
  const was = statSync(target).mode & 0o777;
  if ((was & ~mode) === 0) return;
  const octal = (m: number) => `0${m.toString(8)}`;
  try {
    chmodSync(target, was & mode);
    log?.warn(`tightened ${target} from ${octal(was)} to ${octal(was & mode)} (owner only)`, {
      component: 'files',
    });
  } catch (e) {
    log?.warn(`${target} is ${octal(was)} and cannot be tightened: ${(e as NodeJS.ErrnoException).code}`, {
      component: 'files',
    });
  }
}

/** Creates the folder (and its parents) 0700, or tightens it if it exists. */
export function ownerOnlyDir(dir: string, log?: Logger): void {
  mkdirSync(dir, { recursive: true, mode: DIR });
  tighten(dir, DIR, log);
}

/** Tightens an existing file to 0600; a missing one is left alone. */
export function ownerOnlyFile(file: string, log?: Logger): void {
  tighten(file, FILE, log);
}

/** Creates a file 0600 that must not exist yet (`wx`: two starts never both write it). */
export function writeOwnerOnlyFile(file: string, text: string): void {
  writeFileSync(file, text, { mode: FILE, flag: 'wx' });
  chmodSync(file, FILE);
}

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ConfigError } from '../errors.js';
import type { Logger } from '../log.js';
import { ownerOnlyDir, ownerOnlyFile, writeOwnerOnlyFile } from '../owner-only.js';
import { registerSecret } from '../redact.js';

/**
 * The admin API's bearer token when `server.adminToken` is not configured: generated at first
 * start into `<database folder>/admin-token` (0600), where the CLI (same user, same config)
 * reads it.
 */

export function adminTokenFile(dbFile: string): string {
  return path.join(path.dirname(dbFile), 'admin-token');
}

/** The daemon's side: the configured token, else the file's, else a new one written there. */
export function loadOrCreateAdminToken(configured: string | undefined, dbFile: string, log: Logger): string {
  if (configured) return configured;
  const file = adminTokenFile(dbFile);
  ownerOnlyDir(path.dirname(file), log);
  if (!existsSync(file)) {
    writeOwnerOnlyFile(file, `${randomBytes(32).toString('base64url')}\n`);
    log.info(`generated the admin API token into ${file}`, { component: 'daemon' });
  }
  ownerOnlyFile(file, log);
  const token = readAdminToken(undefined, dbFile);
  if (!token) throw new ConfigError('server.adminToken', `is not set and ${file} is empty`);
  return token;
}

/** The CLI's side: the configured token, else the daemon's generated one (undefined if none yet). */
export function readAdminToken(configured: string | undefined, dbFile: string): string | undefined {
  if (configured) return configured;
  const file = adminTokenFile(dbFile);
  if (!existsSync(file)) return undefined;
  const token = readFileSync(file, 'utf8').trim();
  registerSecret(token);
  return token || undefined;
}

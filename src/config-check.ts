import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import type { ConfigProblem, LoadedConfig } from '../config/load.js';
import { DEFAULT_DATABASE, serverSchema } from '../config/schema.js';
import { inspectConfigText, problemsError, readConfigText } from './config-file.js';
import { openDb } from './db/open.js';
import { currentHolder } from './db/run-lock.js';

/**
 * `config check`: every problem of the file at once — the schema's, every unset variable, and
 * what only this machine can tell (a `server.port` another program holds).
 */

/** What `server.port` busy looks like, the same whether `config check` finds it or `run` hits it. */
export function portInUse(host: string, port: number): ConfigProblem {
  return {
    path: 'server.port',
    message: `${port} on ${host} is in use by another program: stop it, or choose another server.port`,
  };
}

/** Null when the port can be bound now (or 0: any free port); the problem otherwise. */
export async function portProblem(host: string, port: number): Promise<ConfigProblem | null> {
  if (port === 0) return null;
  const probe = net.createServer();
  return new Promise((resolve) => {
    probe.once('error', (e: NodeJS.ErrnoException) => {
      if (e.code === 'EADDRINUSE') resolve(portInUse(host, port));
      else if (e.code === 'EADDRNOTAVAIL')
        resolve({ path: 'server.host', message: `${host} is not an address of this machine` });
      else if (e.code === 'EACCES')
        resolve({ path: 'server.port', message: `${port} needs privileges: choose a port above 1023` });
      else resolve({ path: 'server.port', message: `${port} on ${host} cannot be bound (${e.code})` });
    });
    probe.listen(port, host, () => probe.close(() => resolve(null)));
  });
}

/** The running daemon of this database holds its own port: that is not a problem. */
function heldByOurDaemon(dbFile: string, port: number): boolean {
  if (!existsSync(dbFile)) return false;
  try {
    const db = openDb(dbFile, { readonly: true });
    try {
      const url = currentHolder(db)?.adminUrl;
      return url ? new URL(url).port === String(port) : false;
    } finally {
      db.close();
    }
  } catch {
    return false;
  }
}

export async function checkConfigFile(file: string): Promise<LoadedConfig> {
  const { text, configPath } = readConfigText(file);
  const { loaded, problems, interpolated } = inspectConfigText(text, configPath);
  const server = serverSchema.safeParse(interpolated.server ?? {});
  if (server.success) {
    const { host, port } = server.data;
    const database = typeof interpolated.database === 'string' ? interpolated.database : DEFAULT_DATABASE;
    const busy = await portProblem(host, port);
    if (busy && !heldByOurDaemon(path.resolve(path.dirname(configPath), database), port)) problems.push(busy);
  }
  if (!loaded || problems.length > 0) throw problemsError(configPath, problems);
  return loaded;
}

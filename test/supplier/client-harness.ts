import path from 'node:path';
import { Writable } from 'node:stream';
import { SandboxSupplier, type SandboxSupplierOptions } from '../../fakes/psnb2b/supplier-server.js';
import { migrate, openDb } from '../../src/db/open.js';
import { createLogger, type Logger } from '../../src/log.js';
import { Pacer } from '../../src/supplier/pacer.js';
import {
  Psnb2bClient,
  type Psnb2bClientOptions,
  type SupplierClientConfig,
} from '../../src/supplier/psnb2b-client.js';
import { tempDir } from '../helpers/temp-dir.js';

/**
 * A real SandboxSupplier on loopback and a real client (pacer on a temp SQLite file) in front
 * of it; every line the client logs is captured so tests can grep it.
 */
export interface Harness {
  sandbox: SandboxSupplier;
  client: Psnb2bClient;
  pacer: Pacer;
  logs: () => string;
  logger: Logger;
  close: () => Promise<void>;
}

export const API_KEY = 'sk_test_9f8e7d6c5b4a39281706f5e4';

export async function startHarness(
  opts: {
    sandbox?: Partial<SandboxSupplierOptions>;
    config?: Partial<SupplierClientConfig>;
    client?: Partial<Omit<Psnb2bClientOptions, 'config' | 'pacer'>>;
    windowMs?: number;
    limits?: { general: number; bulk: number };
  } = {},
): Promise<Harness> {
  const sandbox = new SandboxSupplier({
    apiKey: API_KEY,
    paidAfterMs: 30,
    deliveredAfterMs: 30,
    tickMs: 10,
    ...opts.sandbox,
  });
  const baseUrl = await sandbox.start();
  const tmp = tempDir('client');
  const db = openDb(path.join(tmp.dir, 'sync.db'));
  migrate(db);
  const pacer = new Pacer({
    db,
    limits: opts.limits ?? { general: 60, bulk: 10 },
    ...(opts.windowMs !== undefined && { windowMs: opts.windowMs }),
  });
  let captured = '';
  const stream = new Writable({
    write(chunk, _enc, cb) {
      captured += String(chunk);
      cb();
    },
  });
  const logger = createLogger({ level: 'debug', format: 'json', stream });
  const client = new Psnb2bClient({
    config: {
      baseUrl,
      apiKey: API_KEY,
      timeoutMs: 2000,
      maxAttempts: 3,
      honoursIdempotencyKeys: false,
      ...opts.config,
    },
    pacer,
    logger,
    backoffBaseMs: 10,
    backoffMaxMs: 50,
    ...opts.client,
  });
  return {
    sandbox,
    client,
    pacer,
    logger,
    logs: () => captured,
    close: async () => {
      client.close();
      await sandbox.stop();
      db.close();
      tmp.remove();
    },
  };
}

/** Polls the sandbox through the client until the order reaches `status`. */
export async function waitForStatus(client: Psnb2bClient, id: string, status: string, timeoutMs = 5000) {
  const until = Date.now() + timeoutMs;
  for (;;) {
    const o = await client.getOrder(id);
    if (o.status === status) return o;
    if (Date.now() > until) throw new Error(`order ${id} is ${o.status}, not ${status}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { stringify } from 'yaml';

/**
 * Writes a real `sync.config.yaml` for a child process: supplier and storefronts pointing at
 * servers this test process runs on loopback, a database file beside the config (relative, so
 * it resolves from the config's folder, not the cwd), and distinctive secrets to hunt for.
 */

export interface E2eSecrets {
  supplierApiKey: string;
  adminToken: string;
  codesKey: string;
}

export function newSecrets(): E2eSecrets {
  return {
    supplierApiKey: `psn_e2e_${randomBytes(16).toString('hex')}`,
    adminToken: `adm_e2e_${randomBytes(16).toString('hex')}`,
    codesKey: randomBytes(32).toString('base64'),
  };
}

export interface WooStoreEntry {
  name: string;
  type: 'woocommerce';
  url: string;
  consumerKey: string;
  consumerSecret: string;
  [key: string]: unknown;
}

export interface ShopifyStoreEntry {
  name: string;
  type: 'shopify';
  shop: string;
  accessToken: string;
  apiSecretKey: string;
  [key: string]: unknown;
}

export interface SyncConfigInput {
  supplierUrl: string;
  secrets: E2eSecrets;
  storefronts: (WooStoreEntry | ShopifyStoreEntry)[];
  /** node-cron; default every second (6 fields). */
  inventorySchedule?: string;
  /** Seconds before the guard's confirming pull (default 1). */
  recheckSeconds?: number;
  /** Merged over the generated document (shallow, per top-level key). */
  extra?: Record<string, unknown>;
}

/** The config as a plain object (exported for tests that write a broken variant). */
export function syncConfigDocument(input: SyncConfigInput): Record<string, unknown> {
  return {
    supplier: {
      baseUrl: input.supplierUrl,
      apiKey: input.secrets.supplierApiKey,
      requestsPerMinute: 60,
      ordersPerMinute: 10,
      timeoutMs: 10_000,
    },
    database: './data/sync.db',
    codesKey: input.secrets.codesKey,
    schedule: { inventory: input.inventorySchedule ?? '*/1 * * * * *', orders: '*/30 * * * * *' },
    server: { host: '127.0.0.1', port: 0, adminToken: input.secrets.adminToken },
    catalog: {
      skuTemplate: 'PSN-{region}-{denomination}',
      reserve: 0,
      allocation: 'shared',
      guard: { maxZeroShare: 0.5, minEntries: 10, recheckSeconds: input.recheckSeconds ?? 1 },
    },
    storefronts: input.storefronts,
    log: { level: 'info', format: 'json' },
    ...input.extra,
  };
}

/** Writes `<dir>/sync.config.yaml` and returns its path. */
export function writeSyncConfig(dir: string, input: SyncConfigInput | Record<string, unknown>): string {
  const doc = 'supplierUrl' in input ? syncConfigDocument(input as SyncConfigInput) : input;
  mkdirSync(dir, { recursive: true });
  const file = path.join(dir, 'sync.config.yaml');
  writeFileSync(file, stringify(doc));
  return file;
}

/** The database the config above points at. */
export function databaseFile(configDir: string): string {
  return path.join(configDir, 'data', 'sync.db');
}

import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import type { LoadedConfig } from '../../config/load.js';
import {
  type Config,
  type RawConfig,
  type SandboxConfig,
  type StorefrontConfig,
  sandboxSchema,
} from '../../config/schema.js';
import { formatSku } from '../../config/sku-template.js';
import { SandboxSupplier } from '../../fakes/psnb2b/supplier-server.js';
import { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import type { Logger } from '../log.js';
import { usdToCents } from '../money.js';
import { ownerOnlyDir, ownerOnlyFile, writeOwnerOnlyFile } from '../owner-only.js';
import { registerSecret } from '../redact.js';
import { SANDBOX_STORE } from './sandbox-store.js';

/**
 * The embedded sandbox: a `sandbox:` block in the config starts the sandbox supplier and a
 * sandbox WooCommerce shop in-process on loopback, and replaces `supplier` and `storefronts`
 * with them, so a fresh clone does the whole job with no accounts. Its keys are generated once
 * under `dataDir` and reused.
 */

interface SandboxSecrets {
  supplierApiKey: string;
  supplierWebhookSecret: string;
  wooConsumerKey: string;
  wooConsumerSecret: string;
  wooWebhookSecret: string;
  codesKey: string;
}

const token = (prefix: string) => `${prefix}${randomBytes(20).toString('hex')}`;

function loadOrCreateSecrets(dataDir: string, log: Logger): SandboxSecrets {
  const file = path.join(dataDir, 'sandbox-secrets.json');
  ownerOnlyDir(dataDir, log);
  ownerOnlyFile(file, log);
  if (existsSync(file)) return JSON.parse(readFileSync(file, 'utf8')) as SandboxSecrets;
  const secrets: SandboxSecrets = {
    supplierApiKey: token('psn_sandbox_'),
    supplierWebhookSecret: token('whsec_'),
    wooConsumerKey: token('ck_'),
    wooConsumerSecret: token('cs_'),
    wooWebhookSecret: token('wcwh_'),
    codesKey: randomBytes(32).toString('base64'),
  };
  writeOwnerOnlyFile(file, `${JSON.stringify(secrets, null, 2)}\n`);
  return secrets;
}

export interface SandboxHandle {
  supplier: SandboxSupplier;
  shop: FakeWooCommerce;
  stop(): Promise<void>;
}

/** Entries the sandbox shop deliberately lacks, so `status` shows how a missing product looks. */
const NOT_IN_SHOP = 2;

async function startServers(raw: RawConfig, sb: SandboxConfig, baseDir: string, log: Logger) {
  const secrets = loadOrCreateSecrets(path.resolve(baseDir, sb.dataDir), log);
  for (const s of Object.values(secrets)) registerSecret(s);
  const supplier = new SandboxSupplier({
    apiKey: secrets.supplierApiKey,
    port: sb.supplierPort,
    entries: sb.entries,
    startingBalanceCents: usdToCents(sb.startingBalanceUsd, 'sandbox.startingBalanceUsd'),
    webhookSecret: secrets.supplierWebhookSecret,
  });
  const supplierUrl = await supplier.start();
  const shop = new FakeWooCommerce({
    consumerKey: secrets.wooConsumerKey,
    consumerSecret: secrets.wooConsumerSecret,
    port: sb.shopPort,
  });
  let shopUrl: string;
  try {
    shopUrl = await shop.start();
  } catch (e) {
    await supplier.stop();
    throw e;
  }
  const skus = supplier.catalog().map((e) => formatSku(raw.catalog.skuTemplate, e));
  shop.seedCatalog(skus.slice(0, Math.max(1, skus.length - NOT_IN_SHOP)), { stock: 0 });
  const drift = setInterval(() => supplier.drift(), sb.driftSeconds * 1000);
  const shoppers =
    sb.shopperSeconds > 0 ? setInterval(() => simulateShopper(shop), sb.shopperSeconds * 1000) : undefined;
  const stop = async () => {
    clearInterval(drift);
    clearInterval(shoppers);
    await Promise.allSettled([supplier.stop(), shop.stop()]);
  };
  return { secrets, supplier, supplierUrl, shop, shopUrl, stop };
}

/** A buyer who pays by card for one or two cards the shop shows in stock. */
function simulateShopper(shop: FakeWooCommerce): void {
  const inStock = shop.catalog
    .all()
    .filter((p) => p.type !== 'variable' && p.sku && (p.stock_quantity ?? 0) > 0)
    .map((p) => p.sku);
  if (inStock.length === 0) return;
  const pick = () => inStock[Math.floor(Math.random() * inStock.length)] as string;
  const first = pick();
  const second = pick();
  const lines = [{ sku: first, quantity: 1 + Math.floor(Math.random() * 2) }];
  if (second !== first && Math.random() < 0.3) lines.push({ sku: second, quantity: 1 });
  shop.placeOrder({ lines, paymentMethod: 'stripe', paid: true });
}

export async function startSandbox(
  raw: RawConfig,
  sb: SandboxConfig,
  baseDir: string,
  log: Logger,
): Promise<{ config: Omit<Config, 'configPath' | 'baseDir'>; handle: SandboxHandle }> {
  const s = await startServers(raw, sb, baseDir, log);
  log.info(`sandbox supplier on ${s.supplierUrl}, sandbox WooCommerce shop on ${s.shopUrl}`, {
    component: 'sandbox',
  });
  const store: StorefrontConfig = {
    name: SANDBOX_STORE.name,
    type: 'woocommerce',
    url: s.shopUrl,
    consumerKey: s.secrets.wooConsumerKey,
    consumerSecret: s.secrets.wooConsumerSecret,
    webhookSecret: s.secrets.wooWebhookSecret,
    weight: 1,
    unpaidMethods: ['cod'],
    timeoutMs: 10_000,
    concurrency: 4,
  };
  if (raw.server.port !== 0) {
    s.supplier.setWebhook(
      `http://127.0.0.1:${raw.server.port}/webhooks/psnb2b`,
      s.secrets.supplierWebhookSecret,
    );
  }
  return {
    config: {
      ...raw,
      supplier: {
        baseUrl: s.supplierUrl,
        apiKey: s.secrets.supplierApiKey,
        requestsPerMinute: 60,
        ordersPerMinute: 10,
        // The sandbox honours Idempotency-Key, so an unknown outcome is safely retried.
        honoursIdempotencyKeys: true,
        webhookSecret: s.secrets.supplierWebhookSecret,
        timeoutMs: 10_000,
        maxAttempts: 5,
      },
      storefronts: [store],
      codesKey: raw.codesKey ?? s.secrets.codesKey,
    },
    handle: { supplier: s.supplier, shop: s.shop, stop: s.stop },
  };
}

/** `psnb2b-sync sandbox`: the sandbox servers alone, for pointing another tool (or a second daemon) at. */
export async function runStandaloneSandbox(loaded: LoadedConfig, log: Logger): Promise<void> {
  const sb = loaded.raw.sandbox ?? sandboxSchema.parse({});
  const s = await startServers(loaded.raw, sb, loaded.baseDir, log);
  process.stdout.write(
    [
      `sandbox supplier: ${s.supplierUrl}`,
      `  apiKey:         ${s.secrets.supplierApiKey}`,
      `sandbox shop:     ${s.shopUrl}  (WooCommerce REST v3)`,
      `  consumerKey:    ${s.secrets.wooConsumerKey}`,
      `  consumerSecret: ${s.secrets.wooConsumerSecret}`,
      `keys are kept in ${path.resolve(loaded.baseDir, sb.dataDir, 'sandbox-secrets.json')}; Ctrl-C stops`,
      '',
    ].join('\n'),
  );
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  log.info('sandbox stopping', { component: 'sandbox' });
  await s.stop();
}

import { z } from 'zod';
import { codesKeyProblem } from './codes-key.js';
import { cronProblem } from './cron-fields.js';
import { isLoopbackHost } from './loopback.js';
import { checkSkuTemplate } from './sku-template.js';
import { parseUsdCents } from './usd.js';

/**
 * The one schema of `sync.config.yaml`: every key, its type and its default. The README's
 * configuration reference is written from this file; `config check` prints its result.
 * Unknown keys are errors (`strictObject`), so a typo never silently falls back to a default.
 */

const nonEmpty = z.string().min(1, 'must not be empty');
const port = z.number().int().min(0).max(65535);

/** 5 fields, or 6 with seconds first, as node-cron reads them; steps and values within each field's range. */
const cronExpression = z.string().superRefine((s, ctx) => {
  const problem = cronProblem(s);
  if (problem) ctx.addIssue({ code: 'custom', message: problem });
});

/** A money amount as shops and the supplier write it: at most two decimals. */
const moneyAmount = z
  .number()
  .refine((n) => parseUsdCents(n).ok, 'must be an amount ≥ 0 with at most two decimals');

const currencyCode = z.string().regex(/^[A-Z]{3}$/, 'must be an ISO 4217 code in upper case (USD, EUR)');

const httpUrl = z
  .string()
  .url('must be a URL')
  .refine((s) => /^https?:\/\//.test(s), 'must start with http:// or https://');

/** Where the API key, shop credentials and codes go: plain http only to a loopback host (tests, a local proxy). */
const secureUrl = httpUrl.refine((s) => {
  try {
    const u = new URL(s);
    return u.protocol !== 'http:' || isLoopbackHost(u.hostname);
  } catch {
    return true; // reported above
  }
}, 'must be https:// (http:// only to a loopback host: 127.0.0.1, localhost, [::1])');

export const supplierSchema = z.strictObject({
  baseUrl: secureUrl.default('https://psnb2b.com/api/v1'),
  apiKey: nonEmpty,
  requestsPerMinute: z.number().int().min(1).max(10_000).default(60),
  ordersPerMinute: z.number().int().min(1).max(10_000).default(10),
  honoursIdempotencyKeys: z.boolean().default(false),
  webhookSecret: nonEmpty.optional(),
  /** Per-request timeout; a POST that times out has an unknown outcome. */
  timeoutMs: z.number().int().min(100).max(300_000).default(20_000),
  /** Attempts for a GET before the cycle gives up (429/5xx/network/bad body are retried). */
  maxAttempts: z.number().int().min(1).max(20).default(5),
});

export const wooStoreSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'must be letters, digits, - or _'),
  type: z.literal('woocommerce'),
  /** The store's home URL exactly as WooCommerce signs OAuth (scheme, host, port). */
  url: secureUrl,
  consumerKey: nonEmpty,
  consumerSecret: nonEmpty,
  webhookSecret: nonEmpty.optional(),
  /** Share of the published target for `allocation: split`. */
  weight: z.number().min(0).max(1).default(1),
  /** Payment methods whose orders are never treated as paid (cash is collected after delivery). */
  unpaidMethods: z.array(z.string()).default(['cod']),
  timeoutMs: z.number().int().min(100).max(300_000).default(30_000),
  /**
   * Orders delivered side by side in this store, and requests in flight to it (one queue per
   * store, shared by every job). A real WooCommerce serves a few requests at once (PHP workers).
   */
  concurrency: z.number().int().min(1).max(16).default(4),
  /** The currency the store sells in (for catalog.pricing); default catalog.pricing.currency. */
  currency: currencyCode.optional(),
});

export const shopifyStoreSchema = z.strictObject({
  name: z.string().regex(/^[a-z0-9][a-z0-9_-]*$/i, 'must be letters, digits, - or _'),
  type: z.literal('shopify'),
  /** Admin API host: `example.myshopify.com` or any `host[:port]`. */
  shop: z.string().regex(/^[A-Za-z0-9.-]+(:\d+)?$/, 'must be a host or host:port, without scheme'),
  accessToken: nonEmpty,
  apiSecretKey: nonEmpty,
  locationId: z.string().optional(),
  weight: z.number().min(0).max(1).default(1),
  timeoutMs: z.number().int().min(100).max(300_000).default(30_000),
  /** Orders delivered side by side in this store (its query-cost bucket paces the requests). */
  concurrency: z.number().int().min(1).max(16).default(4),
  /** The currency the store sells in (for catalog.pricing); default catalog.pricing.currency. */
  currency: currencyCode.optional(),
});

export const storefrontSchema = z.discriminatedUnion('type', [wooStoreSchema, shopifyStoreSchema]);

export const guardSchema = z.strictObject({
  maxZeroShare: z.number().min(0).max(1).default(0.5),
  minEntries: z.number().int().min(1).default(10),
  /** Wait before the confirming second pull. */
  recheckSeconds: z.number().min(0).max(600).default(10),
});

const regionCode = z.string().regex(/^[A-Z]{2}$/, 'must be an ISO 3166-1 alpha-2 code in upper case');

/** Prices (design-notes "Prices"): shop prices that follow the supplier's cost; off by default. */
export const pricingSchema = z.strictObject({
  enabled: z.boolean().default(false),
  markupPercent: z.number().min(0).max(1000).default(15),
  /** USD added after the percentage. */
  markupFixed: moneyAmount.default(0),
  /** Prices are rounded up to end in these cents (`"0.99"`), or to the cent (`"none"`). */
  rounding: z
    .string()
    .regex(/^(0\.\d\d|none)$/, 'must be "none" or cents such as "0.99"')
    .default('0.99'),
  /** The shops' currency unless a store names its own (`storefronts[].currency`). */
  currency: currencyCode.default('USD'),
  /** Shop currency units per USD (`EUR: 0.92`); USD needs none. Also values what buyers paid (margin check). */
  fxRates: z.record(currencyCode, z.number().positive('must be a positive rate')).default({}),
  /** `"<shop SKU>": price` in the shop's currency: wins over the rule. */
  overrides: z.record(z.string().min(1), moneyAmount).default({}),
});

export const catalogSchema = z.strictObject({
  skuTemplate: z
    .string()
    .superRefine((s, ctx) => {
      const template = checkSkuTemplate(s);
      if (!template.ok) ctx.addIssue({ code: 'custom', message: template.reason });
    })
    .default('PSN-{region}-{denomination}'),
  skuOverrides: z
    .record(z.string().min(1), z.strictObject({ region: regionCode, denomination: z.number().positive() }))
    .default({}),
  reserve: z.number().int().min(0).default(0),
  allocation: z.enum(['shared', 'split']).default('shared'),
  guard: guardSchema.default(guardSchema.parse({})),
  pricing: pricingSchema.default(pricingSchema.parse({})),
});

export const scheduleSchema = z.strictObject({
  // 6 of the supplier's 60 requests a minute: a supplier change reaches every shop within about 15 s.
  inventory: cronExpression.default('*/10 * * * * *'),
  orders: cronExpression.default('*/30 * * * * *'),
});

export const serverSchema = z.strictObject({
  host: z.string().default('127.0.0.1'),
  port: port.default(8787),
  adminToken: nonEmpty.optional(),
  publicUrl: httpUrl.nullable().default(null),
});

/** Spending limits (fraud and mistakes): an order over any is held for review. `null` turns one off. */
export const limitsSchema = z.strictObject({
  maxOrderUsd: z.number().positive().nullable().default(2000),
  maxUnitsPerLine: z.number().int().min(1).nullable().default(50),
  /** All purchases of a rolling 24 hours. */
  maxDailyUsd: z.number().positive().nullable().default(null),
  /** Purchases of a rolling 24 hours for one buyer email. */
  maxCustomerDailyUsd: z.number().positive().nullable().default(null),
});

export const fulfillmentSchema = z.strictObject({
  batchWindowSeconds: z.number().min(0).max(3600).default(5),
  minBalanceUsd: z.number().min(0).default(0),
  maxWaitMinutes: z.number().min(1).default(120),
  limits: limitsSchema.default(limitsSchema.parse({})),
  /** A sale whose paid price (in USD) leaves less than this margin over the supplier's price is never silent. */
  minMarginPercent: z.number().min(0).max(99).default(0),
  /** `alert`: delivered, alert `low-margin`; `hold`: held as `review` before buying. */
  onLowMargin: z.enum(['alert', 'hold']).default('alert'),
});

/** How long the reaper keeps what only records the past (src/db/reaper.ts). */
export const retentionSchema = z.strictObject({
  /** Webhook event ids, sync runs, resolved alerts and dead intents older than this are deleted. */
  days: z.number().int().min(1).default(30),
  /** A delivered code's ciphertext is erased this long after its claim window closed (hash and mask stay). */
  codesDays: z.number().int().min(1).default(90),
});

export const sandboxSchema = z.strictObject({
  /** Where generated keys live; relative to the config file. */
  dataDir: z.string().default('./data'),
  /** 0 = a free port. */
  supplierPort: port.default(0),
  shopPort: port.default(0),
  /** Catalogue size the sandbox supplier starts with. */
  entries: z.number().int().min(1).max(100_000).default(24),
  /** How often the sandbox catalogue drifts, in seconds (so there is always something to sync). */
  driftSeconds: z.number().min(1).default(20),
  startingBalanceUsd: z.number().min(0).default(5000),
  /** A simulated shopper places a paid order this often, in seconds (0 = none). */
  shopperSeconds: z.number().min(0).default(12),
});

export const alertsSchema = z.strictObject({
  /** Slack-compatible incoming webhook: `{"text": …}` once when an alert is raised, once when it clears. */
  webhookUrl: secureUrl.nullable().default(null),
});

export const logSchema = z.strictObject({
  level: z.enum(['error', 'warn', 'info', 'debug']).default('info'),
  /** `auto`: readable lines on a TTY, JSON lines otherwise. */
  format: z.enum(['auto', 'json', 'pretty']).default('auto'),
});

/** Relative to the config file. */
export const DEFAULT_DATABASE = './data/sync.db';

export const configSchema = z
  .strictObject({
    supplier: supplierSchema.optional(),
    database: z.string().default(DEFAULT_DATABASE),
    codesKey: nonEmpty
      .superRefine((s, ctx) => {
        const problem = codesKeyProblem(s);
        if (problem) ctx.addIssue({ code: 'custom', message: problem });
      })
      .optional(),
    schedule: scheduleSchema.default(scheduleSchema.parse({})),
    server: serverSchema.default(serverSchema.parse({})),
    catalog: catalogSchema.default(catalogSchema.parse({})),
    fulfillment: fulfillmentSchema.default(fulfillmentSchema.parse({})),
    storefronts: z.array(storefrontSchema).default([]),
    retention: retentionSchema.default(retentionSchema.parse({})),
    sandbox: sandboxSchema.nullable().optional(),
    alerts: alertsSchema.default(alertsSchema.parse({})),
    log: logSchema.default(logSchema.parse({})),
  })
  .superRefine(
    (c, ctx) => {
      // Runs even when keys failed above (`when`), so every problem of a file is reported at once.
      if (!c || typeof c !== 'object') return;
      if (!c.sandbox && !c.supplier) {
        ctx.addIssue({ code: 'custom', path: ['supplier'], message: 'is required (or a sandbox: block)' });
      }
      if (!c.sandbox && Array.isArray(c.storefronts) && c.storefronts.length === 0) {
        ctx.addIssue({
          code: 'custom',
          path: ['storefronts'],
          message: 'needs at least one store (or a sandbox: block)',
        });
      }
      if (!c.sandbox && c.server?.publicUrl && c.supplier && !c.supplier.webhookSecret) {
        ctx.addIssue({
          code: 'custom',
          path: ['supplier', 'webhookSecret'],
          message:
            'is required when server.publicUrl is set (else unsigned supplier webhooks would be accepted)',
        });
      }
      // Prices follow the supplier's USD: a store selling in another currency needs its rate.
      const pricing = c.catalog?.pricing;
      if (pricing?.enabled) {
        (Array.isArray(c.storefronts) ? c.storefronts : []).forEach((s) => {
          const currency = s?.currency ?? pricing.currency;
          if (currency && currency !== 'USD' && pricing.fxRates?.[currency] === undefined) {
            ctx.addIssue({
              code: 'custom',
              path: ['catalog', 'pricing', 'fxRates', currency],
              message: `is required: store "${s?.name}" sells in ${currency} (shop currency units per USD)`,
            });
          }
        });
      }
      const seen = new Set<string>();
      (Array.isArray(c.storefronts) ? c.storefronts : []).forEach((s, i) => {
        if (s && seen.has(s.name)) {
          ctx.addIssue({
            code: 'custom',
            path: ['storefronts', i, 'name'],
            message: `"${s.name}" is used twice`,
          });
        }
        if (s) seen.add(s.name);
      });
    },
    { when: () => true },
  );

/**
 * What read-only commands (`status`) need of the config: where the database is and which stores
 * there are. Other keys are ignored, so no secret has to be in the environment to read status.
 */
export const statusViewSchema = z.object({
  database: z.string().default(DEFAULT_DATABASE),
  sandbox: sandboxSchema.nullable().optional(),
  storefronts: z.array(z.object({ name: z.string(), type: z.enum(['woocommerce', 'shopify']) })).default([]),
  log: logSchema.default(logSchema.parse({})),
});

export type StatusView = z.infer<typeof statusViewSchema>;

export type RawConfig = z.infer<typeof configSchema>;
export type SupplierConfig = z.infer<typeof supplierSchema>;
export type StorefrontConfig = z.infer<typeof storefrontSchema>;
export type WooStoreConfig = z.infer<typeof wooStoreSchema>;
export type ShopifyStoreConfig = z.infer<typeof shopifyStoreSchema>;
export type CatalogConfig = z.infer<typeof catalogSchema>;
export type LimitsConfig = z.infer<typeof limitsSchema>;
export type PricingConfig = z.infer<typeof pricingSchema>;
export type SandboxConfig = z.infer<typeof sandboxSchema>;

/** The config the daemon runs with: the sandbox (if any) already resolved into supplier/storefronts. */
export type Config = Omit<RawConfig, 'supplier'> & {
  supplier: SupplierConfig;
  /** Absolute path of the config file; relative paths in it resolve from its folder. */
  configPath: string;
  baseDir: string;
};

/** Keys whose values are secrets: masked by `config check`, registered with the log scrubber. */
export const SECRET_KEYS = new Set([
  'apiKey',
  'webhookSecret',
  'codesKey',
  'adminToken',
  'consumerKey',
  'consumerSecret',
  'accessToken',
  'apiSecretKey',
  // A Slack incoming-webhook URL is its own credential.
  'webhookUrl',
]);

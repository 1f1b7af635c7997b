import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline/promises';
import { UsageError } from './errors.js';

/**
 * `psnb2b-sync init`: a live config from answers (or flags, with no TTY): the supplier and each
 * shop, every secret as a `${VAR}` reference whose value goes to an env file readable by its
 * owner only, a fresh `codesKey`, and a database of its own (never the sandbox's).
 */

export interface InitAnswers {
  out: string;
  envFile?: string;
  database: string;
  supplierUrl: string;
  supplierKey?: string;
  wooName: string;
  wooUrl?: string;
  wooKey?: string;
  wooSecret?: string;
  shopifyName: string;
  shopifyShop?: string;
  shopifyToken?: string;
  shopifySecret?: string;
}

type Key = keyof InitAnswers;

const QUESTIONS: { key: Key; flag: string; ask: string; when?: (a: InitAnswers) => boolean }[] = [
  { key: 'supplierKey', flag: '--supplier-key', ask: 'PSN:B2B API key' },
  { key: 'wooUrl', flag: '--woo-url', ask: 'WooCommerce home URL (empty: no WooCommerce shop)' },
  {
    key: 'wooKey',
    flag: '--woo-key',
    ask: 'WooCommerce REST consumer key (Read/Write)',
    when: (a) => !!a.wooUrl,
  },
  {
    key: 'wooSecret',
    flag: '--woo-secret',
    ask: 'WooCommerce REST consumer secret',
    when: (a) => !!a.wooUrl,
  },
  {
    key: 'shopifyShop',
    flag: '--shopify-shop',
    ask: 'Shopify shop host, e.g. example.myshopify.com (empty: none)',
  },
  {
    key: 'shopifyToken',
    flag: '--shopify-token',
    ask: 'Shopify Admin API access token',
    when: (a) => !!a.shopifyShop,
  },
  {
    key: 'shopifySecret',
    flag: '--shopify-secret',
    ask: 'Shopify app API secret key',
    when: (a) => !!a.shopifyShop,
  },
];

/** Fills what the flags left out by asking on a TTY; without one, names the flags still needed. */
export async function completeAnswers(given: InitAnswers, interactive: boolean): Promise<InitAnswers> {
  const a = { ...given };
  const rl = interactive ? createInterface({ input: process.stdin, output: process.stderr }) : null;
  try {
    for (const q of QUESTIONS) {
      if (a[q.key] !== undefined || (q.when && !q.when(a))) continue;
      if (rl) {
        const answer = (await rl.question(`${q.ask}: `)).trim();
        if (answer) (a as Record<Key, string>)[q.key] = answer;
      }
    }
  } finally {
    rl?.close();
  }
  const needed = QUESTIONS.filter(
    (q) => q.key !== 'wooUrl' && q.key !== 'shopifyShop' && (!q.when || q.when(a)) && a[q.key] === undefined,
  ).map((q) => q.flag);
  if (!a.wooUrl && !a.shopifyShop) {
    needed.push(
      'a shop (--woo-url, --woo-key, --woo-secret or --shopify-shop, --shopify-token, --shopify-secret)',
    );
  }
  if (needed.length > 0)
    throw new UsageError(`init: give ${needed.join(', ')} ${interactive ? '' : ' (no terminal to ask on)'}`);
  return a;
}

const quote = (v: string) => JSON.stringify(v);

/** The config text and the env file's variables; pure, so it can be checked on its own. */
export function renderInit(
  a: InitAnswers,
  envFileName: string,
): { config: string; env: Record<string, string> } {
  const env: Record<string, string> = {
    PSN_B2B_API_KEY: a.supplierKey as string,
    PSNSYNC_CODES_KEY: randomBytes(32).toString('base64'),
  };
  const stores: string[] = [];
  if (a.wooUrl) {
    env.WC_KEY = a.wooKey as string;
    env.WC_SECRET = a.wooSecret as string;
    stores.push(
      `  - name: ${quote(a.wooName)}\n    type: woocommerce\n    url: ${quote(a.wooUrl)}\n    consumerKey: \${WC_KEY}\n    consumerSecret: \${WC_SECRET}`,
    );
  }
  if (a.shopifyShop) {
    env.SHOPIFY_TOKEN = a.shopifyToken as string;
    env.SHOPIFY_SECRET = a.shopifySecret as string;
    stores.push(
      `  - name: ${quote(a.shopifyName)}\n    type: shopify\n    shop: ${quote(a.shopifyShop)}\n    accessToken: \${SHOPIFY_TOKEN}\n    apiSecretKey: \${SHOPIFY_SECRET}`,
    );
  }
  const config = `# Written by \`psnb2b-sync init\`. Secrets are in ${envFileName} (owner-only); run with
#   psnb2b-sync run --config ${path.basename(a.out)} --env-file ${envFileName}
# Back up PSNSYNC_CODES_KEY: stored codes cannot be read without it.
supplier:
  baseUrl: ${quote(a.supplierUrl)}
  apiKey: \${PSN_B2B_API_KEY}
  honoursIdempotencyKeys: false   # true only once PSN:B2B confirms it honours Idempotency-Key
database: ${quote(a.database)}
codesKey: \${PSNSYNC_CODES_KEY}
storefronts:
${stores.join('\n')}
`;
  return { config, env };
}

/** Where init writes; it refuses before asking anything if either file exists (never overwritten). */
export function initFiles(a: Pick<InitAnswers, 'out' | 'envFile'>): { configFile: string; envFile: string } {
  const configFile = path.resolve(a.out);
  const envFile = path.resolve(a.envFile ?? configFile.replace(/(\.ya?ml)?$/, '.env'));
  for (const f of [configFile, envFile]) {
    if (existsSync(f))
      throw new UsageError(`init: ${f} exists; it is never overwritten (choose another --out)`);
  }
  return { configFile, envFile };
}

/** Writes both files; never overwrites either. Returns their paths. */
export function writeInit(a: InitAnswers): { configFile: string; envFile: string } {
  const { configFile, envFile } = initFiles(a);
  const { config, env } = renderInit(a, path.relative(path.dirname(configFile), envFile));
  mkdirSync(path.dirname(configFile), { recursive: true });
  const envText = Object.entries(env)
    .map(([k, v]) => `${k}=${/^[\w+/=.:@-]+$/.test(v) ? v : quote(v)}`)
    .join('\n');
  writeFileSync(envFile, `${envText}\n`, { mode: 0o600, flag: 'wx' });
  writeFileSync(configFile, config, { flag: 'wx' });
  return { configFile, envFile };
}

import { describe, expect, it } from 'vitest';
import { parseConfig } from '../../src/config-file.js';
import { ConfigError } from '../../src/errors.js';

/**
 * `config check` as a new user meets it: every problem of the file at once, each naming its key
 * and saying what to do, instead of one per run.
 */

const goodStore = `  - { name: shop-a, type: woocommerce, url: "http://127.0.0.1:9", consumerKey: \${WC_KEY}, consumerSecret: \${WC_SECRET} }`;
const env = {
  KEY: 'psn_live_0123456789abcdef',
  WC_KEY: 'ck_0123456789abcdef',
  WC_SECRET: 'cs_0123456789abcdef',
};

function messageOf(text: string, e: NodeJS.ProcessEnv = env): string {
  try {
    parseConfig(text, '/x/live.yaml', e);
  } catch (err) {
    if (err instanceof ConfigError) return err.message;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config problems, all at once', () => {
  it('lists all five problems of one file: a missing key, two unset variables, a bad codesKey, a cron out of range', () => {
    const text = `
supplier:
  baseUrl: https://psnb2b.com/api/v1
codesKey: x
schedule:
  inventory: "*/70 * * * *"
storefronts:
${goodStore}
`;
    const msg = messageOf(text, { KEY: env.KEY });
    expect(msg).toMatch(/5 problems/);
    expect(msg).toMatch(/supplier\.apiKey: is required/);
    expect(msg).toMatch(/storefronts\[0\]\.consumerKey: environment variable WC_KEY is not set/);
    expect(msg).toMatch(/storefronts\[0\]\.consumerSecret: environment variable WC_SECRET is not set/);
    expect(msg).toMatch(/codesKey: must be 32 bytes.*got 0 bytes.*openssl rand -base64 32/);
    expect(msg).toMatch(/schedule\.inventory: .*70.*minute.*0–59/);
    // An unset variable is not reported a second time as a missing key.
    expect(msg).not.toMatch(/consumerKey: is required/);
    expect(msg).not.toMatch(/expected string, received undefined/);
  });

  it('says "is required" for a required key, never the validator\'s type jargon', () => {
    const msg = messageOf(`supplier: {}\nstorefronts:\n${goodStore}\n`);
    expect(msg).toMatch(/supplier\.apiKey: is required/);
    expect(msg).not.toMatch(/expected|undefined|got nothing/);
  });

  it("rejects steps and values outside a cron field's range, which node-cron itself accepts", () => {
    for (const [expr, field] of [
      ['*/70 * * * *', 'minute'],
      ['* */25 * * *', 'hour'],
      ['*/90 * * * * *', 'second'],
      ['0 0 1-40 * *', 'day of month'],
    ] as const) {
      const msg = messageOf(
        `supplier: { apiKey: \${KEY} }\nschedule:\n  orders: "${expr}"\nstorefronts:\n${goodStore}\n`,
      );
      expect(msg, expr).toContain(`schedule.orders: `);
      expect(msg, expr).toContain(field);
    }
    expect(() =>
      parseConfig(
        `supplier: { apiKey: \${KEY} }\nschedule:\n  orders: "*/15 * * * * *"\n  inventory: "0 */2 * * 1-5"\nstorefronts:\n${goodStore}\n`,
        '/x/live.yaml',
        env,
      ),
    ).not.toThrow();
  });

  it('decodes codesKey and checks its length (base64 and hex), never echoing it', () => {
    const short = 'c2hvcnQta2V5';
    const msg = messageOf(`supplier: { apiKey: \${KEY} }\ncodesKey: ${short}\nstorefronts:\n${goodStore}\n`);
    expect(msg).toMatch(/codesKey: must be 32 bytes/);
    expect(msg).not.toContain(short);
    const hex = 'ab'.repeat(32);
    expect(() =>
      parseConfig(
        `supplier: { apiKey: \${KEY} }\ncodesKey: "${hex}"\nstorefronts:\n${goodStore}\n`,
        '/x/live.yaml',
        env,
      ),
    ).not.toThrow();
  });

  it('joins a SKU template that cannot parse back to the other problems', () => {
    const msg = messageOf(
      `supplier: { apiKey: \${KEY} }\ncatalog: { skuTemplate: "{region}{denomination}" }\ncodesKey: x\nstorefronts:\n${goodStore}\n`,
    );
    expect(msg).toMatch(/catalog\.skuTemplate: .*cannot be parsed back/);
    expect(msg).toMatch(/codesKey: must be 32 bytes/);
  });
});

describe('catalog.pricing', () => {
  const base = `
supplier: { apiKey: \${KEY} }
catalog:
  pricing: { enabled: true, currency: EUR, fxRates: { GBP: 0.8 } }
storefronts:
${goodStore}
  - { name: shop-b, type: woocommerce, url: "http://127.0.0.1:9", consumerKey: x, consumerSecret: y, currency: GBP }
  - { name: shop-c, type: woocommerce, url: "http://127.0.0.1:9", consumerKey: x, consumerSecret: y, currency: JPY }
`;

  it('a shop currency without a rate is a config error naming the key and the store', () => {
    const msg = messageOf(base);
    expect(msg).toMatch(/2 problems/);
    expect(msg).toMatch(/catalog\.pricing\.fxRates\.EUR: is required: store "shop-a" sells in EUR/);
    expect(msg).toMatch(/catalog\.pricing\.fxRates\.JPY: is required: store "shop-c" sells in JPY/);
  });

  it('rates are not asked for while pricing is off, and bad rounding or amounts name their key', () => {
    expect(() =>
      parseConfig(base.replace('enabled: true', 'enabled: false'), '/x/live.yaml', env),
    ).not.toThrow();
    const msg = messageOf(
      base.replace(
        'fxRates: { GBP: 0.8 }',
        'fxRates: { GBP: 0.8, EUR: 1, JPY: 150 }, rounding: "99", markupFixed: 0.001',
      ),
    );
    expect(msg).toMatch(/catalog\.pricing\.rounding: must be "none" or cents such as "0\.99"/);
    expect(msg).toMatch(/catalog\.pricing\.markupFixed: must be an amount/);
  });
});

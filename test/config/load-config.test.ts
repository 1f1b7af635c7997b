import { describe, expect, it } from 'vitest';
import { maskConfig } from '../../config/load.js';
import { parseConfig } from '../../src/config-file.js';
import { ConfigError } from '../../src/errors.js';

const base = `
supplier:
  apiKey: \${KEY}
storefronts:
  - { name: shop-a, type: woocommerce, url: "http://127.0.0.1:9", consumerKey: ck_abcdef123456, consumerSecret: \${WC_SECRET} }
`;
const env = { KEY: 'psn_live_0123456789abcdef', WC_SECRET: 'cs_0123456789abcdef' };

function errorOf(text: string, e: NodeJS.ProcessEnv = env): ConfigError {
  try {
    parseConfig(text, '/x/sync.config.yaml', e);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error('expected a ConfigError');
}

describe('config', () => {
  it('fills defaults and interpolates the environment', () => {
    const { raw } = parseConfig(base, '/x/sync.config.yaml', env);
    expect(raw.supplier?.apiKey).toBe(env.KEY);
    expect(raw.supplier?.baseUrl).toBe('https://psnb2b.com/api/v1');
    expect(raw.supplier?.requestsPerMinute).toBe(60);
    expect(raw.supplier?.honoursIdempotencyKeys).toBe(false);
    expect(raw.catalog.skuTemplate).toBe('PSN-{region}-{denomination}');
    expect(raw.catalog.guard).toEqual({ maxZeroShare: 0.5, minEntries: 10, recheckSeconds: 10 });
    expect(raw.server).toEqual({ host: '127.0.0.1', port: 8787, publicUrl: null });
    expect(raw.storefronts[0]).toMatchObject({ type: 'woocommerce', weight: 1, unpaidMethods: ['cod'] });
  });

  it('pulls inventory every 10 s by default, so a supplier change reaches the shops within about 15 s', () => {
    const { raw } = parseConfig(base, '/x/sync.config.yaml', env);
    expect(raw.schedule.inventory).toBe('*/10 * * * * *');
  });

  it('names an unset environment variable and the key that uses it', () => {
    const e = errorOf(base, { KEY: 'x-1234567' });
    expect(e.message).toContain('storefronts[0].consumerSecret');
    expect(e.message).toContain('WC_SECRET');
  });

  it('rejects unknown keys, naming them', () => {
    const e = errorOf(`${base}\ncatalog:\n  reserv: 2\n`);
    expect(e.message).toContain('catalog.reserv: unknown key');
  });

  it('names the key and what was expected for a wrong type', () => {
    const e = errorOf(`${base}\ncatalog:\n  reserve: lots\n`);
    expect(e.message).toMatch(/catalog\.reserve: .*number.*\(got "lots"\)/);
  });

  it('never echoes a secret value in an error', () => {
    const e = errorOf(`supplier:\n  apiKey: 12345\nstorefronts: []\n`, {});
    expect(e.message).toContain('supplier.apiKey');
    expect(e.message).not.toContain('12345');
  });

  it('rejects a SKU template that cannot parse back', () => {
    const e = errorOf(`${base}\ncatalog:\n  skuTemplate: "{region}{denomination}"\n`);
    expect(e.path).toBe('catalog.skuTemplate');
    expect(e.message).toMatch(/cannot be parsed back/);
  });

  it('reads a whole-value reference as a number', () => {
    const { raw } = parseConfig(`${base}\nserver:\n  port: \${PORT}\n`, '/x/c.yaml', {
      ...env,
      PORT: '9999',
    });
    expect(raw.server.port).toBe(9999);
  });

  it('lets an optional key be left unset with $' + '{VAR:-}', () => {
    const { raw } = parseConfig(
      base.replace(`apiKey: $\{KEY}`, `apiKey: $\{KEY}\n  webhookSecret: $\{HOOK:-}`),
      '/x/c.yaml',
      env,
    );
    expect(raw.supplier?.webhookSecret).toBeUndefined();
  });

  it('reports invalid YAML with its line', () => {
    expect(errorOf('supplier:\n  apiKey: [unclosed\n').message).toMatch(/line \d+/);
  });

  it('requires a supplier and a store unless a sandbox block is present', () => {
    expect(errorOf('database: ./x.db\n').message).toMatch(/supplier: is required/);
    expect(() => parseConfig('sandbox: {}\n', '/x/c.yaml', {})).not.toThrow();
  });

  it('masks secrets when printing the effective config', () => {
    const { raw } = parseConfig(base, '/x/sync.config.yaml', env);
    const text = JSON.stringify(maskConfig(raw));
    expect(text).not.toContain(env.KEY);
    expect(text).not.toContain(env.WC_SECRET);
    expect(text).not.toContain('ck_abcdef123456');
  });
});

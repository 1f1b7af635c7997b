import { describe, expect, it } from 'vitest';
import { stringify } from 'yaml';
import { parseConfig } from '../../src/config-file.js';
import { ConfigError } from '../../src/errors.js';

/**
 * The API key and the codes never travel in clear: outside loopback the supplier and the shops
 * are reached over https only, and a public webhook URL needs the supplier's webhook secret.
 */

const woo = (url: string) => ({
  name: 'shop-a',
  type: 'woocommerce',
  url,
  consumerKey: 'ck_0123456789abcdef',
  consumerSecret: 'cs_0123456789abcdef',
});

function configWith(over: {
  baseUrl?: string;
  store?: Record<string, unknown>;
  server?: object;
  webhookSecret?: string;
  alerts?: object;
}) {
  return stringify({
    supplier: {
      apiKey: 'psn_live_0123456789abcdef',
      ...(over.baseUrl && { baseUrl: over.baseUrl }),
      ...(over.webhookSecret && { webhookSecret: over.webhookSecret }),
    },
    storefronts: [over.store ?? woo('https://shop.example.com')],
    ...(over.server && { server: over.server }),
    ...(over.alerts && { alerts: over.alerts }),
  });
}

function problem(text: string): string | null {
  try {
    parseConfig(text, '/x/sync.config.yaml', {});
    return null;
  } catch (e) {
    if (e instanceof ConfigError) return e.message;
    throw e;
  }
}

describe('https outside loopback', () => {
  it('refuses http:// to a non-loopback supplier or WooCommerce shop, naming the key', () => {
    expect(problem(configWith({ baseUrl: 'http://psnb2b.com/api/v1' }))).toMatch(
      /supplier\.baseUrl: must be https/,
    );
    expect(problem(configWith({ store: woo('http://shop.example.com') }))).toMatch(
      /storefronts\[0\]\.url: must be https/,
    );
    // A host that only starts like loopback is not loopback.
    expect(problem(configWith({ baseUrl: 'http://127.0.0.1.evil.example/api' }))).toMatch(
      /supplier\.baseUrl/,
    );
  });

  it('refuses an http:// alert webhook outside loopback: a Slack webhook URL is itself a secret', () => {
    expect(problem(configWith({ alerts: { webhookUrl: 'http://hooks.example.com/T0/B0/x' } }))).toMatch(
      /alerts\.webhookUrl: must be https/,
    );
    expect(problem(configWith({ alerts: { webhookUrl: 'https://hooks.example.com/T0/B0/x' } }))).toBeNull();
    expect(problem(configWith({ alerts: { webhookUrl: 'http://127.0.0.1:9/hook' } }))).toBeNull();
  });

  it('takes https anywhere and http on loopback (tests, a local proxy)', () => {
    for (const url of [
      'http://127.0.0.1:9',
      'http://localhost:8080/shop',
      'http://[::1]:9',
      'https://shop.example.com',
    ]) {
      expect(problem(configWith({ baseUrl: url, store: woo(url) })), url).toBeNull();
    }
  });

  it('a Shopify shop is a host (the adapter always speaks https to it); a scheme is refused', () => {
    const shopify = (shop: string) => ({
      name: 'shop-b',
      type: 'shopify',
      shop,
      accessToken: 'shpat_0123456789abcdef',
      apiSecretKey: 'shpss_0123456789abcdef',
    });
    expect(problem(configWith({ store: shopify('example.myshopify.com') }))).toBeNull();
    expect(problem(configWith({ store: shopify('127.0.0.1:8443') }))).toBeNull();
    expect(problem(configWith({ store: shopify('http://example.myshopify.com') }))).toMatch(
      /storefronts\[0\]\.shop/,
    );
  });
});

describe('server.publicUrl', () => {
  it('needs supplier.webhookSecret (unsigned supplier webhooks would be accepted)', () => {
    const server = { publicUrl: 'https://sync.example.com' };
    expect(problem(configWith({ server }))).toMatch(
      /supplier\.webhookSecret: is required when server\.publicUrl is set/,
    );
    expect(problem(configWith({ server, webhookSecret: 'whsec_0123456789abcdef' }))).toBeNull();
    expect(problem(configWith({}))).toBeNull();
  });
});

import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { FakeShopify } from '../../../fakes/shopify/fake-shopify.js';
import { type LoopbackCert, makeLoopbackCert } from '../../helpers/self-signed-cert.js';
import { tempDir } from '../../helpers/temp-dir.js';
import { TEST_SECRET, TEST_TOKEN } from './fake-shopify-support.js';

/**
 * The fake over https, as the sandbox (or a user) reaches it in production: a self-signed
 * certificate for IP:127.0.0.1, trusted through NODE_EXTRA_CA_CERTS, which Node reads only at
 * start — hence a child process running the unmodified library.
 */

describe('FakeShopify over https', () => {
  let fake: FakeShopify;
  let tls: LoopbackCert;

  beforeAll(async () => {
    tls = makeLoopbackCert(tempDir('fake-shopify-tls').dir);
    fake = await new FakeShopify({
      accessToken: TEST_TOKEN,
      tls: { key: tls.key, cert: tls.cert },
    }).start();
  });

  afterAll(async () => {
    await fake?.stop();
  });

  it('is reached by the real @shopify/shopify-api client with NODE_EXTRA_CA_CERTS', async () => {
    const script = `
      import '@shopify/shopify-api/adapters/node';
      import { ApiVersion, LogSeverity, Session, shopifyApi } from '@shopify/shopify-api';
      const api = shopifyApi({ apiSecretKey: ${JSON.stringify(TEST_SECRET)}, apiVersion: ApiVersion.October26,
        isCustomStoreApp: true, adminApiAccessToken: ${JSON.stringify(TEST_TOKEN)}, isEmbeddedApp: false,
        hostName: 'localhost', logger: { level: LogSeverity.Error, log: () => {} } });
      const session = new Session({ id: 'x', shop: ${JSON.stringify(fake.shop)}, state: '', isOnline: false,
        accessToken: ${JSON.stringify(TEST_TOKEN)} });
      const client = new api.clients.Graphql({ session });
      const res = await client.request('{ location { id } }');
      process.stdout.write(JSON.stringify(res.data));
    `;
    const { stdout } = await promisify(execFile)(process.execPath, ['--input-type=module', '-e', script], {
      cwd: process.cwd(),
      env: { ...process.env, NODE_EXTRA_CA_CERTS: tls.certFile },
    });
    expect(JSON.parse(stdout)).toEqual({ location: { id: fake.primaryLocationId } });
  });
});

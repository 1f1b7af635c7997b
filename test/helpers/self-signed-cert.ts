import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';

/**
 * A throwaway certificate for `IP:127.0.0.1`, so a child process running the unmodified
 * `@shopify/shopify-api` client (always https) reaches a FakeShopify on loopback, trusting it
 * through `NODE_EXTRA_CA_CERTS` (which Node reads only at start).
 */

export interface LoopbackCert {
  key: Buffer;
  cert: Buffer;
  /** Pass as `NODE_EXTRA_CA_CERTS` to the child. */
  certFile: string;
}

export function makeLoopbackCert(dir: string): LoopbackCert {
  const keyFile = path.join(dir, 'key.pem');
  const certFile = path.join(dir, 'cert.pem');
  execFileSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=127.0.0.1',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      keyFile,
      '-out',
      certFile,
    ],
    { stdio: 'ignore' },
  );
  return { key: readFileSync(keyFile), cert: readFileSync(certFile), certFile };
}

import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { SandboxSupplier } from '../../fakes/psnb2b/supplier-server.js';
import { provesNotSent } from '../../src/supplier/network-errors.js';
import { tempDir } from '../helpers/temp-dir.js';
import { API_KEY } from './client-harness.js';

/**
 * Only an error raised before any byte of the request left proves it was never sent: name
 * resolution, the TCP connect, the TLS handshake. The same code on an established socket (Linux
 * reports EHOSTUNREACH for a connection whose retransmits died on an ICMP error) is an unknown
 * outcome.
 */

/** A Node system error as `net`/`dns` raise it, wrapped the way axios wraps it. */
function sysError(code: string, syscall: string) {
  const cause = Object.assign(new Error(`${syscall} ${code}`), { code, syscall });
  return Object.assign(new Error(code), { isAxiosError: true, code, cause });
}

describe('which network errors prove a request was never sent', () => {
  it.each([
    'ECONNREFUSED',
    'EHOSTUNREACH',
    'ENETUNREACH',
    'EHOSTDOWN',
    'ENETDOWN',
    'EMFILE',
    'ENFILE',
    'EADDRNOTAVAIL',
    'ETIMEDOUT',
  ])('%s while connecting: never sent', (code) => {
    expect(provesNotSent(sysError(code, 'connect'))).toBe(true);
  });

  it.each(['ENOTFOUND', 'EAI_AGAIN', 'EAI_FAIL'])('%s resolving the host: never sent', (code) => {
    expect(provesNotSent(sysError(code, 'getaddrinfo'))).toBe(true);
  });

  it('a certificate the handshake refused: never sent', () => {
    const tls = Object.assign(new Error('self-signed certificate'), { code: 'DEPTH_ZERO_SELF_SIGNED_CERT' });
    expect(provesNotSent(Object.assign(new Error('x'), { isAxiosError: true, cause: tls }))).toBe(true);
  });

  it.each([
    ['EHOSTUNREACH', 'read'],
    ['ENETUNREACH', 'write'],
    ['ETIMEDOUT', 'read'],
    ['ECONNRESET', 'read'],
    ['EPIPE', 'write'],
  ])('%s on an established socket (%s): unknown', (code, syscall) => {
    expect(provesNotSent(sysError(code, syscall))).toBe(false);
  });

  it('an axios timeout, a bare code with no phase, or no code at all: unknown', () => {
    expect(
      provesNotSent(Object.assign(new Error('timeout'), { isAxiosError: true, code: 'ECONNABORTED' })),
    ).toBe(false);
    expect(provesNotSent(Object.assign(new Error('x'), { code: 'EHOSTUNREACH' }))).toBe(false);
    expect(provesNotSent(new Error('socket hang up'))).toBe(false);
  });

  it('happy eyeballs: every address refused while connecting is never sent; one reset is not', () => {
    const agg = (errors: Error[]) =>
      Object.assign(new AggregateError(errors), { code: 'ECONNREFUSED' }) as unknown as Error;
    const refused = (a: string) => Object.assign(new Error(a), { code: 'ECONNREFUSED', syscall: 'connect' });
    expect(provesNotSent(agg([refused('::1'), refused('127.0.0.1')]))).toBe(true);
    const reset = Object.assign(new Error('r'), { code: 'ECONNRESET', syscall: 'read' });
    expect(provesNotSent(agg([refused('::1'), reset]))).toBe(false);
  });
});

const DIST = fileURLToPath(new URL('../../dist/src/', import.meta.url));

/** Run by a child `node` whose file-descriptor limit is tiny: the socket cannot even be created. */
const CHILD = `
import fs from 'node:fs';
const [dist, baseUrl, dbFile, apiKey] = process.argv.slice(2);
const { openDb, migrate } = await import(dist + 'db/open.js');
const { Pacer } = await import(dist + 'supplier/pacer.js');
const { Psnb2bClient } = await import(dist + 'supplier/psnb2b-client.js');
const db = openDb(dbFile);
migrate(db);
const pacer = new Pacer({ db, limits: { general: 60, bulk: 10 } });
const config = { baseUrl, apiKey, timeoutMs: 2000, maxAttempts: 1, honoursIdempotencyKeys: false };
const client = new Psnb2bClient({ config, pacer });
const entry = (await client.getInventory()).items[0];
client.close();
// Modules some paths load lazily are loaded now, while files can still be opened.
await client.createOrder([{ region: entry.region, denomination: entry.denomination, qty: 0 }], { idempotencyKey: 'warm' }).catch(() => {});
const fds = [];
try { for (;;) fds.push(fs.openSync('/dev/null', 'r')); } catch {}
const r = await client.createOrder([{ region: entry.region, denomination: entry.denomination, qty: 1 }], {
  idempotencyKey: 'emfile-0001', reference: 'emfile-0001',
});
for (const fd of fds) fs.closeSync(fd);
console.log(JSON.stringify({ kind: r.kind, message: r.error?.message }));
`;

describe('a real connection-level failure', () => {
  let supplier: SandboxSupplier | undefined;
  afterEach(async () => {
    await supplier?.stop();
  });

  it('EMFILE (out of file descriptors) on a POST /orders is not-sent, and nothing was bought', async () => {
    supplier = new SandboxSupplier({ apiKey: API_KEY, tickMs: 10 });
    const baseUrl = await supplier.start();
    const { dir } = tempDir('emfile');
    const script = path.join(dir, 'child.mjs');
    writeFileSync(script, CHILD);
    const args = [script, DIST, baseUrl, path.join(dir, 'sync.db'), API_KEY].map((a) => `'${a}'`).join(' ');
    const out = await new Promise<string>((resolve, reject) => {
      const child = spawn('bash', ['-c', `ulimit -n 1024 && exec '${process.execPath}' ${args}`], {
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d: Buffer) => {
        stdout += d;
      });
      child.stderr.on('data', (d: Buffer) => {
        stderr += d;
      });
      child.on('close', (code) =>
        code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}`)),
      );
    });
    const result = JSON.parse(out.trim().split('\n').at(-1) as string) as { kind: string; message: string };
    expect(result.message).toContain('EMFILE');
    expect(result.kind).toBe('not-sent');
    expect(supplier.ledger().orders).toHaveLength(0);
  });
});

import { fork } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { formatSku } from '../config/sku-template.js';
import { SandboxSupplier } from '../fakes/psnb2b/supplier-server.js';
import { FakeWooCommerce } from '../fakes/woocommerce/fake-woocommerce.js';
import { SKU_TEMPLATE } from './bench-support.js';

/**
 * Peak RSS of the daemon's process with N SKUs in each of S shops: the supplier and the shops run
 * here, the daemon in a child (`daemon-rss-child.ts`), so the child's RSS is the daemon's alone.
 * Cycles: the first push (every SKU resolved and written), then cycles with the catalogue drifting.
 */

export interface DaemonRssResult {
  skus: number;
  shops: number;
  cycles: number;
  acknowledged: number[];
  idleRssBytes: number;
  maxRssBytes: number;
}

type ChildMessage = { ready?: boolean; done?: boolean; acknowledged?: number; maxRssBytes: number };

export async function benchDaemonRss(skus: number, shops: number, cycles: number): Promise<DaemonRssResult> {
  const dir = mkdtempSync(path.join(tmpdir(), 'psnb2b-bench-rss-'));
  const apiKey = 'psn_bench_0123456789abcdef';
  const supplier = new SandboxSupplier({ apiKey, entries: skus, seed: 13 });
  const baseUrl = await supplier.start();
  const fakes = Array.from({ length: shops }, () => new FakeWooCommerce());
  const skuList = supplier.catalog().map((e) => formatSku(SKU_TEMPLATE, e));
  for (const f of fakes) {
    await f.start();
    f.seedCatalog(skuList, { stock: 0 });
  }
  const config = {
    supplier: { baseUrl, apiKey },
    database: path.join(dir, 'sync.db'),
    server: { port: 0 },
    catalog: { guard: { recheckSeconds: 0 } },
    log: { level: 'error' },
    storefronts: fakes.map((f, i) => ({
      name: `shop-${i + 1}`,
      type: 'woocommerce',
      url: f.url,
      consumerKey: f.consumerKey,
      consumerSecret: f.consumerSecret,
    })),
  };
  const child = fork(
    fileURLToPath(new URL('./daemon-rss-child.js', import.meta.url)),
    [path.join(dir, 'sync.config.yaml'), JSON.stringify(config)],
    { stdio: ['ignore', 'ignore', 'inherit', 'ipc'] },
  );
  const next = () =>
    new Promise<ChildMessage>((resolve, reject) => {
      child.once('message', (m) => resolve(m as ChildMessage));
      child.once('exit', (code) => reject(new Error(`daemon child exited ${code}`)));
    });
  try {
    const idle = await next();
    const acknowledged: number[] = [];
    for (let c = 0; c < cycles; c++) {
      if (c > 0) supplier.drift();
      const answer = next();
      child.send({ cycle: true });
      acknowledged.push((await answer).acknowledged ?? 0);
    }
    const answer = next();
    child.send({ stop: true });
    const last = await answer;
    return {
      skus,
      shops,
      cycles,
      acknowledged,
      idleRssBytes: idle.maxRssBytes,
      maxRssBytes: last.maxRssBytes,
    };
  } finally {
    child.kill();
    await Promise.allSettled([supplier.stop(), ...fakes.map((f) => f.stop())]);
    rmSync(dir, { recursive: true, force: true });
  }
}

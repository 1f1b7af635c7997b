import { randomBytes } from 'node:crypto';
import { createServer } from 'node:net';
import { formatSku } from '../../config/sku-template.js';
import type { SandboxEntry } from '../../fakes/psnb2b/sandbox-catalog.js';
import { SandboxSupplier, type SandboxSupplierOptions } from '../../fakes/psnb2b/supplier-server.js';
import { FakeWooCommerce } from '../../fakes/woocommerce/fake-woocommerce.js';
import type { FakeOrderJson } from '../../fakes/woocommerce/fake-woocommerce-orders.js';
import type { Status } from '../../src/status.js';
import { type CliResult, DaemonProcess, OutputLog, runCli } from './cli-process.js';
import { databaseFile, newSecrets, writeSyncConfig } from './e2e-config.js';
import { intentsIn, workInFlight } from './fulfillment-peek.js';
import { lockHolder } from './sqlite-peek.js';
import { tempDir } from './temp-dir.js';
import { waitUntil } from './wait-until.js';

/**
 * The money path with the daemon as a real child process (`node dist/src/cli.js run`), the
 * sandbox supplier and a strict fake WooCommerce in this process on loopback, and a temp SQLite
 * file. The daemon can be `kill -9`ed and restarted at any instant; what it was doing at the
 * moment of death is read from its database before the next one starts.
 */

export const WOO_STORE = 'shop-w';

/** A small catalogue with deep stock, so no test is short of supply by accident. */
export function deepCatalog(qty = 5_000): SandboxEntry[] {
  const rows: [string, string, number, number][] = [
    ['US', 'USD', 10, 900],
    ['US', 'USD', 25, 2_250],
    ['US', 'USD', 50, 4_500],
    ['GB', 'GBP', 10, 1_140],
    ['GB', 'GBP', 20, 2_280],
    ['DE', 'EUR', 25, 2_430],
    ['TR', 'TRY', 250, 650],
    ['TR', 'TRY', 500, 1_300],
  ];
  return rows.map(([region, currency, denomination, priceCents]) => ({
    region,
    currency,
    denomination,
    priceCents,
    qty,
    listed: true,
  }));
}

/** A port nobody listens on right now (the daemon's, fixed across restarts for webhooks). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => {
      const addr = s.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** mulberry32: a failing run can be replayed from its seed. */
export function seededRandom(seed: number): {
  next: () => number;
  int: (min: number, max: number) => number;
} {
  let state = seed >>> 0;
  const next = () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  return { next, int: (min, max) => min + Math.floor(next() * (max - min + 1)) };
}

export interface DaemonWorldOptions {
  honoursIdempotencyKeys: boolean;
  /** Sandbox supplier knobs (fast by default: paid after 40 ms, delivered 80 ms later). */
  supplier?: Partial<SandboxSupplierOptions>;
  /** The supplier client's per-request timeout (default 10 s: loopback never needs it). */
  supplierTimeoutMs?: number;
  /** The WooCommerce client's per-request timeout (default 5 s). */
  shopTimeoutMs?: number;
  /** Register the shop's webhooks (server.publicUrl) and sign the supplier's. */
  webhooks?: boolean;
  /** node-cron schedules (default: both every second). */
  schedule?: { inventory: string; orders: string };
  /** Merged over the generated config (per top-level key). */
  extraConfig?: Record<string, unknown>;
}

/** Where a kill landed: the intents that were between sending and recording the answer. */
export interface KillRecord {
  pid: number;
  /** ms the process lived. */
  livedMs: number;
  /** Whether it had taken the lock and listened before it died. */
  wasListening: boolean;
  sendingIntents: string[];
  /** What else it left mid-way: open lines, unsettled intents, deliveries between shop writes. */
  leftInFlight: { open: number; intents: number; deliveries: number };
}

export class FulfillmentDaemonWorld {
  readonly output = new OutputLog();
  readonly kills: KillRecord[] = [];
  readonly placed: FakeOrderJson[] = [];
  daemon: DaemonProcess | undefined;
  private daemonStartedAt = 0;
  private readonly allDaemons: DaemonProcess[] = [];

  private constructor(
    readonly opts: DaemonWorldOptions,
    readonly supplier: SandboxSupplier,
    readonly shop: FakeWooCommerce,
    readonly catalog: SandboxEntry[],
    readonly secrets: ReturnType<typeof newSecrets> & {
      wooWebhookSecret: string;
      supplierWebhookSecret: string;
    },
    readonly tmp: ReturnType<typeof tempDir>,
    readonly port: number,
    readonly configPath: string,
  ) {}

  static async start(opts: DaemonWorldOptions): Promise<FulfillmentDaemonWorld> {
    const secrets = {
      ...newSecrets(),
      wooWebhookSecret: `whs_woo_${randomBytes(12).toString('hex')}`,
      supplierWebhookSecret: `whs_psn_${randomBytes(12).toString('hex')}`,
    };
    const catalog = deepCatalog();
    const port = await freePort();
    const supplier = new SandboxSupplier({
      apiKey: secrets.supplierApiKey,
      catalog,
      startingBalanceCents: 100_000_000,
      paidAfterMs: 40,
      deliveredAfterMs: 80,
      tickMs: 20,
      // Generous, so the test is not rate-bound; the client's own pacer stays well below it.
      limits: { general: 20_000, bulk: 2_000 },
      ...(opts.webhooks && {
        webhookUrl: `http://127.0.0.1:${port}/webhooks/psnb2b`,
        webhookSecret: secrets.supplierWebhookSecret,
      }),
      ...opts.supplier,
    });
    const supplierUrl = await supplier.start();
    const shop = new FakeWooCommerce();
    await shop.start();
    const skus = catalog.map((e) => formatSku('PSN-{region}-{denomination}', e));
    shop.seedCatalog(skus, { stock: 0, variableParents: 1 });
    const tmp = tempDir('fulfillment-crash');
    const configPath = writeSyncConfig(tmp.dir, {
      supplier: {
        baseUrl: supplierUrl,
        apiKey: secrets.supplierApiKey,
        requestsPerMinute: 6_000,
        ordersPerMinute: 600,
        honoursIdempotencyKeys: opts.honoursIdempotencyKeys,
        timeoutMs: opts.supplierTimeoutMs ?? 10_000,
        ...(opts.webhooks && { webhookSecret: secrets.supplierWebhookSecret }),
      },
      database: './data/sync.db',
      codesKey: secrets.codesKey,
      schedule: opts.schedule ?? { inventory: '*/1 * * * * *', orders: '*/1 * * * * *' },
      server: {
        host: '127.0.0.1',
        port,
        adminToken: secrets.adminToken,
        ...(opts.webhooks && { publicUrl: `http://127.0.0.1:${port}` }),
      },
      fulfillment: { batchWindowSeconds: 1 },
      storefronts: [
        {
          name: WOO_STORE,
          type: 'woocommerce',
          url: shop.url,
          consumerKey: shop.consumerKey,
          consumerSecret: shop.consumerSecret,
          webhookSecret: secrets.wooWebhookSecret,
          timeoutMs: opts.shopTimeoutMs ?? 5_000,
        },
      ],
      log: { level: 'info', format: 'json' },
      ...opts.extraConfig,
    });
    return new FulfillmentDaemonWorld(opts, supplier, shop, catalog, secrets, tmp, port, configPath);
  }

  get dbFile(): string {
    return databaseFile(this.tmp.dir);
  }

  get skus(): string[] {
    return this.catalog.map((e) => formatSku('PSN-{region}-{denomination}', e));
  }

  get url(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  // -- the daemon --

  /** Spawns `run`; with `wait`, resolves once it listens (it took the lock and migrated). */
  async startDaemon(wait = true): Promise<DaemonProcess> {
    if (this.daemon && !this.daemon.hasExited) throw new Error('a daemon is already running');
    const d = new DaemonProcess(this.configPath, { log: this.output });
    this.daemon = d;
    this.allDaemons.push(d);
    this.daemonStartedAt = Date.now();
    if (wait) await d.ready(15_000);
    return d;
  }

  /**
   * `kill -9` now, wait until it is reaped, and note which intents it left between sending
   * and recording the answer (read from its database before anyone else writes to it).
   */
  async kill9(): Promise<KillRecord> {
    const d = this.daemon;
    if (!d) throw new Error('no daemon to kill');
    const wasListening = d.logLines().some((l) => /^listening on /.test(l.message));
    d.signal('SIGKILL');
    const exit = await d.exit();
    if (exit.signal !== 'SIGKILL') {
      throw new Error(`daemon ${d.pid} was expected to die of SIGKILL, but exited ${JSON.stringify(exit)}`);
    }
    const rec: KillRecord = {
      pid: d.pid,
      livedMs: Date.now() - this.daemonStartedAt,
      wasListening,
      sendingIntents: intentsIn(this.dbFile, 'sending').map((i) => i.id),
      leftInFlight: workInFlight(this.dbFile),
    };
    this.kills.push(rec);
    return rec;
  }

  /** Restarts right after a kill and checks the new process took the dead one's lock at once. */
  async restartAfterKill(rec: KillRecord): Promise<DaemonProcess> {
    const t0 = Date.now();
    const d = await this.startDaemon();
    const holder = lockHolder(this.dbFile);
    if (holder?.pid !== d.pid) {
      throw new Error(`restarted daemon ${d.pid} does not hold the lock (holder: ${JSON.stringify(holder)})`);
    }
    if (rec.wasListening) {
      const took = d.logLines().find((l) => /took over the run lock from pid/.test(l.message));
      if (!took?.message.includes(`pid ${rec.pid}`)) {
        throw new Error(`daemon ${d.pid} did not log taking the lock over from the killed pid ${rec.pid}`);
      }
    }
    const ms = Date.now() - t0;
    if (ms > 10_000)
      throw new Error(`restart after kill -9 took ${ms} ms: the lock was not taken over at once`);
    return d;
  }

  // -- the CLI --

  cli(...args: string[]): Promise<CliResult> {
    return runCli([...args, '--config', this.configPath], { log: this.output, timeoutMs: 30_000 });
  }

  async statusJson(): Promise<StatusJson> {
    const r = await this.cli('status', '--json');
    if (r.code !== 0) throw new Error(`status --json exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as StatusJson;
  }

  async ordersJson(): Promise<OrdersJson> {
    const r = await this.cli('orders', '--json');
    if (r.code !== 0) throw new Error(`orders --json exited ${r.code}: ${r.stderr}`);
    return JSON.parse(r.stdout) as OrdersJson;
  }

  // -- the shop --

  placeOrder(lines: { sku: string; quantity: number }[]): FakeOrderJson {
    const o = this.shop.placeOrder({ lines, paymentMethod: 'stripe', paid: true });
    this.placed.push(o);
    return o;
  }

  /** Waits until the shop has answered `n` more order listings: that many polling passes ran. */
  async passes(n: number, what: string, timeoutMs = 20_000): Promise<void> {
    const start = this.shop.count({ method: 'GET', route: 'orders' });
    await waitUntil(() => this.shop.count({ method: 'GET', route: 'orders' }) >= start + n, {
      timeoutMs,
      intervalMs: 50,
      what: `${n} more polling passes (${what})`,
    });
  }

  async stop(): Promise<void> {
    for (const d of this.allDaemons) await d.kill();
    await Promise.allSettled([this.supplier.stop(), this.shop.stop()]);
    this.tmp.remove();
  }
}

/** What `status --json` prints: the daemon's own type, so the test and the contract cannot drift. */
export type StatusJson = Status;

export interface ParkedIntentJson {
  id: string;
  idempotencyKey: string;
  state: string;
  items: { region: string; denomination: number; qty: number; entryKey: string }[];
  sentAt: number | null;
  balanceBeforeCents: number | null;
  balanceAfterCents: number | null;
  lastError: { message: string } | null;
  lines: number;
}

export interface OrdersJson {
  parked: ParkedIntentJson[];
  inFlight: { id: string; state: string }[];
  held: { orderId: string; lineId: string; holdReason: string }[];
}

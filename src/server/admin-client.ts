import type { BackupResult } from '../db/backup.js';
import { UsageError } from '../errors.js';
import type { ClaimOutcome, ClaimRequest } from '../fulfillment/claims.js';
import type { OrderDecision } from '../fulfillment/order-decisions.js';
import type { ReviewListing } from '../fulfillment/order-review.js';
import type { OrdersListing } from '../fulfillment/orders-report.js';
import type { ResolveAction } from '../fulfillment/resolve-intent.js';
import type { CycleReport } from '../inventory/sync-inventory.js';
import type { Status } from '../status.js';

/** The CLI side of the admin API. */

export class AdminClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
  ) {}

  private async request(method: string, path: string, body?: unknown): Promise<Response> {
    const res = await fetch(`${this.baseUrl}${path}`, {
      method,
      headers: {
        'content-type': 'application/json',
        ...(this.token && { authorization: `Bearer ${this.token}` }),
      },
      ...(body !== undefined && { body: JSON.stringify(body) }),
    });
    if (!res.ok) {
      const text = await res.text();
      let msg = text;
      try {
        msg = (JSON.parse(text) as { error?: string }).error ?? text;
      } catch {
        // not JSON: keep the text
      }
      if (res.status === 400) throw new UsageError(msg.slice(0, 500));
      const hint =
        res.status === 401
          ? " (the CLI uses server.adminToken, else the admin-token file beside the database: run it as the daemon's user, with its config)"
          : '';
      throw new Error(`daemon admin API ${method} ${path}: HTTP ${res.status}: ${msg.slice(0, 200)}${hint}`);
    }
    return res;
  }

  async status(): Promise<Status> {
    return (await (await this.request('GET', '/admin/status')).json()) as Status;
  }

  async orders(): Promise<OrdersListing> {
    return (await (await this.request('GET', '/admin/orders')).json()) as OrdersListing;
  }

  async resolve(intentId: string, action: ResolveAction): Promise<string> {
    return (
      (await (await this.request('POST', '/admin/orders/resolve', { intentId, action })).json()) as {
        message: string;
      }
    ).message;
  }

  async review(): Promise<ReviewListing[]> {
    return (await (await this.request('GET', '/admin/orders/review')).json()) as ReviewListing[];
  }

  /** An operator's decision about one order (`approve`, `reject`, `retry-delivery`, `abandon-delivery`). */
  async decide(decision: OrderDecision, store: string, orderId: string, by: string): Promise<string> {
    return (
      (await (await this.request('POST', `/admin/orders/${decision}`, { store, orderId, by })).json()) as {
        message: string;
      }
    ).message;
  }

  /** A one-time dashboard login URL (`psnb2b-sync dashboard`). */
  async dashboardLogin(): Promise<{ url: string; expiresAt: string }> {
    return (await (await this.request('POST', '/admin/dashboard/login', {})).json()) as {
      url: string;
      expiresAt: string;
    };
  }

  async claim(req: ClaimRequest): Promise<ClaimOutcome> {
    return (await (await this.request('POST', '/admin/claim', req)).json()) as ClaimOutcome;
  }

  async backup(file: string, force: boolean): Promise<BackupResult> {
    return (await (await this.request('POST', '/admin/backup', { file, force })).json()) as BackupResult;
  }

  async sync(opts: { dryRun?: boolean; force?: boolean }): Promise<CycleReport> {
    return (await (await this.request('POST', '/admin/sync', opts)).json()) as CycleReport;
  }

  async resync(
    store: string | undefined,
    onProgress: (store: string, settled: number, total: number) => void,
  ): Promise<CycleReport> {
    const res = await this.request('POST', '/admin/resync', store ? { store } : {});
    const decoder = new TextDecoder();
    let buffered = '';
    let report: CycleReport | undefined;
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
      buffered += decoder.decode(chunk, { stream: true });
      let nl = buffered.indexOf('\n');
      while (nl >= 0) {
        const line = JSON.parse(buffered.slice(0, nl)) as
          | { type: 'progress'; store: string; settled: number; total: number }
          | { type: 'done'; report: CycleReport }
          | { type: 'error'; error: { message: string } };
        buffered = buffered.slice(nl + 1);
        if (line.type === 'progress') onProgress(line.store, line.settled, line.total);
        else if (line.type === 'done') report = line.report;
        else throw new Error(`resync failed in the daemon: ${line.error.message}`);
        nl = buffered.indexOf('\n');
      }
    }
    if (!report) throw new Error('resync: the daemon closed the stream without a result');
    return report;
  }
}

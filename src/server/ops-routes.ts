import type { Registry } from 'prom-client';
import { type Db, immediate, setKv } from '../db/open.js';
import { toSafeError } from '../errors.js';
import type { RequestTally } from '../metrics/request-tally.js';
import { readinessReasons } from '../readiness.js';
import { readStatus } from '../status.js';
import type { Route } from './http-server.js';

/**
 * The operations endpoints: `/healthz` (the process answers), `/readyz` (it is doing its job;
 * 503 with the reasons otherwise) — both without auth, they reveal nothing but reasons — and
 * `/metrics` (Prometheus text; the admin bearer token, as Prometheus' `authorization` sends it).
 */

export interface OpsDeps {
  db: Db;
  tally: RequestTally;
  registry: Registry;
  stores: readonly { name: string; type: string }[];
  /** The inventory schedule's period. */
  periodMs: number;
  now?: () => number;
}

/** A real write (committed, then overwritten next time): a full disk or a read-only file fails it. */
function databaseError(db: Db, now: number): string | null {
  try {
    immediate(db, () => setKv(db, 'readyz_probe', String(now)));
    return null;
  } catch (e) {
    return toSafeError(e).message;
  }
}

export function opsRoutes(deps: OpsDeps): Route[] {
  const now = deps.now ?? Date.now;
  return [
    {
      method: 'GET',
      path: '/healthz',
      handle: () => ({ status: 200, json: { ok: true, pid: process.pid } }),
    },
    {
      method: 'GET',
      path: '/readyz',
      handle: () => {
        const at = now();
        const dbError = databaseError(deps.db, at);
        const status = readStatus(deps.db, deps.stores);
        const reasons = readinessReasons({
          now: at,
          databaseError: dbError,
          lastRunAt: status.inventory.lastRunAt ? Date.parse(status.inventory.lastRunAt) : null,
          periodMs: deps.periodMs,
          lastSupplier: deps.tally.lastSupplier,
          failingStores: status.storefronts
            .filter((s) => s.lastError !== null)
            .map((s) => ({ store: s.name, error: s.lastError as string })),
        });
        return { status: reasons.length === 0 ? 200 : 503, json: { ready: reasons.length === 0, reasons } };
      },
    },
    {
      method: 'GET',
      path: '/metrics',
      admin: true,
      handle: async () => ({
        status: 200,
        text: await deps.registry.metrics(),
        contentType: deps.registry.contentType,
      }),
    },
  ];
}

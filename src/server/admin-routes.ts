import path from 'node:path';
import { backupDatabase } from '../db/backup.js';
import type { Db } from '../db/open.js';
import { StoppingError, toSafeError } from '../errors.js';
import { type ClaimRequest, fileClaim } from '../fulfillment/claims.js';
import { catalogView } from '../fulfillment/fulfillment-job.js';
import { ORDER_DECISIONS, type OrderDecision } from '../fulfillment/order-decisions.js';
import { reviewListing } from '../fulfillment/order-review.js';
import { ordersListing } from '../fulfillment/orders-report.js';
import { type ResolveAction, resolveIntent } from '../fulfillment/resolve-intent.js';
import type { CycleOptions, CycleReport } from '../inventory/sync-inventory.js';
import type { Logger } from '../log.js';
import type { Fulfillment } from '../main.js';
import type { SerialJob } from '../serial-job.js';
import type { Status } from '../status.js';
import { AttemptLimiter } from './attempt-limiter.js';
import { type HttpReply, jsonBody, type Route } from './http-server.js';

/**
 * The admin API. The CLI's mutating commands come through here while a daemon holds the run
 * lock, so there is one pacer and one writer.
 */

/** Claim attempts per shop line an hour: a claim's answer could confirm a guessed code. */
const CLAIM_ATTEMPTS = 5;

export interface AdminDeps {
  db: Db;
  log: Logger;
  job: SerialJob<CycleOptions, CycleReport>;
  /** Null when fulfillment is off (no codesKey). */
  fulfillment: Fulfillment | null;
  status: () => Status;
  storeNames: readonly string[];
}

const fulfillmentOff: HttpReply = {
  status: 409,
  json: { error: 'fulfillment is off (codesKey is not set)' },
};

export function adminRoutes(deps: AdminDeps): Route[] {
  const f = deps.fulfillment;
  const claimAttempts = new AttemptLimiter(CLAIM_ATTEMPTS, 3_600_000);
  return [
    {
      method: 'GET',
      path: '/admin/orders',
      admin: true,
      handle: () => (f ? { status: 200, json: ordersListing(f.ctx.db) } : fulfillmentOff),
    },
    {
      method: 'POST',
      path: '/admin/orders/resolve',
      admin: true,
      handle: async (req): Promise<HttpReply> => {
        if (!f) return fulfillmentOff;
        const parsed = jsonBody(req);
        if (!parsed.ok) return parsed.reply;
        const { intentId, action } = parsed.body as { intentId?: unknown; action?: ResolveAction };
        if (typeof intentId !== 'string' || !action || typeof action !== 'object') {
          return { status: 400, json: { error: 'body needs intentId and action' } };
        }
        // In the job's turn, after a pass: no pass races the decision, and a stop waits for it.
        const message = await f.job.runThen({ poll: false }, () =>
          resolveIntent(f.ctx, intentId, action, catalogView(f.ctx)),
        );
        f.kick();
        return { status: 200, json: { message } };
      },
    },
    {
      method: 'GET',
      path: '/admin/orders/review',
      admin: true,
      handle: () => (f ? { status: 200, json: reviewListing(f.ctx.db) } : fulfillmentOff),
    },
    ...(Object.keys(ORDER_DECISIONS) as OrderDecision[]).map(
      (decision): Route => ({
        method: 'POST',
        path: `/admin/orders/${decision}`,
        admin: true,
        handle: async (req): Promise<HttpReply> => {
          if (!f) return fulfillmentOff;
          const parsed = jsonBody(req);
          if (!parsed.ok) return parsed.reply;
          const { store, orderId } = parsed.body;
          if (typeof store !== 'string' || typeof orderId !== 'string') {
            return { status: 400, json: { error: 'body needs store and orderId' } };
          }
          if (!deps.storeNames.includes(store)) {
            return {
              status: 400,
              json: { error: `no store named "${store}" (have: ${deps.storeNames.join(', ')})` },
            };
          }
          // In the job's turn, after a pass: no pass races the decision and a stop waits for it. The
          // decision itself waits for a delivery task still writing into the order (they run in the
          // background) and re-checks the order's state inside the transaction that acts on it.
          const decide = ORDER_DECISIONS[decision].run;
          // Who asked: the CLI names its user; any other caller (the dashboard) is the admin API.
          const by = typeof parsed.body.by === 'string' ? parsed.body.by.slice(0, 80) : 'admin API';
          const message = await f.job.runThen({ poll: false }, () => decide(f.ctx, store, orderId, by));
          f.kick();
          return { status: 200, json: { message } };
        },
      }),
    ),
    {
      method: 'POST',
      path: '/admin/claim',
      admin: true,
      handle: async (req): Promise<HttpReply> => {
        if (!f) return fulfillmentOff;
        const parsed = jsonBody(req);
        if (!parsed.ok) return parsed.reply;
        const claim = parsed.body as unknown as ClaimRequest;
        if (!claimAttempts.take(JSON.stringify([claim.store, claim.orderId, claim.lineId]))) {
          return {
            status: 429,
            json: { error: `at most ${CLAIM_ATTEMPTS} claim attempts per line an hour` },
          };
        }
        return { status: 200, json: await fileClaim(f.ctx, claim) };
      },
    },
    {
      method: 'GET',
      path: '/admin/status',
      admin: true,
      handle: () => ({ status: 200, json: deps.status() }),
    },
    {
      method: 'POST',
      path: '/admin/sync',
      admin: true,
      handle: async (req): Promise<HttpReply> => {
        const parsed = jsonBody(req);
        if (!parsed.ok) return parsed.reply;
        const report = await deps.job.run({
          dryRun: parsed.body.dryRun === true,
          force: parsed.body.force === true,
        });
        return { status: 200, json: report };
      },
    },
    {
      method: 'POST',
      path: '/admin/backup',
      admin: true,
      handle: async (req): Promise<HttpReply> => {
        const parsed = jsonBody(req);
        if (!parsed.ok) return parsed.reply;
        const { file, force } = parsed.body;
        // The CLI resolves the path against its own working directory; the daemon's differs.
        if (typeof file !== 'string' || !path.isAbsolute(file)) {
          return { status: 400, json: { error: 'body needs file, an absolute path' } };
        }
        const result = await backupDatabase(deps.db, file, { force: force === true });
        deps.log.info(`backed up the database to ${result.file} (${result.bytes} bytes)`, {
          component: 'backup',
        });
        return { status: 200, json: result };
      },
    },
    {
      method: 'POST',
      path: '/admin/resync',
      admin: true,
      handle: (req): HttpReply => {
        const parsed = jsonBody(req);
        if (!parsed.ok) return parsed.reply;
        const store = typeof parsed.body.store === 'string' ? parsed.body.store : undefined;
        if (store !== undefined && !deps.storeNames.includes(store)) {
          return {
            status: 404,
            json: { error: `no store named "${store}" (have: ${deps.storeNames.join(', ')})` },
          };
        }
        // Refused before the stream opens: its 200 would read as accepted.
        if (deps.job.stopping) throw new StoppingError();
        return {
          status: 200,
          stream: async (write) => {
            try {
              const report = await deps.job.run({
                full: true,
                ...(store && { store }),
                onProgress: (s, settled, total) => write({ type: 'progress', store: s, settled, total }),
              });
              write({ type: 'done', report });
            } catch (e) {
              write({ type: 'error', error: toSafeError(e) });
            }
          },
        };
      },
    },
  ];
}

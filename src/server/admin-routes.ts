import { toSafeError } from '../errors.js';
import type { InventoryJob } from '../inventory/inventory-job.js';
import type { Status } from '../status.js';
import { type HttpReply, jsonBody, type Route } from './http-server.js';

/**
 * The admin API. The CLI's mutating commands come through here while a daemon holds the run
 * lock, so there is one pacer and one writer.
 */

export interface AdminDeps {
  job: InventoryJob;
  status: () => Status;
  storeNames: readonly string[];
}

export function adminRoutes(deps: AdminDeps): Route[] {
  return [
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

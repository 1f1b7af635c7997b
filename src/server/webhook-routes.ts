import { immediate } from '../db/open.js';
import type { FulfillmentContext } from '../fulfillment/fulfillment-context.js';
import { recordWebhookEvent } from '../fulfillment/fulfillment-ledger.js';
import type { Logger } from '../log.js';
import { SIGNATURE_HEADER, verifyWebhookSignature } from '../supplier/webhook-signature.js';
import { parseWire, webhookEventSchema } from '../supplier/wire.js';
import type { HttpReply, Route } from './http-server.js';

/**
 * Webhooks are hints: verify, record (deduplicated by event id), answer within milliseconds,
 * then process. The order is always read again from its source; polling stays on as the fallback.
 */

export interface WebhookDeps {
  ctx: FulfillmentContext;
  supplierSecret: string | undefined;
  /** Asks for a fulfillment pass soon; `intake` names an order a shop says changed. */
  kick: (intake?: { store: string; orderId: string }) => void;
  log: Logger;
}

const reject = (status: number, error: string): HttpReply => ({ status, json: { error } });

/** Ids a sender chooses are stored: longer ones are refused, not truncated (two would collide). */
export const MAX_WEBHOOK_ID = 200;
const oversize = (...ids: string[]) => ids.some((id) => id.length > MAX_WEBHOOK_ID);

export function webhookRoutes(deps: WebhookDeps): Route[] {
  const { ctx } = deps;
  return [
    {
      method: 'POST',
      path: '/webhooks/psnb2b',
      handle: (req) => {
        if (deps.supplierSecret) {
          const header = req.headers[SIGNATURE_HEADER];
          const check = verifyWebhookSignature(
            req.rawBody,
            Array.isArray(header) ? header[0] : header,
            deps.supplierSecret,
          );
          if (!check.ok) {
            deps.log.warn(`supplier webhook refused: signature ${check.reason}`, { component: 'webhooks' });
            return reject(401, `signature ${check.reason}`);
          }
        }
        let json: unknown;
        try {
          json = JSON.parse(req.rawBody.toString('utf8'));
        } catch {
          return reject(400, 'body is not JSON');
        }
        const event = parseWire(webhookEventSchema, json);
        if (!event.ok) return reject(400, `body does not fit the webhook contract at ${event.issue.field}`);
        const e = event.value;
        if (oversize(e.orderId)) return reject(400, `orderId longer than ${MAX_WEBHOOK_ID} characters`);
        const now = ctx.now();
        const fresh = immediate(ctx.db, () => {
          const first = recordWebhookEvent(
            ctx.db,
            'psnb2b',
            `${e.orderId}:${e.status}:${e.occurredAt}`,
            e.orderId,
            now,
          );
          // Only a hint: the next pass asks the supplier itself.
          if (first)
            ctx.db
              .prepare('UPDATE purchase_intents SET next_check_at = 0 WHERE supplier_order_id = ?')
              .run(e.orderId);
          return first;
        });
        if (fresh) deps.kick();
        return { status: 200, json: { ok: true, duplicate: !fresh } };
      },
    },
    {
      method: 'POST',
      path: '/webhooks/:type/:store',
      handle: (req) => {
        const store = ctx.stores.get(req.params.store ?? '');
        if (!store || store.type !== req.params.type) return reject(404, 'no such store');
        const verdict = store.orders.verifyWebhook({ headers: req.headers, rawBody: req.rawBody });
        switch (verdict.kind) {
          case 'rejected':
            deps.log.warn(`${store.name}: webhook refused: ${verdict.reason}`, {
              component: 'webhooks',
              store: store.name,
            });
            return reject(401, verdict.reason);
          case 'ping':
          case 'ignored':
            return { status: 200, json: { ok: true } };
          case 'order': {
            if (oversize(verdict.eventId, verdict.orderId))
              return reject(400, `webhook id longer than ${MAX_WEBHOOK_ID} characters`);
            const fresh = immediate(ctx.db, () =>
              // WooCommerce's delivery id hashes the webhook id and the second: two orders can share one.
              recordWebhookEvent(
                ctx.db,
                `${store.type}/${store.name}`,
                `${verdict.eventId}:${verdict.orderId}`,
                verdict.orderId,
                ctx.now(),
              ),
            );
            if (fresh) deps.kick({ store: store.name, orderId: verdict.orderId });
            return { status: 200, json: { ok: true, duplicate: !fresh } };
          }
        }
      },
    },
  ];
}

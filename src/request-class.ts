import { AsyncLocalStorage } from 'node:async_hooks';

/**
 * What a shop request is for, as its store's request queue sees it (request-slots.ts): delivery
 * requests never hold a store's last slot, so a stock push (late to zero is an oversell) or an
 * order listing always finds one, however many deliveries hang; at one slot (Shopify's) they go
 * after the waiting general requests. The delivery runner sets it around each task, so every
 * request a delivery makes (its re-read, its steps, releasing our hold) carries it without each call site
 * having to say so; any other request is `general`.
 */
export type RequestClass = 'delivery' | 'general';

const current = new AsyncLocalStorage<RequestClass>();

/** Runs `work` with every shop request it makes classed as delivery work. */
export function asDeliveryWork<T>(work: () => Promise<T>): Promise<T> {
  return current.run('delivery', work);
}

export function requestClass(): RequestClass {
  return current.getStore() ?? 'general';
}

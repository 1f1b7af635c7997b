import type { RequestClass } from '../src/request-class.js';

/**
 * How a store's N request slots are shared. Delivery requests hold at most N − 1 of them, so one
 * is always free for stock pushes and order listings when every delivery hangs (each bounded only
 * by the store's timeout). At N = 1 they need the one slot to run at all: then a general request
 * still goes before every waiting delivery request, but waits for the one in flight.
 */
export function deliverySlots(concurrency: number): number {
  return Math.max(1, concurrency - 1);
}

export interface SlotState {
  concurrency: number;
  running: Readonly<Record<RequestClass, number>>;
  waiting: Readonly<Record<RequestClass, number>>;
}

/**
 * The class whose oldest waiting request starts next, or null for none. General requests go
 * first: they come in short bursts (a push's batches, a listing's pages), so deliveries are
 * delayed, never starved.
 */
export function nextToStart(s: SlotState): RequestClass | null {
  if (s.running.delivery + s.running.general >= s.concurrency) return null;
  if (s.waiting.general > 0) return 'general';
  if (s.waiting.delivery > 0 && s.running.delivery < deliverySlots(s.concurrency)) return 'delivery';
  return null;
}

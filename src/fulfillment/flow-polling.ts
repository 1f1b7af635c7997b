/**
 * Polling while sales flow (issue 13). Without webhooks a sale waits for the next scheduled poll
 * (every 10 s with the default inventory schedule: 5 s on average). While polls keep finding
 * sales, the worker tick polls too, once about SALES_PER_POLL more are due at the rate the last
 * poll found them, never more often than every FLOW_MIN_GAP_MS: at 300 sales a minute a sale is
 * taken in within about 2 s, and each extra listing carries several sales, so it costs a fraction
 * of a call per sale. A poll that finds nothing new ends it; slow sales never trigger it.
 */

export const FLOW_MIN_GAP_MS = 2_000;
export const SALES_PER_POLL = 5;

/** The last poll: when it started, how long after the one before (0 for a process's first), what it took in. */
export interface LastPoll {
  at: number;
  gapMs: number;
  sales: number;
}

export function flowPollDue(last: LastPoll | undefined, now: number): boolean {
  if (!last || last.sales === 0) return false;
  return now - last.at >= Math.max(FLOW_MIN_GAP_MS, (SALES_PER_POLL * last.gapMs) / last.sales);
}

/**
 * What a finished poll leaves for the next decision. One that started within FLOW_MIN_GAP_MS of
 * the last and found nothing (the schedules' poll right after the tick's) says nothing of the
 * rate: the last estimate stands.
 */
export function afterPoll(prev: LastPoll | undefined, at: number, sales: number): LastPoll {
  const gapMs = prev ? at - prev.at : 0;
  if (prev && sales === 0 && gapMs < FLOW_MIN_GAP_MS) return prev;
  return { at, gapMs, sales };
}

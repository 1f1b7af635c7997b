import { entryKey } from '../sku.js';
import type { SnapshotEntry } from './plan-stock-pushes.js';

/**
 * The destructive-update guard: a pull that would take a large share of the catalogue to 0 at
 * once (or an empty feed) is more likely a supplier glitch than a sell-out, so it is confirmed
 * by a second pull before anything is pushed.
 */

export interface GuardSettings {
  maxZeroShare: number;
  minEntries: number;
}

export type GuardVerdict =
  | { suspicious: false }
  | { suspicious: true; reason: string; zeroed: string[]; listedBefore: number };

/** `previous`: the accepted snapshot's listed entries; `pulled`: what the supplier lists now. */
export function judgePull(
  previous: readonly SnapshotEntry[],
  pulled: readonly SnapshotEntry[],
  settings: GuardSettings,
): GuardVerdict {
  const before = previous.filter((e) => e.qty > 0);
  if (before.length === 0) return { suspicious: false };
  const now = new Map(pulled.map((e) => [entryKey(e), e.qty]));
  const zeroed = before.map(entryKey).filter((k) => (now.get(k) ?? 0) === 0);
  if (pulled.length === 0) {
    return { suspicious: true, reason: 'the supplier feed is empty', zeroed, listedBefore: previous.length };
  }
  if (previous.length < settings.minEntries) return { suspicious: false };
  if (zeroed.length > settings.maxZeroShare * previous.length) {
    return {
      suspicious: true,
      reason: `${zeroed.length} of ${previous.length} entries would go to 0 at once`,
      zeroed,
      listedBefore: previous.length,
    };
  }
  return { suspicious: false };
}

export type GuardDecision =
  | { action: 'push'; use: 'first' | 'second'; note?: string }
  | { action: 'hold'; reason: string };

/**
 * After a suspicious first pull, the second pull decides: if it is healthy, the first was a
 * glitch and the second is pushed; if it zeroes the same entries, the drop is real and is
 * pushed; if it zeroes different ones, the feed is unstable and the push is held.
 */
export function decideAfterRecheck(first: GuardVerdict, second: GuardVerdict): GuardDecision {
  if (!first.suspicious) return { action: 'push', use: 'first' };
  if (!second.suspicious) {
    return { action: 'push', use: 'second', note: `a suspicious pull (${first.reason}) was not confirmed` };
  }
  const a = [...first.zeroed].sort().join(',');
  const b = [...second.zeroed].sort().join(',');
  if (a === b) return { action: 'push', use: 'second', note: `confirmed by a second pull: ${second.reason}` };
  return {
    action: 'hold',
    reason: `two pulls disagree (${first.reason}; then ${second.reason}): push held until \`sync --force\``,
  };
}

import type { SupplierAnswer } from './metrics/request-tally.js';

/**
 * `/readyz` as one pure decision: ready when the database takes writes, the last inventory run
 * is younger than 3 schedule periods, the supplier answered its last call, and no store failed
 * its last push. Each failed condition is one reason an operator can act on.
 */

export interface ReadinessFacts {
  now: number;
  /** Null when a test write succeeded; else why it failed. */
  databaseError: string | null;
  /** When the last inventory run finished (any outcome), or null. */
  lastRunAt: number | null;
  /** The inventory schedule's period (the longest gap between its next runs). */
  periodMs: number;
  lastSupplier: SupplierAnswer | undefined;
  /** Stores whose last push failed, with the error's message. */
  failingStores: { store: string; error: string }[];
}

export const STALE_PERIODS = 3;

function supplierAnswered(a: SupplierAnswer): boolean {
  return /^\d+$/.test(a.status) && Number(a.status) < 500;
}

export function readinessReasons(f: ReadinessFacts): string[] {
  const reasons: string[] = [];
  if (f.databaseError) reasons.push(`database is not writable: ${f.databaseError}`);
  const limitS = Math.round((STALE_PERIODS * f.periodMs) / 1000);
  if (f.lastRunAt === null) reasons.push('no inventory run has finished yet');
  else if (f.now - f.lastRunAt > STALE_PERIODS * f.periodMs) {
    const ageS = Math.round((f.now - f.lastRunAt) / 1000);
    reasons.push(
      `last inventory run finished ${ageS} s ago (more than ${STALE_PERIODS} schedule periods, ${limitS} s)`,
    );
  }
  if (!f.lastSupplier) reasons.push('the supplier has not been called yet');
  else if (!supplierAnswered(f.lastSupplier)) {
    const a = f.lastSupplier;
    reasons.push(`the supplier did not answer its last call (${a.endpoint}: ${a.status})`);
  }
  for (const s of f.failingStores) reasons.push(`store ${s.store} failed its last push: ${s.error}`);
  return reasons;
}

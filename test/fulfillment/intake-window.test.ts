import { describe, expect, it } from 'vitest';
import {
  intakeWindow,
  SHORT_OVERLAP_MS,
  SWEEP_EVERY_MS,
  SWEEP_OVERLAP_MS,
} from '../../src/fulfillment/intake-window.js';

/** How far back each order listing looks, decided without I/O (issue 13). */

const T = Date.parse('2026-12-07T03:00:00.000Z');
const iso = (ms: number) => new Date(ms).toISOString();

describe('intake window', () => {
  it('no cursor yet: the adapter’s first read, counted as a sweep', () => {
    expect(intakeWindow(null, undefined, T)).toEqual({ since: null, sweep: true });
  });

  it('the first poll of a process is a sweep over the full overlap (a restart catches up)', () => {
    expect(intakeWindow(iso(T), undefined, T)).toEqual({ since: iso(T - SWEEP_OVERLAP_MS), sweep: true });
  });

  it('a poll within a minute of the last sweep looks back only the short overlap', () => {
    const mark = { at: T, cursor: iso(T - 5_000) };
    expect(intakeWindow(iso(T + 30_000), mark, T + SWEEP_EVERY_MS - 1)).toEqual({
      since: iso(T + 30_000 - SHORT_OVERLAP_MS),
      sweep: false,
    });
  });

  it('a minute after the last sweep: a sweep from that sweep’s cursor, however far the cursor moved', () => {
    const mark = { at: T, cursor: iso(T - 5_000) };
    expect(intakeWindow(iso(T + 55_000), mark, T + SWEEP_EVERY_MS)).toEqual({
      since: iso(T - 5_000 - SWEEP_OVERLAP_MS),
      sweep: true,
    });
  });

  it('a cursor that went back (a late order listed) sweeps from the earlier of the two', () => {
    const mark = { at: T, cursor: iso(T) };
    expect(intakeWindow(iso(T - 20_000), mark, T + 2 * SWEEP_EVERY_MS)).toEqual({
      since: iso(T - 20_000 - SWEEP_OVERLAP_MS),
      sweep: true,
    });
  });
});

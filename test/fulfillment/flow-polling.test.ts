import { describe, expect, it } from 'vitest';
import {
  afterPoll,
  FLOW_MIN_GAP_MS,
  flowPollDue,
  SALES_PER_POLL,
} from '../../src/fulfillment/flow-polling.js';

/** When the worker tick polls too, decided without I/O (issue 13). */

const T = 1_000_000;

describe('polling while sales flow', () => {
  it('no poll yet, or the last found nothing new: only the schedules poll', () => {
    expect(flowPollDue(undefined, T)).toBe(false);
    expect(flowPollDue({ at: T, gapMs: 10_000, sales: 0 }, T + 60_000)).toBe(false);
  });

  it('300 sales a minute (50 found over 10 s): again after the floor of 2 s, not 1 s', () => {
    const last = { at: T, gapMs: 10_000, sales: 50 };
    expect(flowPollDue(last, T + FLOW_MIN_GAP_MS - 1)).toBe(false);
    expect(flowPollDue(last, T + FLOW_MIN_GAP_MS)).toBe(true);
  });

  it('60 a minute (10 found over 10 s): again once about 5 more are due, after 5 s', () => {
    const last = { at: T, gapMs: 10_000, sales: 10 };
    expect(flowPollDue(last, T + 4_999)).toBe(false);
    expect(flowPollDue(last, T + (SALES_PER_POLL * 10_000) / 10)).toBe(true);
  });

  it('slow sales (2 found over 10 s): not before the 10 s schedule polls anyway', () => {
    expect(flowPollDue({ at: T, gapMs: 10_000, sales: 2 }, T + 24_999)).toBe(false);
  });

  it("a process's first poll that found sales: once more after 2 s, to learn the rate", () => {
    expect(flowPollDue({ at: T, gapMs: 0, sales: 3 }, T + FLOW_MIN_GAP_MS)).toBe(true);
  });
});

describe('what a poll leaves for the next decision', () => {
  it('its start, the gap since the last, what it took in (a gap of 0 for the first)', () => {
    expect(afterPoll(undefined, T, 4)).toEqual({ at: T, gapMs: 0, sales: 4 });
    expect(afterPoll({ at: T, gapMs: 0, sales: 4 }, T + 3_000, 0)).toEqual({
      at: T + 3_000,
      gapMs: 3_000,
      sales: 0,
    });
  });

  it('an empty poll right after another says nothing of the rate: the last estimate stands', () => {
    const last = { at: T, gapMs: 10_000, sales: 50 };
    expect(afterPoll(last, T + 500, 0)).toBe(last);
  });
});

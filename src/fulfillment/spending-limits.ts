import type { LimitsConfig } from '../../config/schema.js';
import { formatUsd, usdToCents } from '../money.js';

/**
 * Spending limits (design-notes "Spending limits"), decided without I/O: the first limit an
 * order breaks, valued in USD at the supplier's current prices. Bearer codes are cash and stolen
 * cards buy them, so an order over any limit is held whole for an operator.
 */

export type LimitName = keyof LimitsConfig;

export interface SpendingLimits {
  maxOrderCents: number | null;
  maxUnitsPerLine: number | null;
  maxDailyCents: number | null;
  maxCustomerDailyCents: number | null;
}

export function spendingLimits(c: LimitsConfig): SpendingLimits {
  const cents = (usd: number | null, key: string) =>
    usd === null ? null : usdToCents(usd, `fulfillment.limits.${key}`);
  return {
    maxOrderCents: cents(c.maxOrderUsd, 'maxOrderUsd'),
    maxUnitsPerLine: c.maxUnitsPerLine,
    maxDailyCents: cents(c.maxDailyUsd, 'maxDailyUsd'),
    maxCustomerDailyCents: cents(c.maxCustomerDailyUsd, 'maxCustomerDailyUsd'),
  };
}

export interface OrderToCheck {
  valueCents: number;
  /** The most units on one of its lines. */
  maxLineUnits: number;
  buyer: string | null;
}

/** Spent in the last 24 hours, before this order: by everyone, and by this order's buyer. */
export interface RecentSpend {
  dayCents: number;
  buyerDayCents: number;
}

export function brokenLimit(
  order: OrderToCheck,
  limits: SpendingLimits,
  spent: RecentSpend,
): { limit: LimitName; detail: string } | null {
  const usd = formatUsd;
  if (limits.maxUnitsPerLine !== null && order.maxLineUnits > limits.maxUnitsPerLine) {
    return {
      limit: 'maxUnitsPerLine',
      detail: `${order.maxLineUnits} units on one line, over fulfillment.limits.maxUnitsPerLine (${limits.maxUnitsPerLine})`,
    };
  }
  if (limits.maxOrderCents !== null && order.valueCents > limits.maxOrderCents) {
    return {
      limit: 'maxOrderUsd',
      detail: `${usd(order.valueCents)} USD, over fulfillment.limits.maxOrderUsd (${usd(limits.maxOrderCents)})`,
    };
  }
  if (limits.maxDailyCents !== null && spent.dayCents + order.valueCents > limits.maxDailyCents) {
    return {
      limit: 'maxDailyUsd',
      detail: `${usd(order.valueCents)} USD on top of ${usd(spent.dayCents)} USD bought in 24 hours, over fulfillment.limits.maxDailyUsd (${usd(limits.maxDailyCents)})`,
    };
  }
  if (
    limits.maxCustomerDailyCents !== null &&
    order.buyer !== null &&
    spent.buyerDayCents + order.valueCents > limits.maxCustomerDailyCents
  ) {
    return {
      limit: 'maxCustomerDailyUsd',
      detail: `${usd(order.valueCents)} USD on top of ${usd(spent.buyerDayCents)} USD bought for this buyer in 24 hours, over fulfillment.limits.maxCustomerDailyUsd (${usd(limits.maxCustomerDailyCents)})`,
    };
  }
  return null;
}

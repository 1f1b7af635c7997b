import { formatUsd } from '../money.js';
import { escapeHtml } from './html.js';

/**
 * The supplier balance over time as a small inline SVG (no script, no library): a step line,
 * since the balance holds its value between reads. At most `MAX_POINTS` points are drawn.
 */

const W = 600;
const H = 120;
const PAD = 4;
const MAX_POINTS = 400;

export function balanceChartSvg(points: readonly { at: number; cents: number }[], now: number): string {
  if (points.length === 0) return '';
  const step = Math.ceil(points.length / MAX_POINTS);
  const drawn = points.filter((_, i) => i % step === 0 || i === points.length - 1);
  const t0 = (drawn[0] as { at: number }).at;
  const t1 = Math.max(now, t0 + 1);
  const values = drawn.map((p) => p.cents);
  const least = Math.min(...values);
  const top = Math.max(...values);
  // A balance that never moved is drawn across the middle.
  const [lo, hi] = top === least ? [least - 1, top + 1] : [least, top];
  const x = (t: number) => (PAD + ((t - t0) / (t1 - t0)) * (W - 2 * PAD)).toFixed(1);
  const y = (c: number) => (H - PAD - ((c - lo) / (hi - lo)) * (H - 2 * PAD)).toFixed(1);
  let d = '';
  drawn.forEach((p, i) => {
    d += i === 0 ? `M${x(p.at)} ${y(p.cents)}` : `H${x(p.at)} V${y(p.cents)}`;
  });
  d += `H${x(t1)}`;
  const label = escapeHtml(`balance from ${formatUsd(least)} to ${formatUsd(top)} USD`);
  return `<svg class="chart" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img" aria-label="${label}"><path d="${d}" fill="none" stroke="currentColor" stroke-width="2"/></svg>`;
}

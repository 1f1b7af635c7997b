import { planStockPushes, type SnapshotEntry } from '../src/inventory/plan-stock-pushes.js';
import { skuKey } from '../src/sku.js';
import { benchCatalog, SKU_TEMPLATE } from './bench-support.js';

/**
 * Run in its own process (`--expose-gc`) so its peak RSS is the planner's alone:
 * planStockPushes over N entries, 10 % changed, and a full (resync) plan.
 */

const gc = (globalThis as { gc?: () => void }).gc ?? (() => {});
const heap = () => {
  gc();
  return process.memoryUsage().heapUsed;
};

const n = Number(process.argv[2] ?? 100_000);
const base = heap();
const { entries: raw, skus } = benchCatalog(n);
const entries: SnapshotEntry[] = raw.map((e) => ({
  region: e.region,
  denomination: e.denomination,
  currency: e.currency,
  qty: e.qty,
}));
// The store acknowledged everything, then 10 % changed at the supplier.
const checkpoint = new Map<string, number>();
entries.forEach((e, i) => {
  checkpoint.set(skuKey(skus[i] as string), i % 10 === 0 ? e.qty + 1 : e.qty);
});
const inputs = heap();
const input = {
  entries,
  checkpoint,
  mapping: { template: SKU_TEMPLATE, overrides: {} },
  reserve: 0,
  allocation: 'shared' as const,
  weight: 1,
  soldNotOrdered: new Map<string, number>(),
};
const times: number[] = [];
/** CPU time of the same runs: on a shared machine, wall time also counts other processes' turns. */
const cpuTimes: number[] = [];
let peakHeap = 0;
let planned = 0;
for (let r = 0; r < 7; r++) {
  const t0 = performance.now();
  const c0 = process.cpuUsage();
  const plan = planStockPushes(input);
  times.push(performance.now() - t0);
  const c = process.cpuUsage(c0);
  cpuTimes.push((c.user + c.system) / 1000);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
  planned = plan.length;
}
const retained = (() => {
  const plan = planStockPushes(input);
  const h = heap();
  planned = plan.length;
  return h;
})();
const fullTimes: number[] = [];
let fullPlanned = 0;
for (let r = 0; r < 5; r++) {
  const t0 = performance.now();
  fullPlanned = planStockPushes({ ...input, full: true }).length;
  fullTimes.push(performance.now() - t0);
  peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed);
}
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)] as number;
process.send?.({
  entries: n,
  planned,
  fullPlanned,
  medianMs: median(times),
  cpuMedianMs: median(cpuTimes),
  firstMs: times[0],
  fullMedianMs: median(fullTimes),
  inputHeapBytes: inputs - base,
  planHeapBytes: retained - inputs,
  peakHeapBytes: peakHeap,
  maxRssBytes: process.resourceUsage().maxRSS * 1024,
});

import v8 from 'node:v8';

/**
 * Imported first by the CLI, so V8 runs this process tuned for a small heap before any other
 * module loads.
 *
 * The daemon keeps little between cycles (about 20 MB of heap after one at 10,000 SKUs × 3 shops),
 * but a cycle's catalogue copies and shop responses outlive a young-generation collection, and
 * V8's default heap growth lets that garbage pile up in the old generation (~100 MB) before it
 * collects: a peak RSS of 215–245 MB. `--optimize-for-size` makes V8 grow the heap conservatively
 * and collect sooner (bench/results.md §3); a cycle waits on I/O, so the extra collections cost
 * no throughput that shows.
 *
 * Set here rather than on the command line so every way of starting the daemon (systemd, npm
 * start, npx) gets it. V8 reads this flag as it sizes and collects the heap; Node warns that a
 * flag set after start may do nothing, which the bench, measuring the daemon's process with it,
 * would show.
 */
v8.setFlagsFromString('--optimize-for-size');

import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** Planner time and memory at N entries, measured in a fresh child process (`planner-child.ts`). */

export interface PlannerResult {
  entries: number;
  planned: number;
  fullPlanned: number;
  medianMs: number;
  cpuMedianMs: number;
  firstMs: number;
  fullMedianMs: number;
  inputHeapBytes: number;
  planHeapBytes: number;
  peakHeapBytes: number;
  maxRssBytes: number;
}

export function benchPlanner(entries: number): Promise<PlannerResult> {
  const child = fork(fileURLToPath(new URL('./planner-child.js', import.meta.url)), [String(entries)], {
    execArgv: ['--expose-gc'],
  });
  return new Promise((resolve, reject) => {
    let result: PlannerResult | undefined;
    child.on('message', (m) => {
      result = m as PlannerResult;
    });
    child.on('error', reject);
    child.on('exit', (code) =>
      result ? resolve(result) : reject(new Error(`planner child exited ${code}`)),
    );
  });
}

import { expect, it } from 'vitest';
import { StoppingError } from '../src/errors.js';
import { SerialJob } from '../src/serial-job.js';

/** A stop finishes the run in flight and those queued before it; nothing asked for after it starts. */
it('once stopping, ticks are refused and manual runs rejected; the run in flight finishes', async () => {
  const started: string[] = [];
  let release = () => {};
  const job = new SerialJob(async (name: string) => {
    started.push(name);
    if (name === 'in-flight') await new Promise<void>((r) => (release = r));
    return name;
  });
  const inFlight = job.tick('in-flight');
  const queued = job.run('queued-before');
  await Promise.resolve();
  const stopped = job.stop();

  expect(job.tick('tick-after')).toBeNull();
  await expect(job.run('run-after')).rejects.toBeInstanceOf(StoppingError);
  release();
  await stopped;
  expect(await inFlight).toBe('in-flight');
  expect(await queued).toBe('queued-before');
  expect(started).toEqual(['in-flight', 'queued-before']);
});

/** An operator's decision after its pass is still the job's: no tick runs beside it, a stop waits for it. */
it('runThen keeps the turn through `then`: ticks are skipped and a stop waits until it ends', async () => {
  const job = new SerialJob(async (name: string) => name);
  let release = () => {};
  let decided = false;
  const decision = job.runThen('pass', async () => {
    await new Promise<void>((r) => (release = r));
    decided = true;
    return 'decided';
  });
  await new Promise((r) => setTimeout(r, 10));

  expect(job.busy).toBe(true);
  expect(job.tick('tick-during')).toBeNull();
  let stopped = false;
  const stopping = job.stop().then(() => (stopped = true));
  await new Promise((r) => setTimeout(r, 10));
  expect(stopped).toBe(false);
  release();
  await stopping;
  expect(decided).toBe(true);
  expect(await decision).toBe('decided');
});

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

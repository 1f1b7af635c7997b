import { PassThrough } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger } from '../src/log.js';

/** One log style per output: readable lines are plain `key=value` throughout, JSON lines are JSON. */

/** The colour codes of the readable form. */
const COLOUR_CODES = new RegExp(`${String.fromCharCode(27)}\\[\\d+m`, 'g');

function linesOf(format: 'pretty' | 'json', write: (log: ReturnType<typeof createLogger>) => void): string[] {
  const stream = new PassThrough();
  const chunks: string[] = [];
  stream.on('data', (d: Buffer) => chunks.push(d.toString()));
  write(createLogger({ level: 'info', format, stream }));
  return chunks.join('').replace(COLOUR_CODES, '').trim().split('\n');
}

describe('log styles', () => {
  it('a readable line carries its metadata as key=value, not a JSON tail', () => {
    const [line] = linesOf('pretty', (log) =>
      log.info('sandbox-shop: 4 pushed', { component: 'inventory', store: 'sandbox-shop', calls: 1 }),
    );
    expect(line).toMatch(
      /^\d\d:\d\d:\d\d info \[inventory\] sandbox-shop: 4 pushed store=sandbox-shop calls=1$/,
    );
  });

  it('off a terminal every line is one JSON object', () => {
    const lines = linesOf('json', (log) => {
      log.info('one', { component: 'daemon' });
      log.warn('two', { store: 'shop-a' });
    });
    expect(lines.map((l) => (JSON.parse(l) as { message: string }).message)).toEqual(['one', 'two']);
  });
});

import winston from 'winston';
import { scrub } from './redact.js';

export type Logger = winston.Logger;

export interface LogOptions {
  level: 'error' | 'warn' | 'info' | 'debug';
  format: 'auto' | 'json' | 'pretty';
  /** Defaults to stdout; tests pass a stream to capture every line. */
  stream?: NodeJS.WritableStream;
}

/** Every line, message and metadata alike, is scrubbed of registered secrets before it is written. */
const scrubAll = winston.format((info) => {
  for (const key of Object.keys(info)) {
    const v = info[key];
    if (typeof v === 'string') info[key] = scrub(v);
    else if (v && typeof v === 'object') info[key] = JSON.parse(scrub(JSON.stringify(v)));
  }
  return info;
});

const pretty = winston.format.printf((info) => {
  const { level, message, timestamp, component, ...rest } = info as Record<string, unknown>;
  // key=value, so a readable line stays one style (no JSON tail).
  const extra = Object.entries(rest)
    .map(([k, v]) => ` ${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
    .join('');
  return `${String(timestamp).slice(11, 19)} ${level}${component ? ` [${component}]` : ''} ${message}${extra}`;
});

export function createLogger(opts: LogOptions): Logger {
  const stream = opts.stream ?? process.stdout;
  const isTty = (stream as { isTTY?: boolean }).isTTY === true;
  const usePretty = opts.format === 'pretty' || (opts.format === 'auto' && isTty);
  return winston.createLogger({
    level: opts.level,
    format: winston.format.combine(
      winston.format.timestamp(),
      scrubAll(),
      usePretty ? winston.format.combine(winston.format.colorize(), pretty) : winston.format.json(),
    ),
    transports: [new winston.transports.Stream({ stream })],
  });
}

/** A logger that writes nothing (for pure tests and one-shot commands that print their own output). */
export function silentLogger(): Logger {
  return winston.createLogger({
    silent: true,
    transports: [new winston.transports.Console({ silent: true })],
  });
}

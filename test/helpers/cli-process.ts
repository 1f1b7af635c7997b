import { type ChildProcess, type ChildProcessByStdio, spawn } from 'node:child_process';
import type { Readable, Writable } from 'node:stream';
import { fileURLToPath } from 'node:url';
import { waitUntil } from './wait-until.js';

/**
 * The built CLI (`dist/src/cli.js`, the package `bin`) as a real child process. `npm test`
 * builds before vitest runs, so these tests exercise exactly what a user installs.
 * Every byte a child writes is kept in an `OutputLog`, so a test can search it for secrets.
 */

export const CLI_PATH = fileURLToPath(new URL('../../dist/src/cli.js', import.meta.url));

export interface SpawnOptions {
  /** Working directory of the child (default: this process's). */
  cwd?: string;
  /** Added to (or, with `null`, removed from) the inherited environment. */
  env?: Record<string, string | null>;
  /** Every chunk of output is also appended here. */
  log?: OutputLog;
}

/** All output of every child of one test file, for the secret scan. */
export class OutputLog {
  private readonly chunks: string[] = [];
  append(label: string, text: string): void {
    this.chunks.push(`[${label}] ${text}`);
  }
  get text(): string {
    return this.chunks.join('');
  }
}

function childEnv(extra: SpawnOptions['env']): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env };
  // The parent may run with SYNC_CONFIG set; a test opts in explicitly.
  delete env.SYNC_CONFIG;
  // vitest's own workers set these; the child is a plain `node` process.
  delete env.NODE_OPTIONS;
  for (const [k, v] of Object.entries(extra ?? {})) {
    if (v === null) delete env[k];
    else env[k] = v;
  }
  return env;
}

export interface CliResult {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  ms: number;
}

/** Runs one CLI command to completion (`node dist/src/cli.js …args`). */
export function runCli(
  args: string[],
  opts: SpawnOptions & {
    timeoutMs?: number /** Written to the child's stdin (e.g. a code for `claim`). */;
    input?: string;
  } = {},
): Promise<CliResult> {
  const started = performance.now();
  const child = spawn(process.execPath, [CLI_PATH, ...args], {
    cwd: opts.cwd,
    env: childEnv(opts.env),
    stdio: opts.input === undefined ? ['ignore', 'pipe', 'pipe'] : ['pipe', 'pipe', 'pipe'],
  }) as ChildProcessByStdio<Writable | null, Readable, Readable>;
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  let stdout = '';
  let stderr = '';
  const label = `cli ${args.filter((a) => !a.includes('/')).join(' ')}`;
  child.stdout.on('data', (d: Buffer) => {
    stdout += d.toString();
    opts.log?.append(`${label} stdout`, d.toString());
  });
  child.stderr.on('data', (d: Buffer) => {
    stderr += d.toString();
    opts.log?.append(`${label} stderr`, d.toString());
  });
  const timeoutMs = opts.timeoutMs ?? 20_000;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(
        new Error(`${label} did not finish within ${timeoutMs} ms\nstdout: ${stdout}\nstderr: ${stderr}`),
      );
    }, timeoutMs);
    child.on('error', (e) => {
      clearTimeout(timer);
      reject(e);
    });
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr, ms: performance.now() - started });
    });
  });
}

/** One JSON log line of the daemon (winston's JSON format, as written when stdout is not a TTY). */
export interface LogLine {
  level: string;
  message: string;
  component?: string;
  [key: string]: unknown;
}

/** `psnb2b-sync run` as a child process. */
export class DaemonProcess {
  readonly child: ChildProcess;
  private out = '';
  private err = '';
  private exitInfo: { code: number | null; signal: NodeJS.Signals | null } | undefined;
  private readonly exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;

  constructor(configPath: string, opts: SpawnOptions = {}) {
    this.child = spawn(process.execPath, [CLI_PATH, 'run', '--config', configPath], {
      cwd: opts.cwd,
      env: childEnv(opts.env),
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    const label = `daemon ${this.child.pid}`;
    this.child.stdout?.on('data', (d: Buffer) => {
      this.out += d.toString();
      opts.log?.append(`${label} stdout`, d.toString());
    });
    this.child.stderr?.on('data', (d: Buffer) => {
      this.err += d.toString();
      opts.log?.append(`${label} stderr`, d.toString());
    });
    this.exited = new Promise((resolve) => {
      this.child.on('exit', (code, signal) => {
        this.exitInfo = { code, signal };
        resolve(this.exitInfo);
      });
    });
  }

  get pid(): number {
    return this.child.pid as number;
  }

  get stdout(): string {
    return this.out;
  }

  get stderr(): string {
    return this.err;
  }

  get hasExited(): boolean {
    return this.exitInfo !== undefined;
  }

  /** Parsed JSON log lines so far (non-JSON lines are skipped). */
  logLines(): LogLine[] {
    const lines: LogLine[] = [];
    for (const raw of this.out.split('\n')) {
      if (!raw.startsWith('{')) continue;
      try {
        lines.push(JSON.parse(raw) as LogLine);
      } catch {
        // a line still being written
      }
    }
    return lines;
  }

  /** Waits for a log line whose message matches; fails early if the daemon exits. */
  async waitForLog(pattern: RegExp, timeoutMs = 10_000): Promise<LogLine> {
    return waitUntil(
      () => {
        const line = this.logLines().find((l) => pattern.test(l.message));
        if (!line && this.exitInfo) {
          throw new Error(`daemon exited (${JSON.stringify(this.exitInfo)}) before logging ${pattern}`);
        }
        return line;
      },
      { timeoutMs, what: `daemon log ${pattern}` },
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n--- daemon stdout ---\n${this.out}\n--- stderr ---\n${this.err}`);
    });
  }

  /** The admin/healthz base URL, once the daemon listens. */
  async ready(timeoutMs = 10_000): Promise<string> {
    const line = await this.waitForLog(/^listening on /, timeoutMs);
    return /^listening on (\S+)/.exec(line.message)?.[1] as string;
  }

  signal(sig: NodeJS.Signals): void {
    this.child.kill(sig);
  }

  /** Resolves when the process has exited and been reaped. */
  async exit(timeoutMs = 15_000): Promise<{ code: number | null; signal: NodeJS.Signals | null }> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_r, reject) => {
      timer = setTimeout(
        () =>
          reject(new Error(`daemon ${this.pid} did not exit within ${timeoutMs} ms\n${this.out}${this.err}`)),
        timeoutMs,
      );
    });
    try {
      return await Promise.race([this.exited, timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** For cleanup: SIGKILL if still running, then wait for the exit. */
  async kill(): Promise<void> {
    if (!this.exitInfo) this.child.kill('SIGKILL');
    await this.exited;
  }
}

/** Starts `psnb2b-sync run --config FILE` and waits until it listens. */
export async function startDaemonProcess(
  configPath: string,
  opts: SpawnOptions = {},
): Promise<{ daemon: DaemonProcess; url: string }> {
  const daemon = new DaemonProcess(configPath, opts);
  try {
    const url = await daemon.ready();
    return { daemon, url };
  } catch (e) {
    await daemon.kill();
    throw e;
  }
}

import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { configSchema, type RawConfig, SECRET_KEYS, type StatusView, statusViewSchema } from './schema.js';

/**
 * A config text → the config, or every problem with it, as values. Reading the file, raising the
 * problems as a `ConfigError` and registering the secrets is `src/config-file.ts`'s part.
 */

export interface LoadedConfig {
  raw: RawConfig;
  configPath: string;
  baseDir: string;
}

type PathPart = string | number;

export function formatPath(parts: readonly PropertyKey[]): string {
  let out = '';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else out += out ? `.${String(p)}` : String(p);
  }
  return out;
}

/**
 * `${VAR}` is not valid inside a YAML flow mapping (`{ key: ${VAR} }`, the form design-notes
 * documents), so references are swapped for plain placeholders before parsing and put back after.
 */
const PLACEHOLDER = /__psnsync_env_(\d+)__/g;

function protectReferences(text: string, refs: string[]): string {
  return text.replace(/\$\{[^}\n]*\}/g, (m) => `__psnsync_env_${refs.push(m) - 1}__`);
}

const ENV_REF = /\$\{([A-Za-z_][A-Za-z0-9_]*)(:-([^}]*))?\}/g;

/** One thing wrong with a config file: the key it is about, and what is wrong or what to do. */
export interface ConfigProblem {
  path: string;
  message: string;
}

/** Decides which values are interpolated; the rest are left out (a command that needs no secrets). */
export type KeyFilter = (at: readonly PathPart[]) => boolean;

interface InterpolateState {
  env: NodeJS.ProcessEnv;
  refs: string[];
  problems: ConfigProblem[];
  wanted: KeyFilter;
}

/**
 * `${NAME}` is replaced by the environment variable; `${NAME:-fallback}` may be unset. A value
 * that is exactly one reference is re-read as a YAML scalar, so `port: ${PORT}` is a number.
 * A value that comes out empty is treated as absent (so an optional key may be left unset).
 * Every unset variable is a problem of its own, so all of them are reported together.
 */
function interpolate(node: unknown, at: PathPart[], st: InterpolateState): unknown {
  if (typeof node === 'string') {
    node = node.replace(PLACEHOLDER, (_m, i: string) => st.refs[Number(i)] ?? '');
    if (typeof node !== 'string' || !node.includes('${')) return node;
    if (!st.wanted(at)) return undefined;
    const whole = /^\$\{[^}]+\}$/.test(node);
    let unset = false;
    const out = node.replace(ENV_REF, (_m, name: string, hasDefault: string | undefined, def: string) => {
      const v = st.env[name];
      if (v !== undefined && v !== '') return v;
      if (hasDefault !== undefined) return def;
      unset = true;
      st.problems.push({
        path: formatPath(at),
        message: `environment variable ${name} is not set: export it (or write \${${name}:-} if the key is optional)`,
      });
      return '';
    });
    if (out === '' || unset) return undefined;
    if (whole) {
      const scalar = parseYaml(out) as unknown;
      return typeof scalar === 'number' || typeof scalar === 'boolean' ? scalar : out;
    }
    return out;
  }
  if (Array.isArray(node)) return node.map((v, i) => interpolate(v, [...at, i], st));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      const r = interpolate(v, [...at, k], st);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return node;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  let v = input;
  for (const p of path) v = (v as Record<PropertyKey, unknown> | undefined)?.[p];
  return v;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): ConfigProblem {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (where ? `${where}.${k}` : k));
    return {
      path: keys[0] ?? where,
      message: `${keys.join(', ')}: unknown key${keys.length > 1 ? 's' : ''} (a typo? see the configuration reference in README)`,
    };
  }
  const received = valueAt(input, issue.path);
  if (received === undefined && issue.code === 'invalid_type') return { path: where, message: 'is required' };
  if (issue.code === 'custom') return { path: where, message: issue.message };
  const got = SECRET_KEYS.has(String(issue.path.at(-1)))
    ? 'a secret'
    : JSON.stringify(received)?.slice(0, 60);
  return { path: where, message: `${issue.message} (got ${got})` };
}

/** The message of a config with problems: how many, then one line each. */
export function describeProblems(configPath: string, problems: readonly ConfigProblem[]): string {
  const lines = problems.map((p) =>
    p.message.startsWith(`${p.path}: `) || !p.path ? p.message : `${p.path}: ${p.message}`,
  );
  const count = problems.length === 1 ? '1 problem' : `${problems.length} problems`;
  return `${configPath}: ${count}\n  ${lines.join('\n  ')}`;
}

/** A text that is not a YAML mapping: nothing more can be said about it than why. */
export interface Unreadable {
  kind: 'unreadable';
  message: string;
}

function readYaml(
  text: string,
  configPath: string,
  refs: string[],
): { kind: 'yaml'; doc: Record<string, unknown> } | Unreadable {
  let doc: unknown;
  try {
    doc = parseYaml(protectReferences(text, refs)) ?? {};
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` line ${e.linePos[0].line}` : '';
    const message = `${configPath}${where}: not valid YAML (${(e as Error).message.split('\n')[0]})`;
    return { kind: 'unreadable', message };
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    return { kind: 'unreadable', message: `${configPath}: must be a YAML mapping of keys` };
  }
  return { kind: 'yaml', doc: doc as Record<string, unknown> };
}

/** A config text read: `loaded` when it has no problem, else every problem at once. */
export interface ConfigInspection {
  kind: 'read';
  loaded: LoadedConfig | null;
  problems: ConfigProblem[];
  interpolated: Record<string, unknown>;
}

export function inspectConfig(
  text: string,
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
): ConfigInspection | Unreadable {
  const refs: string[] = [];
  const yaml = readYaml(text, configPath, refs);
  if (yaml.kind === 'unreadable') return yaml;
  const st: InterpolateState = { env, refs, problems: [], wanted: () => true };
  const interpolated = interpolate(yaml.doc, [], st) as Record<string, unknown>;
  const result = configSchema.safeParse(interpolated);
  const unset = new Set(st.problems.map((p) => p.path));
  const problems = [
    ...st.problems,
    // A key whose variable is unset is reported once, as the variable.
    ...(result.success ? [] : result.error.issues)
      .map((i) => describeIssue(i, interpolated))
      .filter((p) => !unset.has(p.path)),
  ];
  const loaded =
    problems.length > 0 || !result.success
      ? null
      : { raw: result.data, configPath, baseDir: path.dirname(configPath) };
  return { kind: 'read', loaded, problems, interpolated };
}

/** Only these keys are interpolated for `status`: the database, the sandbox, store names and types, logging. */
const statusKeys: KeyFilter = (at) =>
  at[0] === 'database' ||
  at[0] === 'sandbox' ||
  at[0] === 'log' ||
  (at[0] === 'storefronts' && (at[2] === 'name' || at[2] === 'type'));

/** The config as `status` reads it: no other key is interpolated, so no secret need be set. */
export function inspectStatusView(
  text: string,
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
): { kind: 'read'; view: StatusView | null; problems: ConfigProblem[] } | Unreadable {
  const refs: string[] = [];
  const yaml = readYaml(text, configPath, refs);
  if (yaml.kind === 'unreadable') return yaml;
  const st: InterpolateState = { env, refs, problems: [], wanted: statusKeys };
  const interpolated = interpolate(yaml.doc, [], st);
  const result = statusViewSchema.safeParse(interpolated);
  const problems = [
    ...st.problems,
    ...(result.success ? [] : result.error.issues.map((i) => describeIssue(i, interpolated))),
  ];
  return { kind: 'read', view: result.success && problems.length === 0 ? result.data : null, problems };
}

/** Every secret value found anywhere in the config, for the log scrubber. */
export function configSecrets(node: unknown, key = ''): string[] {
  if (typeof node === 'string') return SECRET_KEYS.has(key) ? [node] : [];
  if (Array.isArray(node)) return node.flatMap((v) => configSecrets(v, key));
  if (node && typeof node === 'object') return Object.entries(node).flatMap(([k, v]) => configSecrets(v, k));
  return [];
}

/** The effective config for printing: secrets masked, nothing else changed. */
export function maskConfig(node: unknown, key = ''): unknown {
  if (typeof node === 'string' && SECRET_KEYS.has(key))
    return node.length > 10 ? `${node.slice(0, 3)}…(set)` : '***';
  if (Array.isArray(node)) return node.map((v) => maskConfig(v, key));
  if (node && typeof node === 'object') {
    return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, maskConfig(v, k)]));
  }
  return node;
}

import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parse as parseYaml, YAMLParseError } from 'yaml';
import type { z } from 'zod';
import { ConfigError } from '../src/errors.js';
import { registerSecret } from '../src/redact.js';
import { checkSkuTemplate } from '../src/sku.js';
import { configSchema, type RawConfig, SECRET_KEYS } from './schema.js';

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

/**
 * `${NAME}` is replaced by the environment variable; `${NAME:-fallback}` may be unset. A value
 * that is exactly one reference is re-read as a YAML scalar, so `port: ${PORT}` is a number.
 * A value that comes out empty is treated as absent (so an optional key may be left unset).
 */
function interpolate(node: unknown, at: PathPart[], env: NodeJS.ProcessEnv, refs: string[]): unknown {
  if (typeof node === 'string') {
    node = node.replace(PLACEHOLDER, (_m, i: string) => refs[Number(i)] ?? '');
    if (typeof node !== 'string' || !node.includes('${')) return node;
    const whole = /^\$\{[^}]+\}$/.test(node);
    const out = node.replace(ENV_REF, (_m, name: string, hasDefault: string | undefined, def: string) => {
      const v = env[name];
      if (v !== undefined && v !== '') return v;
      if (hasDefault !== undefined) return def;
      throw new ConfigError(formatPath(at), `environment variable ${name} is not set`);
    });
    if (out === '') return undefined;
    if (whole) {
      const scalar = parseYaml(out) as unknown;
      return typeof scalar === 'number' || typeof scalar === 'boolean' ? scalar : out;
    }
    return out;
  }
  if (Array.isArray(node)) return node.map((v, i) => interpolate(v, [...at, i], env, refs));
  if (node && typeof node === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, v] of Object.entries(node)) {
      const r = interpolate(v, [...at, k], env, refs);
      if (r !== undefined) out[k] = r;
    }
    return out;
  }
  return node;
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const where = formatPath(issue.path);
  if (issue.code === 'unrecognized_keys') {
    const keys = issue.keys.map((k) => (where ? `${where}.${k}` : k));
    return `${keys.join(', ')}: unknown key${keys.length > 1 ? 's' : ''}`;
  }
  let received = input;
  for (const p of issue.path) received = (received as Record<PropertyKey, unknown> | undefined)?.[p];
  const got =
    received === undefined
      ? 'nothing'
      : SECRET_KEYS.has(String(issue.path.at(-1)))
        ? 'a secret'
        : JSON.stringify(received)?.slice(0, 60);
  return `${where || '(top level)'}: ${issue.message} (got ${got})`;
}

export function parseConfig(
  text: string,
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  let doc: unknown;
  const refs: string[] = [];
  try {
    doc = parseYaml(protectReferences(text, refs)) ?? {};
  } catch (e) {
    const where = e instanceof YAMLParseError && e.linePos ? ` line ${e.linePos[0].line}` : '';
    throw new ConfigError(
      '',
      `${configPath}${where}: not valid YAML (${(e as Error).message.split('\n')[0]})`,
    );
  }
  if (typeof doc !== 'object' || Array.isArray(doc)) {
    throw new ConfigError('', `${configPath}: must be a YAML mapping of keys`);
  }
  const interpolated = interpolate(doc, [], env, refs);
  const result = configSchema.safeParse(interpolated);
  if (!result.success) {
    const lines = result.error.issues.map((i) => describeIssue(i, interpolated));
    const err = new ConfigError(formatPath(result.error.issues[0]?.path ?? []), '');
    err.message = `${configPath}: invalid config\n  ${lines.join('\n  ')}`;
    throw err;
  }
  const raw = result.data;
  const template = checkSkuTemplate(raw.catalog.skuTemplate);
  if (!template.ok) throw new ConfigError('catalog.skuTemplate', template.reason);
  registerConfigSecrets(raw);
  return { raw, configPath, baseDir: path.dirname(configPath) };
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const configPath = path.resolve(file);
  let text: string;
  try {
    text = readFileSync(configPath, 'utf8');
  } catch (e) {
    throw new ConfigError(
      '',
      `cannot read config file ${configPath}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
  return parseConfig(text, configPath, env);
}

/** Every secret value found anywhere in the config is known to the log scrubber. */
export function registerConfigSecrets(node: unknown, key = ''): void {
  if (typeof node === 'string' && SECRET_KEYS.has(key)) registerSecret(node);
  else if (Array.isArray(node)) for (const v of node) registerConfigSecrets(v, key);
  else if (node && typeof node === 'object') {
    for (const [k, v] of Object.entries(node)) registerConfigSecrets(v, k);
  }
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

import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  type ConfigInspection,
  type ConfigProblem,
  configSecrets,
  describeProblems,
  inspectConfig,
  inspectStatusView,
  type LoadedConfig,
} from '../config/load.js';
import type { StatusView } from '../config/schema.js';
import { ConfigError } from './errors.js';
import { registerSecret } from './redact.js';

/**
 * The config file as the program takes it: read, checked by `config/`, its problems raised as one
 * `ConfigError`, and its secrets known to the log scrubber before anything runs.
 */

/** Reads the config file's text, or says clearly why not. */
export function readConfigText(file: string): { text: string; configPath: string } {
  const configPath = path.resolve(file);
  try {
    return { text: readFileSync(configPath, 'utf8'), configPath };
  } catch (e) {
    throw new ConfigError(
      '',
      `cannot read config file ${configPath}: ${(e as NodeJS.ErrnoException).code ?? e}`,
    );
  }
}

export function problemsError(configPath: string, problems: readonly ConfigProblem[]): ConfigError {
  const err = new ConfigError(problems[0]?.path ?? '', '');
  err.message = describeProblems(configPath, problems);
  return err;
}

/** Every problem of a config text at once; a text that is not YAML raises. A config without problems has its secrets registered. */
export function inspectConfigText(
  text: string,
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
): ConfigInspection {
  const r = inspectConfig(text, configPath, env);
  if (r.kind === 'unreadable') throw new ConfigError('', r.message);
  if (r.loaded) for (const secret of configSecrets(r.loaded.raw)) registerSecret(secret);
  return r;
}

export function parseConfig(
  text: string,
  configPath: string,
  env: NodeJS.ProcessEnv = process.env,
): LoadedConfig {
  const { loaded, problems } = inspectConfigText(text, configPath, env);
  if (!loaded) throw problemsError(configPath, problems);
  return loaded;
}

export function loadConfigFile(file: string, env: NodeJS.ProcessEnv = process.env): LoadedConfig {
  const { text, configPath } = readConfigText(file);
  return parseConfig(text, configPath, env);
}

/** The config as `status` reads it: only the keys it shows are interpolated, so no secret need be set. */
export function loadStatusView(
  file: string,
  env: NodeJS.ProcessEnv = process.env,
): { view: StatusView; configPath: string; baseDir: string } {
  const { text, configPath } = readConfigText(file);
  const r = inspectStatusView(text, configPath, env);
  if (r.kind === 'unreadable') throw new ConfigError('', r.message);
  if (!r.view) throw problemsError(configPath, r.problems);
  return { view: r.view, configPath, baseDir: path.dirname(configPath) };
}

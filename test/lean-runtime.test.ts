import { existsSync, readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

/**
 * A live daemon loads no fake: the fakes (`fakes/`) serve the tests and the sandbox, and the
 * sandbox (`src/sandbox/sandbox-mode.ts`) is imported dynamically, only for a `sandbox:` config.
 * Walks the TypeScript sources' imports (type-only imports are erased by tsc and not followed).
 */

const ROOT = fileURLToPath(new URL('../', import.meta.url));
const SANDBOX_GATE = 'src/sandbox/sandbox-mode.ts';

const STATIC_IMPORT = /^\s*(?:import|export)\s+(?!type\b)(?:[^'";]*?\sfrom\s+)?'([^']+)'/gm;
const DYNAMIC_IMPORT = /\bimport\(\s*'([^']+)'\s*\)/g;

function importsOf(file: string, dynamic: boolean): string[] {
  const text = readFileSync(path.join(ROOT, file), 'utf8');
  const specs = [...text.matchAll(STATIC_IMPORT)].map((m) => m[1] as string);
  if (dynamic) specs.push(...[...text.matchAll(DYNAMIC_IMPORT)].map((m) => m[1] as string));
  return specs
    .filter((s) => s.startsWith('.'))
    .map((s) => path.posix.join(path.posix.dirname(file), s).replace(/\.js$/, '.ts'))
    .filter((f) => existsSync(path.join(ROOT, f)));
}

/** Every source module reachable from the entries, not entering `stopAt`. */
function reachable(entries: string[], opts: { dynamic: boolean; stopAt?: string }): Set<string> {
  const seen = new Set<string>();
  const todo = [...entries];
  for (let f = todo.pop(); f !== undefined; f = todo.pop()) {
    if (seen.has(f)) continue;
    seen.add(f);
    if (f !== opts.stopAt) todo.push(...importsOf(f, opts.dynamic));
  }
  return seen;
}

const isFake = (f: string) =>
  f.startsWith('fakes/') || /(^|\/)fake-[^/]*$/.test(f) || f.endsWith('/supplier-server.ts');

describe('lean runtime', () => {
  const entries = ['src/main.ts', 'src/cli.ts'];

  it('src/main.ts is the composition root the daemon and the commands open', () => {
    const fromCli = reachable(['src/cli.ts'], { dynamic: false });
    expect(fromCli.has('src/main.ts')).toBe(true);
  });

  it('no fake and no sandbox module is in the static import graph of src/main.ts or the CLI', () => {
    const graph = [...reachable(entries, { dynamic: false })];
    expect(graph.filter((f) => isFake(f) || f === SANDBOX_GATE)).toEqual([]);
  });

  it('no fake is reachable even through the adapters loaded on demand, except via the sandbox', () => {
    const graph = reachable(entries, { dynamic: true, stopAt: SANDBOX_GATE });
    // Both shop adapters are reached (they are loaded per configured store) …
    expect(graph.has('adapters/woocommerce/index.ts')).toBe(true);
    expect(graph.has('adapters/shopify/index.ts')).toBe(true);
    // … and neither brings a fake along.
    expect([...graph].filter(isFake)).toEqual([]);
  });

  it('config/ is the bottom layer: no module under it imports src/, adapters/ or fakes/', () => {
    const configFiles = readdirSync(path.join(ROOT, 'config'), { recursive: true, encoding: 'utf8' })
      .filter((f) => f.endsWith('.ts'))
      .map((f) => path.posix.join('config', f.split(path.sep).join('/')));
    expect(configFiles).toContain('config/schema.ts');
    const outside = configFiles.flatMap((f) =>
      importsOf(f, true)
        .filter((to) => !to.startsWith('config/'))
        .map((to) => `${f} → ${to}`),
    );
    expect(outside).toEqual([]);
  });

  it('the sandbox is what loads the fakes', () => {
    const graph = reachable([SANDBOX_GATE], { dynamic: false });
    expect(graph.has('fakes/woocommerce/fake-woocommerce.ts')).toBe(true);
    expect(graph.has('fakes/psnb2b/supplier-server.ts')).toBe(true);
  });
});

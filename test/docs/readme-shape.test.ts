import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const ROOT = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string) => readFileSync(path.join(ROOT, file), 'utf8');

/** GitHub's heading anchor: lower case, punctuation dropped, spaces to hyphens. */
function slug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N} _-]/gu, '')
    .replace(/ /g, '-');
}

/** Headings outside fenced code blocks (a `# comment` in a shell block is not one). */
function anchors(markdown: string): Set<string> {
  const out = new Set<string>();
  let fenced = false;
  for (const line of markdown.split('\n')) {
    if (line.startsWith('```')) fenced = !fenced;
    const m = !fenced && /^#{1,6} (.+)$/.exec(line);
    if (m) out.add(slug(m[1] as string));
  }
  return out;
}

function section(markdown: string, heading: string): string {
  const start = markdown.indexOf(`\n${heading}\n`);
  expect(start, `${heading} in the README`).toBeGreaterThan(-1);
  const next = markdown.indexOf('\n## ', start + heading.length + 1);
  return markdown.slice(start, next === -1 ? undefined : next);
}

describe('README and docs/design.md', () => {
  const readme = read('README.md');

  it('open with the two commands that do everything on a fresh machine', () => {
    const firstBlock = /```sh\n([\s\S]*?)```/.exec(readme)?.[1] ?? '';
    expect(readme.indexOf('```sh')).toBeLessThan(readme.indexOf('\n## '));
    expect(firstBlock).toContain('npm install && npm start');
    expect(firstBlock).toContain('npm test');
  });

  it('go live starting with init, then doctor, before anything runs live', () => {
    const steps = [...section(readme, '## Going live').matchAll(/^(\d+)\. (.*)$/gm)].map((m) => m[2]);
    expect(steps[0]).toContain('psnb2b-sync init');
    expect(steps[1]).toContain('psnb2b-sync doctor');
  });

  it('keep the design prose in docs/design.md, not in the README', () => {
    const design = read('docs/design.md');
    for (const heading of [
      'what-the-daemon-does-and-the-rules-it-keeps',
      'holds-and-what-releases-each-one',
      'the-admin-api',
      'processes',
    ]) {
      expect(anchors(design), heading).toContain(heading);
      expect(anchors(readme), heading).not.toContain(heading);
    }
  });

  it('link only to files and headings that exist', () => {
    const broken: string[] = [];
    for (const file of ['README.md', 'docs/design.md', 'adapters/shopify/README.md']) {
      const text = read(file);
      for (const m of text.matchAll(/\]\(([^)\s]+)\)/g)) {
        const target = m[1] as string;
        if (/^[a-z]+:/.test(target)) continue;
        const [rel, hash] = target.split('#') as [string, string | undefined];
        const linked = rel === '' ? file : path.join(path.dirname(file), rel);
        if (!existsSync(path.join(ROOT, linked))) broken.push(`${file}: ${target} (no file)`);
        else if (hash !== undefined && !anchors(read(linked)).has(hash))
          broken.push(`${file}: ${target} (no heading)`);
      }
    }
    expect(broken).toEqual([]);
  });
});

/**
 * The house rules of DESIGN.md that a reader relies on to find their way, checked:
 * a service imports only the platform, the contracts and its own folder; the platform
 * imports no service and no contract; only config.ts files read process.env; only
 * erasable TypeScript (Node strips types, it does not compile them).
 */
import assert from 'node:assert/strict';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join, relative, sep } from 'node:path';
import { test } from 'node:test';

const root = join(import.meta.dirname, '..');
const src = join(root, 'src');

function files(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const p = join(dir, name);
    return statSync(p).isDirectory() ? files(p) : p.endsWith('.ts') ? [p] : [];
  });
}

const all = files(src).map((path) => ({ path, rel: relative(src, path).split(sep).join('/'), text: readFileSync(path, 'utf8') }));
const importsOf = (text: string) => [...text.matchAll(/(?:import|export)[^'"]*?from\s+['"]([^'"]+)['"]|import\(\s*['"]([^'"]+)['"]\s*\)/g)].map((m) => m[1] ?? m[2]);

test('a service imports only the platform, the contracts and its own folder', () => {
  const bad: string[] = [];
  for (const f of all.filter((f) => f.rel.startsWith('services/'))) {
    const own = f.rel.split('/')[1];
    for (const spec of importsOf(f.text)) {
      if (spec.startsWith('#services/') && !spec.startsWith(`#services/${own}/`)) bad.push(`${f.rel} -> ${spec}`);
      if (spec.startsWith('#runtime/') || spec.startsWith('#lab/')) bad.push(`${f.rel} -> ${spec}`);
      if (spec.startsWith('.')) {
        const target = relative(src, join(f.path, '..', spec)).split(sep).join('/');
        if (!target.startsWith(`services/${own}/`)) bad.push(`${f.rel} -> ${spec}`);
      }
    }
  }
  assert.deepEqual(bad, []);
});

test('the platform imports no service and no contract', () => {
  const bad: string[] = [];
  for (const f of all.filter((f) => f.rel.startsWith('platform/'))) {
    for (const spec of importsOf(f.text)) {
      const target = spec.startsWith('.') ? relative(src, join(f.path, '..', spec)).split(sep).join('/') : spec.replace(/^#/, '');
      if (/^(services|contracts)\//.test(target)) bad.push(`${f.rel} -> ${spec}`);
    }
  }
  assert.deepEqual(bad, []);
});

test('only config.ts files read process.env', () => {
  const bad = all.filter((f) => !f.rel.endsWith('config.ts') && !f.rel.endsWith('.test.ts') && !f.rel.endsWith('.bench.ts') && /process\.env\b/.test(f.text)).map((f) => f.rel);
  assert.deepEqual(bad, []);
});

test('the sources use only erasable TypeScript syntax', () => {
  const bad = all.filter((f) => /^\s*(export\s+)?(const\s+)?enum\s|^\s*(export\s+)?namespace\s|constructor\(\s*(private|public|protected|readonly)\s/m.test(f.text)).map((f) => f.rel);
  assert.deepEqual(bad, []);
});

test('file names are kebab-case', () => {
  const bad = all.filter((f) => !/^[a-z0-9]+(-[a-z0-9]+)*(\.[a-z]+)*\.ts$/.test(f.rel.split('/').pop()!)).map((f) => f.rel);
  assert.deepEqual(bad, []);
});

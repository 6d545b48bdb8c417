/**
 * Every file drawn from panels.ts, by its path from the repository's root: the consoles and
 * their menu for Prometheus, the dashboards for Grafana. `npm run dashboards` writes them;
 * generate.test.ts checks the committed ones are these.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { renderConsole, renderMenu } from './consoles.ts';
import { renderGrafana } from './grafana.ts';
import type { Dashboard } from './model.ts';
import { dashboards } from './panels.ts';

export const root = join(import.meta.dirname, '..', '..');
export const CONSOLES = 'deploy/prometheus/consoles';
export const LIBRARIES = 'deploy/prometheus/console_libraries';
export const GRAFANA = 'deploy/grafana/dashboards';

/** The generated files, path → content. */
export function render(all: Dashboard[] = dashboards): Map<string, string> {
  const slugs = new Set(all.map((d) => d.slug));
  if (slugs.size !== all.length) throw new Error('two dashboards share a slug');
  const files = new Map<string, string>();
  for (const d of all) {
    files.set(`${CONSOLES}/${d.slug}.html`, renderConsole(d));
    files.set(`${GRAFANA}/${d.slug}.json`, renderGrafana(d));
  }
  files.set(`${LIBRARIES}/menu.lib`, renderMenu(all));
  return files;
}

/** Generated files on disk that `render` no longer makes (a dashboard renamed or removed). */
export function stale(files: Map<string, string>, base = root): string[] {
  const owned = [[CONSOLES, '.html'], [GRAFANA, '.json']] as const;
  return owned.flatMap(([dir, ext]) => {
    let names: string[];
    try {
      names = readdirSync(join(base, dir));
    } catch {
      return [];
    }
    return names.filter((n) => n.endsWith(ext)).map((n) => `${dir}/${n}`).filter((p) => !files.has(p));
  });
}

/** Writes every generated file and removes stale ones; returns the paths written. */
export function write(base = root): string[] {
  const files = render();
  for (const path of stale(files, base)) rmSync(join(base, path));
  for (const [path, content] of files) {
    mkdirSync(dirname(join(base, path)), { recursive: true });
    writeFileSync(join(base, path), content);
  }
  return [...files.keys()];
}

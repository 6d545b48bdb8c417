/**
 * The web console's build (src/console, by Vite, into dist/console), so a fresh clone needs
 * nothing but `npm install && npm start`: npm's `prepare` (after every install) and
 * `npm start` run this with --if-stale, which builds when dist/console/index.html is missing
 * or older than a file of src/console. Vite is a devDependency: an install without them (the
 * image's `npm ci --omit=dev`, after it has built the console) has nothing to build with, and
 * --optional makes that a note rather than a failure.
 *
 *   node src/runtime/console-build.ts [--if-stale] [--optional]
 */
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

const root = join(import.meta.dirname, '..', '..');
export const consoleSources = join(root, 'src', 'console');
export const consoleOutput = join(root, 'dist', 'console');

function newestMtimeMs(dir: string): number {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    newest = Math.max(newest, entry.isDirectory() ? newestMtimeMs(path) : statSync(path).mtimeMs);
  }
  return newest;
}

/** Whether dist/console is missing or older than its sources. */
export function consoleIsStale(): boolean {
  let built: number;
  try {
    built = statSync(join(consoleOutput, 'index.html')).mtimeMs;
  } catch {
    return true;
  }
  return newestMtimeMs(consoleSources) > built;
}

/** Builds the console with Vite; false when Vite is not installed. */
export async function buildConsole(opts: { outDir?: string } = {}): Promise<boolean> {
  let vite: typeof import('vite');
  try {
    vite = await import('vite');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') return false;
    throw err;
  }
  await vite.build({
    configFile: join(consoleSources, 'vite.config.ts'),
    logLevel: 'warn',
    ...(opts.outDir === undefined ? {} : { build: { outDir: opts.outDir } }),
  });
  return true;
}

if (import.meta.main) {
  const args = process.argv.slice(2);
  if (args.includes('--if-stale') && !consoleIsStale()) process.exit(0);
  const started = Date.now();
  if (await buildConsole()) {
    console.log(`console built into dist/console in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  } else if (args.includes('--optional')) {
    console.log('console not built: Vite is not installed (an install without devDependencies); the gateway says so at /');
  } else {
    console.error('cannot build the console: Vite is not installed; run npm install (with devDependencies) first');
    process.exit(1);
  }
}

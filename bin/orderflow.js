#!/usr/bin/env node
// The `orderflow` command. The sources are TypeScript that Node runs directly from 22.18
// on (type stripping). On an older Node, run again with the Node 24 of the `node` npm
// package (a dependency of this project), so `npx orderflow up` works on any machine.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const [major, minor] = process.versions.node.split('.').map(Number);
const stripsTypes = major > 22 || (major === 22 && minor >= 18);

function bundledNode() {
  try {
    // Wherever npm put the package (here, or hoisted next to us).
    const pkg = createRequire(import.meta.url).resolve('node/package.json');
    const bin = join(dirname(pkg), 'bin', 'node');
    if (existsSync(bin)) return bin;
  } catch {
    // not installed: fall through
  }
  const local = fileURLToPath(new URL('../node_modules/.bin/node', import.meta.url));
  return existsSync(local) ? local : undefined;
}

if (stripsTypes) {
  const { main } = await import('../src/cli.ts');
  process.exitCode = await main(process.argv.slice(2));
} else {
  const node = bundledNode();
  if (!node) {
    console.error(`orderflow needs Node 22.18 or newer (this is ${process.version}); run npm install in ${fileURLToPath(new URL('..', import.meta.url))} to get Node 24`);
    process.exit(1);
  }
  const child = spawn(node, [fileURLToPath(import.meta.url), ...process.argv.slice(2)], { stdio: 'inherit' });
  // A terminal's Ctrl-C reaches the child directly (same process group); passing SIGINT on
  // as well would count as a second Ctrl-C. Other signals are for us to pass on.
  process.on('SIGINT', () => {});
  for (const signal of ['SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.once('error', (err) => {
    console.error(`orderflow: could not run ${node}: ${err.message}`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => process.exit(code ?? (signal === 'SIGINT' ? 130 : 1)));
}

/**
 * The local base image, for a machine that cannot pull one (CI here): Debian bookworm
 * (debootstrap minbase, with tini and ca-certificates), Node 24 from the npm `node` package
 * this repository already installs, npm from its registry tarball, and a `node` user (uid
 * 1000) as in the official image, imported into podman as one layer. Needs root, debootstrap
 * and podman; about two minutes.
 */
import { spawn } from 'node:child_process';
import { copyFileSync, chmodSync, mkdirSync, mkdtempSync, readdirSync, rmSync, symlinkSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { imageExists, podmanEnv } from '#runtime/infra/podman.ts';
import { InfraError, run } from '#runtime/infra/processes.ts';

/** The npm put into the base: the one the `node` package's Node 24 ships with, pinned. */
export const NPM_VERSION = '11.19.1';
export const DEFAULT_BASE = 'localhost/orderflow-base:node24';
const MIRROR = 'http://deb.debian.org/debian';

export interface BaseOptions {
  infraDir: string;
  /** The image to make; DEFAULT_BASE unless given. */
  ref?: string;
  say?: (line: string) => void;
}

/** Makes the base image unless podman already has it; resolves with its reference. */
export async function ensureBase(opts: BaseOptions): Promise<string> {
  const ref = opts.ref ?? DEFAULT_BASE;
  const say = opts.say ?? ((line: string) => void process.stderr.write(`${line}\n`));
  if (await imageExists(opts.infraDir, ref)) {
    say(`base: ${ref} is there`);
    return ref;
  }
  const work = join(opts.infraDir, 'containers');
  mkdirSync(work, { recursive: true });
  const tmp = mkdtempSync(join(work, 'base-'));
  const root = join(tmp, 'rootfs');
  try {
    const t0 = Date.now();
    say(`base: debootstrap bookworm into ${root}`);
    await run('debootstrap', ['--variant=minbase', '--include=tini,ca-certificates', 'bookworm', root, MIRROR]);
    // The same Node the repository's scripts run: the `node` package's binary.
    const node = join(dirname(createRequire(import.meta.url).resolve('node/package.json')), 'bin', 'node');
    copyFileSync(node, join(root, 'usr/local/bin/node'));
    chmodSync(join(root, 'usr/local/bin/node'), 0o755);
    await addNpm(root, tmp);
    await run('chroot', [root, 'groupadd', '--gid', '1000', 'node']);
    await run('chroot', [root, 'useradd', '--uid', '1000', '--gid', 'node', '--shell', '/bin/bash', '--create-home', 'node']);
    // What debootstrap and apt leave that an image does not need.
    for (const dir of ['var/cache/apt/archives', 'var/lib/apt/lists', 'tmp']) {
      for (const entry of readdirSync(join(root, dir))) if (entry !== 'partial' && entry !== 'lock') rmSync(join(root, dir, entry), { recursive: true, force: true });
    }
    say(`base: importing into podman as ${ref}`);
    await importRootfs(opts.infraDir, root, ref);
    say(`base: ${ref} made in ${Math.round((Date.now() - t0) / 1000)} s`);
    return ref;
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

/** npm from its registry tarball, where the official image has it: /usr/local/lib/node_modules/npm, linked from /usr/local/bin. */
async function addNpm(root: string, tmp: string): Promise<void> {
  const packed = (await run('npm', ['pack', `npm@${NPM_VERSION}`, '--silent', '--pack-destination', tmp], { capture: true })).trim().split('\n').pop()!;
  const dest = join(root, 'usr/local/lib/node_modules/npm');
  mkdirSync(dest, { recursive: true });
  await run('tar', ['-xzf', join(tmp, packed), '-C', dest, '--strip-components=1']);
  symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', join(root, 'usr/local/bin/npm'));
  symlinkSync('../lib/node_modules/npm/bin/npx-cli.js', join(root, 'usr/local/bin/npx'));
}

/** `tar -C root -c . | podman import - ref`, with the PATH an imported image otherwise lacks. */
function importRootfs(infraDir: string, root: string, ref: string): Promise<void> {
  return new Promise((resolve, reject) => {
    const tar = spawn('tar', ['-C', root, '--numeric-owner', '-c', '.'], { stdio: ['ignore', 'pipe', 'inherit'] });
    const imp = spawn('podman', ['import', '--change', 'ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', '-', ref], { env: podmanEnv(infraDir), stdio: [tar.stdout, 'ignore', 'inherit'] });
    let failed: Error | undefined;
    tar.once('close', (code) => {
      if (code !== 0) failed ??= InfraError(`tar of ${root} failed (exit ${code})`);
    });
    tar.once('error', (cause) => (failed ??= InfraError(`cannot run tar: ${cause.message}`, { cause })));
    imp.once('error', (cause) => reject(InfraError(`cannot run podman (apt-get install podman): ${cause.message}`, { cause })));
    imp.once('close', (code) => {
      if (failed) return reject(failed);
      if (code !== 0) return reject(InfraError(`podman import of ${root} as ${ref} failed (exit ${code})`));
      resolve();
    });
  });
}


/**
 * podman as orderflow drives it: the image's build (deploy/image), `orderflow up --image` and
 * the container tests. Its settings come from our own containers.conf in the infra dir,
 * handed over through CONTAINERS_CONF, so nothing under /etc is edited.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { inheritedEnv } from '../config.ts';
import { InfraError } from './processes.ts';

// crun (Debian's default) fails here on setrlimit and on the hybrid cgroup layout; runc does
// not. The limits are set, not inherited: the services' Kafka clients and pools want files.
const CONTAINERS_CONF = `# Written by orderflow (src/runtime/infra/podman.ts); podman reads it through CONTAINERS_CONF.
[containers]
default_ulimits = ["nofile=20000:20000", "nproc=4096:4096"]

[engine]
runtime = "runc"
`;

/** Where our containers.conf lives: `<infra dir>/containers/containers.conf`. */
export function containersConfFile(infraDir: string): string {
  return join(infraDir, 'containers', 'containers.conf');
}

/** Writes our containers.conf when it is missing or differs; returns its path. */
export function ensureContainersConf(infraDir: string): string {
  const file = containersConfFile(infraDir);
  let current: string | undefined;
  try {
    current = readFileSync(file, 'utf8');
  } catch {
    // not written yet
  }
  if (current !== CONTAINERS_CONF) {
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, CONTAINERS_CONF);
  }
  return file;
}

/**
 * The environment podman runs with: this process's, plus CONTAINERS_CONF naming our file
 * (written when missing). A CONTAINERS_CONF already set is the user's choice and is kept.
 */
export function podmanEnv(infraDir: string, env: Record<string, string> = inheritedEnv()): Record<string, string> {
  return env.CONTAINERS_CONF ? env : { ...env, CONTAINERS_CONF: ensureContainersConf(infraDir) };
}

/**
 * Runs `podman args...` to completion and resolves with its stdout; rejects with PLT_ERR_INFRA
 * and the last lines of its output when it fails. `inherit`: its output goes to our stderr,
 * for the long runs (a build) a person watches.
 */
export function podman(infraDir: string, args: readonly string[], opts: { inherit?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn('podman', args, { env: podmanEnv(infraDir), stdio: ['ignore', 'pipe', opts.inherit ? 2 : 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.on('data', (b: Buffer) => {
      out += b.toString();
      if (opts.inherit) process.stderr.write(b);
    });
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.once('error', (cause) => reject(InfraError(`cannot run podman (apt-get install podman): ${cause.message}`, { cause })));
    child.once('close', (code, signal) => {
      if (code === 0) return resolve(out);
      const tail = `${out}\n${err}`.trim().split('\n').slice(-15).join('\n');
      reject(InfraError(`podman ${args.join(' ')} failed (${signal ?? `exit ${code}`})${tail ? `:\n${tail}` : ''}`));
    });
  });
}

/** True when the image exists in podman's local storage. */
export async function imageExists(infraDir: string, ref: string): Promise<boolean> {
  return podman(infraDir, ['image', 'exists', ref]).then(() => true, () => false);
}

/** Force-removes every container carrying this label (`key=value`); resolves with how many there were. */
export async function removeLabelled(infraDir: string, label: string): Promise<number> {
  const ids = (await podman(infraDir, ['ps', '-aq', '--filter', `label=${label}`])).split('\n').filter(Boolean);
  if (ids.length > 0) await podman(infraDir, ['rm', '-f', '-t', '0', ...ids]);
  return ids.length;
}

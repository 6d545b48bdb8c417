/**
 * Every instance of the system as a container of the orderflow image (`orderflow up
 * --image`, the container end-to-end test): `podman run --rm --network host IMAGE <service>`
 * under the same supervisor, ports, environment and health checks as a process. The host's
 * network, so the addresses the system hands around (127.0.0.1:<port>, Kafka, PostgreSQL)
 * mean the same inside and out; the data directory mounted at the same path, so the paths in
 * the environment do too. The root filesystem is read-only: a service writes only there.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { chownSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { podmanEnv, removeLabelled } from './infra/podman.ts';
import type { ChildSpec } from './supervisor.ts';

/** The label every container of one system carries, for `podman ps --filter label=...` and the clean-up. */
export const SYSTEM_LABEL = 'orderflow.system';

/**
 * This process's own variables, which mean nothing (PATH, HOME) or the wrong thing (host
 * paths: NODE_OPTIONS, NODE_EXTRA_CA_CERTS, CONTAINERS_CONF) inside the image.
 */
const hostOnly = new Set(['PATH', 'HOME', 'HOSTNAME', 'PWD', 'OLDPWD', 'SHLVL', 'USER', 'LOGNAME', 'SHELL', 'TERM', 'TMPDIR', '_', 'NODE_OPTIONS', 'NODE_PATH', 'NODE_EXTRA_CA_CERTS', 'NODE_ENV', 'CONTAINERS_CONF', 'INIT_CWD', 'EDITOR', 'MAIL']);
const passed = (key: string) => !hostOnly.has(key) && !key.startsWith('npm_') && !key.startsWith('LC_') && !key.startsWith('SSH_') && !key.startsWith('XDG_');

export interface ContainerSystem {
  image: string;
  /** Unique to the system: in each container's name and in its SYSTEM_LABEL. */
  id: string;
  infraDir: string;
  dataDir: string;
  log?: (line: string) => void;
}

/**
 * The data directory writable by the container's user: the image's `node` (uid 1000) when
 * podman runs as root (the host's root stays out of the container), this user's own uid when
 * it does not (rootless: keep-id maps it to itself, so the files stay the user's).
 */
export function containerUser(sys: ContainerSystem): string[] {
  const uid = process.getuid?.() ?? 0;
  if (uid !== 0) return ['--userns=keep-id', '--user', `${uid}:${process.getgid?.() ?? uid}`];
  chownTree(sys.dataDir, 1000, 1000);
  return [];
}

function chownTree(path: string, uid: number, gid: number): void {
  chownSync(path, uid, gid);
  for (const entry of readdirSync(path, { withFileTypes: true })) {
    if (entry.isDirectory()) chownTree(join(path, entry.name), uid, gid);
    else chownSync(join(path, entry.name), uid, gid);
  }
}

/**
 * What the supervisor runs for one instance: podman with the instance's environment (each
 * variable passed by name, `-e KEY`, so values such as keys and passwords are not in any
 * process's arguments), and a signal path that reaches the container: podman proxies
 * SIGTERM to it, but SIGKILL would end only the client, so that one is `podman kill`.
 */
export function containerSpec(sys: ContainerSystem, instance: string, service: string, env: Record<string, string>, user: string[]): Pick<ChildSpec, 'command' | 'env' | 'signal'> {
  const name = containerName(sys, instance);
  const keys = Object.keys(env).filter(passed);
  const command = [
    'podman', 'run', '--rm', '--replace', '--name', name,
    '--label', `${SYSTEM_LABEL}=${sys.id}`, '--label', `orderflow.instance=${instance}`,
    '--network', 'host', '--read-only', '--volume', `${sys.dataDir}:${sys.dataDir}`,
    // The supervisor probes readiness itself; podman's timer for the image's HEALTHCHECK needs systemd.
    '--no-healthcheck',
    ...user,
    ...keys.flatMap((key) => ['--env', key]),
    sys.image, service,
  ];
  const signal = (sig: NodeJS.Signals, proc: ChildProcess) => {
    if (sig !== 'SIGKILL') return void proc.kill(sig);
    const killer = spawn('podman', ['kill', '--signal', 'KILL', name], { env: podmanEnv(sys.infraDir), stdio: 'ignore' });
    killer.once('error', (err) => sys.log?.(`[container] podman kill ${name} failed: ${err.message}`));
    // Should podman be unable to, the client at least goes, and the clean-up removes the container.
    killer.once('close', (code) => code === 0 || proc.kill('SIGKILL'));
  };
  return { command, env: podmanEnv(sys.infraDir, env), signal };
}

export const containerName = (sys: ContainerSystem, instance: string): string => `orderflow-${sys.id}-${instance}`;

/** Removes whatever is left of the system's containers (after a kill that podman could not proxy, a crash of ours). */
export async function removeContainers(sys: ContainerSystem): Promise<void> {
  const n = await removeLabelled(sys.infraDir, `${SYSTEM_LABEL}=${sys.id}`).catch((err) => {
    sys.log?.(`[container] removing the containers of ${sys.id} failed: ${(err as Error).message}`);
    return 0;
  });
  if (n > 0) sys.log?.(`[container] removed ${n} container(s) left of system ${sys.id}`);
}

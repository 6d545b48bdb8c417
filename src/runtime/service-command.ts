/**
 * `orderflow service <name>`: one service in this process, on its own. The image's
 * entrypoint (deploy/Dockerfile), so `podman run IMAGE orders` runs orders; on a laptop it
 * runs one service by hand, configured by its environment as `orderflow up` would set it.
 *
 * `--ready` is the image's HEALTHCHECK: exit 0 when the service in this container answers
 * 200 on /health/ready at PORT, or, without PORT, at the default port of the service that the
 * container's PID 1 (tini -- node src/cli.ts service <name>) runs. Run directly by node (not
 * through cli.ts), it loads no more than it needs, as it runs every interval.
 */
import { readFileSync } from 'node:fs';
import { defineError } from '#platform/errors.ts';
import { loadRuntimeConfig } from './config.ts';
import { probe } from './supervisor.ts';
import { defaultPorts, serviceNames, type ServiceName } from './services.ts';

export const UnknownService = defineError('PLT_ERR_UNKNOWN_SERVICE', 400);

export const SERVICE_USAGE = `  service <name>
        Run one service in this process (the container image's entrypoint): ${serviceNames.join(', ')}.
        Settings from the environment (PORT, HOST, ORDERFLOW_BUS, ORDERFLOW_STORE, KAFKA_BROKERS, DATABASE_URL...).
  service --ready
        Exit 0 when the service of this container answers 200 on /health/ready (the image's HEALTHCHECK).`;

const isService = (name: string | undefined): name is ServiceName => serviceNames.includes(name as ServiceName);

export async function serviceCommand(args: string[]): Promise<number> {
  const [name] = args;
  if (name === '--ready') return ready();
  if (!isService(name)) throw UnknownService(`${name ? `no service named "${name}"` : 'no service named'}; the services are ${serviceNames.join(', ')}`);
  // A service's main starts it on import and runs until a signal ends it.
  await import(new URL(`../services/${name}/main.ts`, import.meta.url).href);
  return 0;
}

async function ready(): Promise<number> {
  const port = loadRuntimeConfig().servicePort ?? defaultPortOfPid1();
  if (!port) {
    process.stderr.write('orderflow service --ready: PORT is not set and PID 1 runs no known service\n');
    return 1;
  }
  const status = await probe(`http://127.0.0.1:${port}/health/ready`, 4_000);
  if (status === 200) return 0;
  process.stderr.write(`orderflow service --ready: /health/ready at port ${port} answered ${status ?? 'nothing'}\n`);
  return 1;
}

/** The default port of the service PID 1's command line names last (the image's entrypoint); undefined elsewhere. */
function defaultPortOfPid1(): string | undefined {
  let argv: string[];
  try {
    argv = readFileSync('/proc/1/cmdline', 'utf8').split('\0').filter(Boolean);
  } catch {
    return undefined;
  }
  const name = argv.at(-1);
  return isService(name) ? String(defaultPorts[name]) : undefined;
}

if (import.meta.main) process.exitCode = await serviceCommand(process.argv.slice(2));

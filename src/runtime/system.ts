/**
 * The whole system on one machine: every service its own OS process under one supervisor,
 * as `orderflow up` runs it and as the end-to-end tests drive it.
 *
 * Replicas: with `replicas` N > 1 each backend service runs as N instances (orders-1,
 * orders-2, ...), each on its own port with its own stable ORDERFLOW_INSTANCE, sharing the
 * service's database and consumer group; every URL setting lists them all
 * (ORDERS_URL=http://a,http://b) and the callers balance across them
 * (platform/resilience/balanced-upstream.ts). The gateway stays one: it holds no state, and
 * what is in front of it (a user's browser, the lab) knows one address; a second gateway
 * would need a balancer of its own in front, which is what a Kubernetes Service is for.
 */
import { createLogger } from '#platform/log.ts';
import { startLabServer } from './lab-server.ts';
import { randomBytes } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { defineError } from '#platform/errors.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { registerOutboxConnector, removeOutboxConnector, type OutboxConnectorTarget } from '#platform/bus/debezium.ts';
import { inheritedEnv } from './config.ts';
import { startArchive, type ArchiveOptions, type RunningArchive } from './archive.ts';
import { clearPrometheusTargets, serviceTargets, writePrometheusTargets } from './infra/prometheus-targets.ts';
import { ensureDemoUsers, signingKeyEnv, type DemoUsers } from './demo-users.ts';
import { ChildStartFailed, createSupervisor, freePorts, probe, type ChildSpec, type Stdio } from './supervisor.ts';
import { containerSpec, containerUser, removeContainers, SYSTEM_LABEL, type ContainerSystem } from './container.ts';
import { infraDir } from './infra/config.ts';
import { bindListenSocket, type ListenSocket } from './listen-sockets.ts';
import { rollOut, RolloutRefused, type RolloutReport } from './rollout.ts';

import { defaultPorts, serviceNames, type ServiceName } from './services.ts';

// In a module of their own so the image's health check loads only them (service-command.ts).
export { defaultPorts, serviceNames, type ServiceName };
/** Every service on a free port: for the lab's and the tests' systems, which must not collide with one a user runs. */
export const freePortsForAll: Readonly<Record<ServiceName, number>> = Object.freeze(Object.fromEntries(serviceNames.map((n) => [n, 0])) as Record<ServiceName, number>);
/** The services that own a database (the gateway keeps none; ingestion's store is the log). */
export const databaseServices: readonly ServiceName[] = serviceNames.filter((n) => n !== 'gateway' && n !== 'ingestion');

export const FaultInjectionFailed = defineError('PLT_ERR_FAULT_INJECTION_FAILED', 500);
export const UnknownInstance = defineError('PLT_ERR_UNKNOWN_INSTANCE', 400);

/** One running process of a service. */
export interface Instance {
  /** orders-1, orders-2 with replicas; the service's own name when it runs alone (and for the gateway). */
  name: string;
  service: ServiceName;
  url: string;
  /** Where its /metrics is: its own url for a service; the gateway's internal listener (GATEWAY_METRICS_PORT) for the gateway. */
  metricsUrl: string;
}

/** The name of instance `index` (0-based) of a service that runs `replicas` instances. */
export function instanceName(service: ServiceName, index: number, replicas: number): string {
  return replicas === 1 || service === 'gateway' ? service : `${service}-${index + 1}`;
}

/** The gateway's internal /metrics port (its public port answers 404 there). */
export const defaultGatewayMetricsPort = 9080;

/**
 * The gateway's rate limits off. For the runs that drive thousands of orders a second
 * through one token from one address (the lab, bench, chaos, soak, the end-to-end tests):
 * each sets it in its env, on purpose. `orderflow up` keeps the limits on.
 */
export const unlimitedGateway: Readonly<Record<string, string>> = Object.freeze({ GATEWAY_RATE_LIMIT_PER_MINUTE: '0', GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE: '0' });

// The backends together (each creates only its own database, topic creation is idempotent
// and the embedded log takes concurrent openers), then the gateway, once there is
// something behind it. Starting them together halves the start on Kafka + PostgreSQL.
const startWaves: ServiceName[][] = [['inventory', 'orders', 'payments', 'shipping', 'users', 'notifications', 'ingestion', 'analytics', 'cart'], ['gateway']];

export interface SystemOptions {
  dataDir: string;
  /** Laid over this process's environment for every service: ORDERFLOW_BUS, ORDERFLOW_STORE, KAFKA_BROKERS, DATABASE_URL, LOG_LEVEL... */
  env?: Record<string, string>;
  /** 0 picks a free port. With replicas, the first instance's; the others take free ports. */
  ports?: Partial<Record<ServiceName, number>>;
  /** The gateway's /metrics port: 0 picks a free one; by default a free one when the gateway's port is picked so, 9080 otherwise. */
  gatewayMetricsPort?: number;
  /** Instances of each backend service (default 1); the gateway is one (see above). */
  replicas?: number;
  restart?: boolean;
  /** Opens each service's /_faults (ORDERFLOW_FAULTS=1), for setLatency. */
  faults?: boolean;
  log?: (line: string) => void;
  stdio?: Stdio;
  startTimeoutMs?: number;
  /**
   * ORDERFLOW_RELAY=debezium: keep the replication slots when the system stops, so what the
   * services commit before their connectors are back (a restart with consumer lag) is still
   * published. For a deployment that lives on (`orderflow up`); a throwaway namespace (the
   * lab, tests) drops them, or they would keep its WAL forever.
   */
  keepOutboxSlots?: boolean;
  /**
   * Lists every service's /metrics address in this Prometheus file_sd target file once they
   * are all up (label `service`, plus `labels`: arch, deployment) and empties it when the
   * system stops. For `orderflow up`; the lab and tests leave a developer's file alone.
   */
  prometheusTargets?: { file: string; labels: Record<string, string> };
  /**
   * Keeps the event archive (runtime/archive.ts) while the system runs: from once every
   * service is up (the topics exist) until it stops. Off unless given: `orderflow up` gives it.
   */
  archive?: ArchiveOptions;
  /**
   * Runs every instance as a container of this image (deploy/Dockerfile) instead of a process:
   * `podman run --rm --network host ... <image> <service>` (runtime/container.ts). Same ports,
   * environment, health checks, replicas, kill and stop.
   */
  image?: string;
  /**
   * Serves quick lab runs (runtime/lab-server.ts) to the gateway, which the console's Lab
   * page starts and reads; runs and their reports in `dir`. Off unless given: `orderflow up`
   * gives it.
   */
  lab?: { dir: string };
}

/**
 * A service's name stands for its first instance (what a system of one instance each had),
 * an instance's name (orders-2) for itself; an unknown name throws PLT_ERR_UNKNOWN_INSTANCE.
 */
export type Target = ServiceName | (string & {});

export interface System {
  gatewayUrl: string;
  /** The demo customer and admin the users service was seeded with (demo-users.ts). */
  demoUsers: DemoUsers;
  /** The archive, when the system was started with one: where, by whom, which topics. */
  archive?: Pick<RunningArchive, 'dir' | 'via' | 'topics'>;
  /** With an image: the label (orderflow.system=<id>) every container of this system carries. */
  containerLabel?: string;
  /** Each service's first instance. */
  urls: Record<ServiceName, string>;
  /** Where each service's first instance serves /metrics (the gateway: its internal port, not gatewayUrl). */
  metricsUrls: Record<ServiceName, string>;
  /** Every instance, the gateway first, then each service's in order. */
  instances(): Instance[];
  pid(name: Target): number | undefined;
  /** Kills one instance (SIGKILL by default); the supervisor restarts it when restart is on. */
  kill(name: Target, signal?: NodeJS.Signals): void;
  /**
   * kill -9 of one instance now, started again restartAfterMs later (not earlier, whatever the
   * restart setting); resolves once it is healthy again and its consumers have joined their
   * groups. Attach a catch when not awaiting it.
   */
  crash(name: Target, restartAfterMs: number): Promise<void>;
  /**
   * Makes one service slow, every instance of it (or one instance, named): every request and
   * consumed batch waits `ms` (0 ends it). Needs the system started with faults
   * (ORDERFLOW_FAULTS=1); the gateway has no such switch.
   */
  setLatency(name: Target, ms: number): Promise<void>;
  /**
   * Makes one service's handlers of these message types fail on every attempt, so the
   * consumer dead-letters them ([] ends it). Needs the system started with faults; every
   * instance of the service (or one instance, named).
   */
  failMessages(name: Target, types: string[]): Promise<void>;
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** Restarts of one instance (a service's name: its first), or of all of a service's with `{ all: true }`. */
  restarts(name: Target, opts?: { all?: boolean }): number;
  /**
   * Restarts every instance one by one, no request of a caller failing (rollout.ts): each
   * backend instance drained, stopped, started, awaited ready and in its consumer groups;
   * the gateway last, a new process beside the old one. Needs replicas >= 2.
   */
  rollout(opts?: { log?: (line: string) => void; services?: readonly string[]; settleMs?: number }): Promise<RolloutReport>;
  /** Gateway first, then the services; SIGTERM, SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

const mainOf = (name: ServiceName) => fileURLToPath(new URL(`../services/${name}/main.ts`, import.meta.url));

export async function startSystem(opts: SystemOptions): Promise<System> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const replicas = opts.replicas ?? 1;
  if (!Number.isInteger(replicas) || replicas < 1) throw UnknownInstance(`replicas must be a whole number >= 1; got ${replicas}`);
  const wanted = (service: ServiceName, index: number) => (index === 0 ? (opts.ports?.[service] ?? defaultPorts[service]) : 0);
  const layout = serviceNames.flatMap((service) => Array.from({ length: service === 'gateway' ? 1 : replicas }, (_, index) => ({ service, index })));
  const wantedMetrics = opts.gatewayMetricsPort ?? (wanted('gateway', 0) === 0 ? 0 : defaultGatewayMetricsPort);
  // The gateway's sockets are this process's, handed to each gateway process it starts, so a
  // rollout replaces the gateway without refusing a connection (listen-sockets.ts). Not with
  // containers: a container's gateway binds its own ports, and a rollout restarts it in place.
  const gatewaySockets: ListenSocket[] = [];
  const closeGatewaySockets = () => gatewaySockets.splice(0).forEach((socket) => socket.close());
  if (!opts.image) {
    gatewaySockets.push(bindListenSocket('127.0.0.1', wanted('gateway', 0)));
    try {
      gatewaySockets.push(bindListenSocket('127.0.0.1', wantedMetrics));
    } catch (err) {
      closeGatewaySockets();
      throw err;
    }
  }
  const [gatewaySocket, gatewayMetricsSocket] = gatewaySockets as Array<ListenSocket | undefined>;
  const free = await freePorts(layout.filter(({ service, index }) => (service !== 'gateway' || !gatewaySocket) && wanted(service, index) === 0).length + (!gatewayMetricsSocket && wantedMetrics === 0 ? 1 : 0));
  const gatewayMetricsPort = gatewayMetricsSocket?.port ?? (wantedMetrics || free.pop()!);
  const instances: Instance[] = layout.map(({ service, index }) => {
    const port = service === 'gateway' && gatewaySocket ? gatewaySocket.port : wanted(service, index) || free.shift()!;
    const url = `http://127.0.0.1:${port}`;
    return { name: instanceName(service, index, replicas), service, url, metricsUrl: service === 'gateway' ? `http://127.0.0.1:${gatewayMetricsPort}` : url };
  });
  const of = (service: ServiceName) => instances.filter((i) => i.service === service);
  const urls = Object.fromEntries(serviceNames.map((n) => [n, of(n)[0].url])) as Record<ServiceName, string>;
  const metricsUrls = Object.fromEntries(serviceNames.map((n) => [n, of(n)[0].metricsUrl])) as Record<ServiceName, string>;
  const env = { ...inheritedEnv(), ...opts.env };
  const demoUsers = ensureDemoUsers(dataDir);
  const base = {
    ...env,
    ...(await signingKeyEnv(dataDir, env)),
    USERS_SEED_FILE: demoUsers.file,
    ...(opts.faults ? { ORDERFLOW_FAULTS: '1' } : {}),
    HOST: '127.0.0.1',
    ORDERFLOW_DATA_DIR: dataDir,
    ORDERFLOW_REPLICAS: String(replicas),
    ORDERS_URL: of('orders').map((i) => i.url).join(','),
    INVENTORY_URL: of('inventory').map((i) => i.url).join(','),
    PAYMENTS_URL: of('payments').map((i) => i.url).join(','),
    SHIPPING_URL: of('shipping').map((i) => i.url).join(','),
    USERS_URL: of('users').map((i) => i.url).join(','),
    NOTIFICATIONS_URL: of('notifications').map((i) => i.url).join(','),
    INGESTION_URL: of('ingestion').map((i) => i.url).join(','),
    ANALYTICS_URL: of('analytics').map((i) => i.url).join(','),
    CART_URL: of('cart').map((i) => i.url).join(','),
  };
  // With an image, each instance a container of it; otherwise a process of this Node.
  const containers: ContainerSystem | undefined = opts.image ? { image: opts.image, id: randomBytes(4).toString('hex'), infraDir: infraDir(env), dataDir, log: opts.log } : undefined;
  const containerUserArgs = containers ? containerUser(containers) : [];
  const childOf = (i: Instance, childEnv: Record<string, string>): ChildSpec => ({
    name: i.name,
    healthUrl: `${i.url}/health/ready`,
    ...(containers ? containerSpec(containers, i.name, i.service, childEnv, containerUserArgs) : { script: mainOf(i.service), env: childEnv }),
  });
  const byName = new Map(instances.map((i) => [i.name, i]));
  // A service's name is its first instance; an instance's name, itself.
  const find = (name: string): Instance => {
    const found = byName.get(name) ?? (serviceNames.includes(name as ServiceName) ? of(name as ServiceName)[0] : undefined);
    if (!found) throw UnknownInstance(`no instance named ${name}; there are ${[...byName.keys()].join(', ')}`);
    return found;
  };
  // Faults go to every instance of a service named, or to the one instance named.
  const faultTargets = (name: string): Instance[] => (byName.has(name) ? [find(name)] : serviceNames.includes(name as ServiceName) ? of(name as ServiceName) : [find(name)]);

  const supervisor = createSupervisor({ restart: opts.restart, log: opts.log, stdio: opts.stdio, startTimeoutMs: opts.startTimeoutMs });
  const connectors = outboxConnectors(base);
  const removeConnectors = async () => {
    for (const c of connectors) await removeOutboxConnector(c, { keepSlot: opts.keepOutboxSlots }).catch((err) => opts.log?.(`system: removing connector ${c.database} failed: ${(err as Error).message}`));
  };
  let archive: RunningArchive | undefined;
  const lab = opts.lab ? await startLabServer({ dir: opts.lab.dir, log: createLogger('lab', 'warn') }) : undefined;
  const consumersJoined = (list: Instance[], timeoutMs = opts.startTimeoutMs ?? 60_000) => Promise.all(list.filter((i) => i.service !== 'gateway').map((i) => untilJoined(i, timeoutMs)));
  try {
    for (const wave of startWaves) {
      const members = instances.filter((i) => wave.includes(i.service));
      const started = await Promise.allSettled(members.map((i) =>
        supervisor.start({
          ...childOf(i, { ...base, ...instanceEnv(i, gatewaySocket !== undefined, lab?.url) }),
          ...(i.service === 'gateway' && gatewaySocket && gatewayMetricsSocket ? { fds: [gatewaySocket.fd, gatewayMetricsSocket.fd] } : {}),
        })));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      // Ready is "the routes serve"; a system that starts also has its consumers in their groups.
      await consumersJoined(members);
      // The services have created their databases and outbox tables: capture them before anyone takes a request.
      if (wave.includes('orders')) await Promise.all(connectors.map((c) => registerOutboxConnector(c)));
    }
    // Its lines where the supervisor's go: the log given, else the terminal of `orderflow up`.
    if (opts.archive) archive = await startArchive(base, opts.archive, opts.log ?? (opts.stdio === 'inherit' ? (line) => process.stderr.write(`${line}\n`) : undefined));
    if (opts.prometheusTargets) writePrometheusTargets(opts.prometheusTargets.file, serviceTargets(Object.fromEntries(serviceNames.map((n) => [n, of(n).map((i) => i.metricsUrl)])), opts.prometheusTargets.labels));
  } catch (err) {
    await supervisor.stop();
    closeGatewaySockets();
    if (containers) await removeContainers(containers);
    await archive?.stop();
    await removeConnectors();
    await lab?.close();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  let rolling: Promise<RolloutReport> | undefined;
  return {
    gatewayUrl: urls.gateway,
    demoUsers,
    ...(archive ? { archive: { dir: archive.dir, via: archive.via, topics: archive.topics } } : {}),
    ...(containers ? { containerLabel: `${SYSTEM_LABEL}=${containers.id}` } : {}),
    urls,
    metricsUrls,
    instances: () => instances.map((i) => ({ ...i })),
    pid: (name) => supervisor.pid(find(name).name),
    kill: (name, signal = 'SIGKILL') => supervisor.kill(find(name).name, signal),
    async crash(name, restartAfterMs) {
      const target = find(name);
      await supervisor.crash(target.name, restartAfterMs);
      await consumersJoined([target]);
    },
    setLatency: (name, ms) => Promise.all(faultTargets(name).map((i) => putFaults(i.url, i.name, { latencyMs: ms }))).then(() => undefined),
    failMessages: (name, types) => Promise.all(faultTargets(name).map((i) => putFaults(i.url, i.name, { failTypes: types }))).then(() => undefined),
    waitHealthy: (timeoutMs) => supervisor.waitHealthy(timeoutMs),
    restarts: (name, restartOpts) => (restartOpts?.all && serviceNames.includes(name as ServiceName) ? of(name as ServiceName) : [find(name)]).reduce((n, i) => n + supervisor.restarts(i.name), 0),
    rollout(rolloutOpts = {}) {
      if (rolling) return Promise.reject(RolloutRefused('a rollout is already running'));
      if (stopping) return Promise.reject(RolloutRefused('the system is stopping'));
      rolling = rollOut({
        instances,
        services: rolloutOpts.services,
        surgeGateway: gatewaySocket !== undefined,
        settleMs: rolloutOpts.settleMs,
        replace: (name, replaceOpts) => supervisor.replace(name, replaceOpts),
        joined: (name) => consumersJoined([find(name)]).then(() => undefined),
        say: rolloutOpts.log ?? opts.log ?? (() => {}),
      }).finally(() => {
        rolling = undefined;
      });
      return rolling;
    },
    stop() {
      // Unlisted first: a service stopped on purpose is not a service down for Prometheus.
      if (opts.prometheusTargets && !stopping) clearPrometheusTargets(opts.prometheusTargets.file);
      // The connectors go last: a dropped slot must not miss a last commit of a service. The
      // archive after the services: what they published last is archived now or at the next start.
      stopping ??= supervisor.stopChild('gateway').then(() => supervisor.stop()).finally(async () => {
        closeGatewaySockets();
        if (containers) await removeContainers(containers);
        await archive?.stop().catch((err) => opts.log?.(`system: stopping the archive failed: ${(err as Error).message}`));
        await removeConnectors();
        await lab?.close();
      });
      return stopping;
    },
  };
}

/** An instance's own settings: its port, its name, and the gateway's metrics port (and sockets, when `held`). */
function instanceEnv(i: Instance, held: boolean, labUrl: string | undefined): Record<string, string> {
  const env: Record<string, string> = { PORT: String(new URL(i.url).port), ORDERFLOW_INSTANCE: i.name };
  if (i.service === 'gateway') {
    env.GATEWAY_METRICS_PORT = new URL(i.metricsUrl).port;
    if (labUrl) env.GATEWAY_LAB_URL = labUrl;
    // The supervisor's sockets (ChildSpec.fds): after stdin, stdout, stderr and the IPC channel.
    if (held) Object.assign(env, { GATEWAY_LISTEN_FD: '4', GATEWAY_METRICS_LISTEN_FD: '5' });
  }
  return env;
}

/** Waits until the instance's consumers are members of their groups (/health/consumers answers 200). */
async function untilJoined(instance: Instance, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: number | undefined;
  while (Date.now() < deadline) {
    last = await probe(`${instance.url}/health/consumers`, 1_000);
    if (last === 200) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw ChildStartFailed(`${instance.name}'s consumers did not join their groups within ${timeoutMs} ms (last answer ${last ?? 'none'})`);
}

/** With ORDERFLOW_RELAY=debezium, a connector per service database; none otherwise. */
function outboxConnectors(env: Record<string, string>): OutboxConnectorTarget[] {
  // Other deployments are not validated here: their services report their own settings' mistakes.
  if (env.ORDERFLOW_RELAY !== 'debezium') return [];
  const platform = loadPlatformConfig(env);
  return databaseServices.map((n) => ({
    connectUrl: platform.connectUrl!,
    databaseUrl: platform.databaseUrl!,
    database: serviceDatabaseName(platform.namespace, n),
    namespace: platform.namespace,
  }));
}

async function putFaults(url: string, name: string, faults: { latencyMs?: number; failTypes?: string[] }): Promise<void> {
  const what = faults.latencyMs !== undefined ? `set ${name}'s latency to ${faults.latencyMs} ms` : `make ${name}'s handlers of [${faults.failTypes?.join(', ')}] fail`;
  let status: number;
  let text: string;
  try {
    const res = await request(`${url}/_faults`, {
      method: 'PUT',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify(faults),
      headersTimeout: 5_000,
      bodyTimeout: 5_000,
    });
    status = res.statusCode;
    text = await res.body.text();
  } catch (err) {
    throw FaultInjectionFailed(`could not ${what}: ${(err as Error).message}`, { cause: err });
  }
  if (status === 404) throw FaultInjectionFailed(`${name} has no /_faults: only the services behind the gateway have one, with the system started with faults (ORDERFLOW_FAULTS=1)`);
  if (status !== 200) throw FaultInjectionFailed(`could not ${what}: ${status} ${text}`);
}

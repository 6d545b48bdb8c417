/**
 * The whole system on one machine: every service its own OS process under one supervisor,
 * as `orderflow up` runs it and as the end-to-end tests drive it.
 */
import { mkdirSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { defineError } from '#platform/errors.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { registerOutboxConnector, removeOutboxConnector, type OutboxConnectorTarget } from '#platform/bus/debezium.ts';
import { inheritedEnv } from './config.ts';
import { clearPrometheusTargets, serviceTargets, writePrometheusTargets } from './infra/prometheus-targets.ts';
import { createSupervisor, freePorts, type Stdio } from './supervisor.ts';

export const serviceNames = ['gateway', 'orders', 'inventory', 'payments', 'shipping'] as const;
export type ServiceName = (typeof serviceNames)[number];

export const FaultInjectionFailed = defineError('PLT_ERR_FAULT_INJECTION_FAILED', 500);

export const defaultPorts: Readonly<Record<ServiceName, number>> = Object.freeze({ gateway: 8080, orders: 8081, inventory: 8082, payments: 8083, shipping: 8084 });

// The backends together (each creates only its own database, topic creation is idempotent
// and the embedded log takes concurrent openers), then the gateway, once there is
// something behind it. Starting them together halves the start on Kafka + PostgreSQL.
const startWaves: ServiceName[][] = [['inventory', 'orders', 'payments', 'shipping'], ['gateway']];

export interface SystemOptions {
  dataDir: string;
  /** Laid over this process's environment for every service: ORDERFLOW_BUS, ORDERFLOW_STORE, KAFKA_BROKERS, DATABASE_URL, LOG_LEVEL... */
  env?: Record<string, string>;
  /** 0 picks a free port. */
  ports?: Partial<Record<ServiceName, number>>;
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
}

export interface System {
  gatewayUrl: string;
  urls: Record<ServiceName, string>;
  pid(name: ServiceName): number | undefined;
  /** Kills one service (SIGKILL by default); the supervisor restarts it when restart is on. */
  kill(name: ServiceName, signal?: NodeJS.Signals): void;
  /**
   * kill -9 of one service now, started again restartAfterMs later (not earlier, whatever the
   * restart setting); resolves once it is healthy again. Attach a catch when not awaiting it.
   */
  crash(name: ServiceName, restartAfterMs: number): Promise<void>;
  /**
   * Makes one service slow: every request and consumed batch waits `ms` (0 ends it). Needs
   * the system started with faults (ORDERFLOW_FAULTS=1); the gateway has no such switch.
   */
  setLatency(name: ServiceName, ms: number): Promise<void>;
  /**
   * Makes one service's handlers of these message types fail on every attempt, so the
   * consumer dead-letters them ([] ends it). Needs the system started with faults.
   */
  failMessages(name: ServiceName, types: string[]): Promise<void>;
  waitHealthy(timeoutMs?: number): Promise<void>;
  restarts(name: ServiceName): number;
  /** Gateway first, then the services; SIGTERM, SIGKILL after 20 s. Idempotent. */
  stop(): Promise<void>;
}

const mainOf = (name: ServiceName) => fileURLToPath(new URL(`../services/${name}/main.ts`, import.meta.url));

export async function startSystem(opts: SystemOptions): Promise<System> {
  const dataDir = resolve(opts.dataDir);
  mkdirSync(dataDir, { recursive: true });
  const ports = {} as Record<ServiceName, number>;
  const free = await freePorts(serviceNames.filter((name) => (opts.ports?.[name] ?? defaultPorts[name]) === 0).length);
  for (const name of serviceNames) {
    const wanted = opts.ports?.[name] ?? defaultPorts[name];
    ports[name] = wanted === 0 ? free.shift()! : wanted;
  }
  const urls = Object.fromEntries(serviceNames.map((n) => [n, `http://127.0.0.1:${ports[n]}`])) as Record<ServiceName, string>;
  const base = {
    ...inheritedEnv(),
    ...opts.env,
    ...(opts.faults ? { ORDERFLOW_FAULTS: '1' } : {}),
    HOST: '127.0.0.1',
    ORDERFLOW_DATA_DIR: dataDir,
    ORDERS_URL: urls.orders,
    INVENTORY_URL: urls.inventory,
    PAYMENTS_URL: urls.payments,
    SHIPPING_URL: urls.shipping,
  };

  const supervisor = createSupervisor({ restart: opts.restart, log: opts.log, stdio: opts.stdio, startTimeoutMs: opts.startTimeoutMs });
  const connectors = outboxConnectors(base);
  const removeConnectors = async () => {
    for (const c of connectors) await removeOutboxConnector(c, { keepSlot: opts.keepOutboxSlots }).catch((err) => opts.log?.(`system: removing connector ${c.database} failed: ${(err as Error).message}`));
  };
  try {
    for (const wave of startWaves) {
      const started = await Promise.allSettled(wave.map((name) =>
        supervisor.start({ name, script: mainOf(name), env: { ...base, PORT: String(ports[name]) }, healthUrl: `${urls[name]}/health/ready` })));
      const failed = started.find((r) => r.status === 'rejected');
      if (failed) throw failed.reason;
      // The services have created their databases and outbox tables: capture them before anyone takes a request.
      if (wave.includes('orders')) await Promise.all(connectors.map((c) => registerOutboxConnector(c)));
    }
    if (opts.prometheusTargets) writePrometheusTargets(opts.prometheusTargets.file, serviceTargets(urls, opts.prometheusTargets.labels));
  } catch (err) {
    await supervisor.stop();
    await removeConnectors();
    throw err;
  }

  let stopping: Promise<void> | undefined;
  return {
    gatewayUrl: urls.gateway,
    urls,
    pid: (name) => supervisor.pid(name),
    kill: (name, signal = 'SIGKILL') => supervisor.kill(name, signal),
    crash: (name, restartAfterMs) => supervisor.crash(name, restartAfterMs),
    setLatency: (name, ms) => putFaults(urls[name], name, { latencyMs: ms }),
    failMessages: (name, types) => putFaults(urls[name], name, { failTypes: types }),
    waitHealthy: (timeoutMs) => supervisor.waitHealthy(timeoutMs),
    restarts: (name) => supervisor.restarts(name),
    stop() {
      // Unlisted first: a service stopped on purpose is not a service down for Prometheus.
      if (opts.prometheusTargets && !stopping) clearPrometheusTargets(opts.prometheusTargets.file);
      // The connectors go last: a dropped slot must not miss a last commit of a service.
      stopping ??= supervisor.stopChild('gateway').then(() => supervisor.stop()).finally(removeConnectors);
      return stopping;
    },
  };
}

/** With ORDERFLOW_RELAY=debezium, a connector per service database; none otherwise. */
function outboxConnectors(env: Record<string, string>): OutboxConnectorTarget[] {
  // Other deployments are not validated here: their services report their own settings' mistakes.
  if (env.ORDERFLOW_RELAY !== 'debezium') return [];
  const platform = loadPlatformConfig(env);
  return serviceNames.filter((n) => n !== 'gateway').map((n) => ({
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

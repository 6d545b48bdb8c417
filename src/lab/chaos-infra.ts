/**
 * A Kafka broker (or, for --kill-leader, a cluster of three KRaft nodes) and a PostgreSQL
 * server of chaos's own, for --restart-broker and --restart-postgres: on free ports in a
 * temporary folder, restarted or killed under load, stopped and removed at the end. The shared KAFKA_BROKERS and DATABASE_URL are never restarted:
 * other people's work runs on them. Kafka's jars come from the infra cache
 * (ORDERFLOW_INFRA_DIR) when it has them, rather than fetched again.
 */
import { chmodSync, copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { kafkaInfra, kafkaPaths } from '#runtime/infra/kafka.ts';
import { clusterNodePid, clusterPaths, kafkaClusterInfra } from '#runtime/infra/kafka-cluster.ts';
import { postgresInfra } from '#runtime/infra/postgres.ts';
import { InfraError, pidAlive, portOpen, waitFor, type InfraState } from '#runtime/infra/processes.ts';

export interface OwnServer {
  /** KAFKA_BROKERS or DATABASE_URL. */
  address: string;
  /** Stops it, waits `downMs`, starts it again; resolves once it answers. */
  restart(downMs: number): Promise<void>;
}

/** A cluster of KRaft nodes of the run's own. */
export interface OwnCluster {
  /** KAFKA_BROKERS: every node. */
  address: string;
  /** SIGKILLs node `id` and resolves once its process and ports are gone. */
  kill(id: number): Promise<void>;
  /** Starts the nodes that are not running; resolves once all are registered. */
  start(): Promise<void>;
}

export interface OwnInfra {
  kafka?: OwnServer;
  cluster?: OwnCluster;
  postgres?: OwnServer;
  /** Stops both and removes their folder; idempotent. */
  stop(): Promise<void>;
}

/**
 * `count` free ports in a row (Kafka's controller listener takes port+1; a cluster two per
 * node), below Linux's ephemeral range (32768 up): there an outgoing connection may take the
 * port between this check and the server's bind (it happened: the broker died on bind).
 */
async function freePorts(count = 2): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 12_000);
    let free = true;
    for (let k = 0; k < count && free; k++) free = !(await portOpen(port + k, '127.0.0.1', 200));
    if (free) return port;
  }
  throw InfraError(`no ${count} free ports in a row for a broker of chaos's own`);
}

/** Started by us, on our port, or refused: restarting a server someone else runs is what this module exists to avoid. */
function owned(what: string, state: InfraState): InfraState {
  if (!state.owned) throw InfraError(`${what}: the free port chosen was taken by a server chaos did not start; not restarting someone else's`);
  return state;
}

export async function startOwnInfra(o: { kafka: boolean; cluster?: number; postgres: boolean; cacheDir: string; say: (line: string) => void }): Promise<OwnInfra> {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-chaos-infra-'));
  // Run as root, PostgreSQL runs as user postgres, who must reach its cluster in here.
  chmodSync(dir, 0o755);
  const io = { say: (line: string) => o.say(`  ${line}`), emit: () => {} };
  const stops: Array<() => Promise<unknown>> = [];
  const infra: OwnInfra = {
    async stop() {
      for (const stop of stops.splice(0).reverse()) await stop().catch((err) => o.say(`chaos: stopping own infra: ${(err as Error).message}`));
      rmSync(dir, { recursive: true, force: true });
    },
  };
  try {
    if (o.kafka) {
      const port = await freePorts();
      const own = kafkaPaths(dir, port);
      const shared = kafkaPaths(o.cacheDir, port);
      if (existsSync(shared.libs) && existsSync(shared.pom)) {
        mkdirSync(own.home, { recursive: true });
        copyFileSync(shared.pom, own.pom);
        symlinkSync(shared.libs, own.libs);
      }
      const opts = { dir, port, io };
      o.say(`chaos: starting a Kafka broker of its own on 127.0.0.1:${port}`);
      owned('kafka', await kafkaInfra('start', opts));
      stops.push(() => kafkaInfra('stop', opts));
      infra.kafka = {
        address: `127.0.0.1:${port}`,
        async restart(downMs) {
          await kafkaInfra('stop', opts);
          await sleep(downMs);
          owned('kafka', await kafkaInfra('start', opts));
        },
      };
    }
    if (o.cluster !== undefined) {
      const brokers = o.cluster;
      const port = await freePorts(2 * brokers);
      const own = clusterPaths(dir, port, brokers);
      const shared = kafkaPaths(o.cacheDir, port);
      if (existsSync(shared.libs) && existsSync(shared.pom)) {
        mkdirSync(own.home, { recursive: true });
        copyFileSync(shared.pom, own.pom);
        symlinkSync(shared.libs, own.libs);
      }
      const opts = { dir, port, brokers, io };
      o.say(`chaos: starting a Kafka cluster of its own, ${brokers} nodes from 127.0.0.1:${port}`);
      stops.push(() => kafkaClusterInfra('stop', opts));
      const state = owned('kafka', await kafkaClusterInfra('start', opts));
      infra.cluster = {
        address: state.env.KAFKA_BROKERS,
        async kill(id) {
          const pid = clusterNodePid(opts, id);
          if (pid === undefined) throw InfraError(`kafka node ${id} of chaos's cluster is not running`);
          process.kill(pid, 'SIGKILL');
          const node = own.nodes[id - 1];
          // Its main thread may be a zombie while the JVM's other threads still hold its sockets.
          await waitFor(async () => !pidAlive(pid) && !(await portOpen(node.port, '127.0.0.1', 200)) && !(await portOpen(node.controllerPort, '127.0.0.1', 200)), { timeoutMs: 15_000, intervalMs: 50 });
        },
        async start() {
          owned('kafka', await kafkaClusterInfra('start', opts));
        },
      };
    }
    if (o.postgres) {
      const port = await freePorts();
      const opts = { dir, port, io };
      o.say(`chaos: starting a PostgreSQL server of its own on 127.0.0.1:${port}`);
      const state = owned('postgres', await postgresInfra('start', opts));
      stops.push(() => postgresInfra('stop', opts));
      infra.postgres = {
        address: state.env.DATABASE_URL,
        async restart(downMs) {
          await postgresInfra('stop', opts);
          await sleep(downMs);
          owned('postgres', await postgresInfra('start', opts));
        },
      };
    }
  } catch (err) {
    await infra.stop();
    throw err;
  }
  return infra;
}

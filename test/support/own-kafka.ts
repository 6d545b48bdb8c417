/**
 * A Kafka broker (or a cluster of `brokers` nodes) of a test's own, on free ports, for tests
 * that stop, kill and start it (the shared broker of KAFKA_BROKERS is never touched). Reuses
 * the jars of the machine's infra cache (ORDERFLOW_INFRA_DIR) when there are any, rather than
 * fetch them again.
 */
import type { TestContext } from 'node:test';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync, symlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { kafkaInfra, kafkaPaths } from '#runtime/infra/kafka.ts';
import { clusterNodePid, kafkaClusterInfra } from '#runtime/infra/kafka-cluster.ts';
import { daemonPid } from '#runtime/infra/daemon.ts';
import { pidAlive, portOpen, waitFor } from '#runtime/infra/processes.ts';

export interface OwnKafka {
  brokers: string;
  /** Starts what is not running (a killed node of a cluster rejoins). */
  start(): Promise<void>;
  stop(): Promise<void>;
  /** The live pid of node `id` (1 for a single broker), if running. */
  pid(id?: number): number | undefined;
  /** SIGKILLs node `id` (1 for a single broker) and resolves once it is gone. */
  kill(id?: number): Promise<void>;
  /** What the infra commands said (progress lines), for assertions. */
  said: string[];
}

async function free(port: number): Promise<boolean> {
  const server = createServer();
  return new Promise((resolve) => {
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** `count` free ports in a row from a random one (each node takes a client port and a controller port). */
async function freePorts(count: number): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 20_000);
    let all = true;
    for (let k = 0; k < count && all; k++) all = await free(port + k);
    if (all) return port;
  }
  throw new Error(`no ${count} free ports in a row`);
}

/** Starts a broker, or a cluster of `brokers` nodes, in a temporary folder; stopped and removed after the test. */
export async function startOwnKafka(t: TestContext, o: { brokers?: number } = {}): Promise<OwnKafka> {
  const nodes = o.brokers ?? 1;
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-own-kafka-'));
  const port = await freePorts(2 * nodes);
  const own = kafkaPaths(join(dir, 'infra'), port);
  const cache = process.env.ORDERFLOW_INFRA_DIR;
  if (cache) {
    const shared = kafkaPaths(cache, port);
    if (existsSync(shared.libs) && existsSync(shared.pom)) {
      mkdirSync(own.home, { recursive: true });
      copyFileSync(shared.pom, own.pom);
      symlinkSync(shared.libs, own.libs);
    }
  }
  const said: string[] = [];
  const broker = { dir: join(dir, 'infra'), port, io: { say: (line: string) => void said.push(line), emit: () => {} } };
  const cluster = { ...broker, brokers: nodes };
  const pid = (id = 1) => (nodes > 1 ? clusterNodePid(cluster, id) : daemonPid(kafkaPaths(broker.dir, port).pidFile, 'kafka.Kafka'));
  const kafka: OwnKafka = {
    brokers: Array.from({ length: nodes }, (_, i) => `127.0.0.1:${port + 2 * i}`).join(','),
    start: () => (nodes > 1 ? kafkaClusterInfra('start', cluster) : kafkaInfra('start', broker)).then(() => undefined),
    stop: () => (nodes > 1 ? kafkaClusterInfra('stop', cluster) : kafkaInfra('stop', broker)).then(() => undefined),
    pid,
    async kill(id = 1) {
      const victim = pid(id);
      if (victim === undefined) throw new Error(`kafka node ${id} is not running`);
      process.kill(victim, 'SIGKILL');
      // Its main thread may be a zombie while the JVM's other threads still hold its sockets.
      const nodePort = port + 2 * (id - 1);
      await waitFor(async () => !pidAlive(victim) && !(await portOpen(nodePort, '127.0.0.1', 200)) && !(await portOpen(nodePort + 1, '127.0.0.1', 200)), { timeoutMs: 10_000, intervalMs: 50 });
    },
    said,
  };
  await kafka.start();
  t.after(async () => {
    await kafka.stop().catch(() => undefined);
    rmSync(dir, { recursive: true, force: true });
  });
  return kafka;
}

/**
 * `infra kafka start --brokers N` (N ≥ 2): N KRaft nodes on 127.0.0.1, each a combined
 * controller and broker, with one static controller quorum of all of them
 * (controller.quorum.voters). Node n (1-based) takes clients on port + 2(n-1) and its
 * controller listener on the port after: from the default port 9092, three nodes are
 * 9092/9093, 9094/9095 and 9096/9097. Each node has its own data dir, pid file and log under
 * `<infra>/kafka/cluster-<port>/node-<n>`.
 *
 * Topics get a replication factor of min(3, N), and at 3 `min.insync.replicas=2` (the
 * broker's default and the internal topics' alike): with the producer's acks=all a write is
 * acknowledged once two copies hold it, so one node may die without losing an acknowledged
 * record or stopping writes.
 *
 * `start` starts every node that is not running, so it also restarts a node that was killed.
 * A killed node's registration stays in the quorum's log with a live session until the
 * controller has not heard from it for broker.session.timeout.ms; registering again before
 * that is refused (DUPLICATE_BROKER_REGISTRATION, retried every 2 s by the broker). The
 * session is 6 s here (Kafka's default is 9 s): it is also how long the cluster takes to
 * notice a dead leader and elect another.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { replicationFor } from '#platform/bus/kafka/kafka-replication.ts';
import { daemonPid, startDaemon, stopDaemon, type Daemon } from './daemon.ts';
import { fetchJars } from './maven.ts';
import { KAFKA_LOG4J2, KAFKA_VERSION, kafkaAnswers, kafkaJava, kafkaPom, startupNotes, untilReleased } from './kafka.ts';
import { groupsReady } from './kafka-groups.ts';
import { emitAll, InfraError, portOpen, run, seconds, stdIo, tail, waitFor, type InfraIo, type InfraState } from './processes.ts';

export const MAX_BROKERS = 9;
export const HEARTBEAT_MS = 1000;
export const SESSION_MS = 6000;

export type KafkaClusterOptions = Readonly<{
  /** Infra cache root; the cluster lives in `<dir>/kafka/cluster-<port>`, the jars in `<dir>/kafka/libs`. */
  dir: string;
  /** The first node's client port; node n takes port + 2(n-1) and the port after it. */
  port: number;
  brokers: number;
  io?: InfraIo;
  startTimeoutMs?: number;
}>;

export type ClusterNode = Readonly<{
  id: number;
  port: number;
  controllerPort: number;
  home: string;
  props: string;
  data: string;
  pidFile: string;
  logFile: string;
}>;

export function clusterPaths(dir: string, port: number, brokers: number) {
  const home = join(dir, 'kafka');
  const cluster = join(home, `cluster-${port}`);
  const nodes: ClusterNode[] = Array.from({ length: brokers }, (_, i) => {
    const nodeHome = join(cluster, `node-${i + 1}`);
    return {
      id: i + 1,
      port: port + 2 * i,
      controllerPort: port + 2 * i + 1,
      home: nodeHome,
      props: join(nodeHome, 'server.properties'),
      data: join(nodeHome, 'data'),
      pidFile: join(nodeHome, 'kafka.pid'),
      logFile: join(nodeHome, 'kafka.log'),
    };
  });
  return { home, pom: join(home, 'pom.xml'), libs: join(home, 'libs'), log4j: join(home, 'log4j2.properties'), cluster, clusterId: join(cluster, 'cluster-id'), nodes };
}


/** server.properties of node `node` of the cluster `nodes`. */
export function clusterNodeProperties(node: ClusterNode, nodes: readonly ClusterNode[]): string {
  const { factor, minInsync } = replicationFor(nodes.length);
  return [
    'process.roles=broker,controller',
    `node.id=${node.id}`,
    `listeners=PLAINTEXT://127.0.0.1:${node.port},CONTROLLER://127.0.0.1:${node.controllerPort}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${node.port}`,
    `controller.quorum.voters=${nodes.map((n) => `${n.id}@127.0.0.1:${n.controllerPort}`).join(',')}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    'listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT',
    `log.dirs=${node.data}`,
    'num.partitions=1',
    `default.replication.factor=${factor}`,
    `min.insync.replicas=${minInsync}`,
    `offsets.topic.replication.factor=${factor}`,
    `transaction.state.log.replication.factor=${factor}`,
    `transaction.state.log.min.isr=${minInsync}`,
    `share.coordinator.state.topic.replication.factor=${factor}`,
    `share.coordinator.state.topic.min.isr=${minInsync}`,
    // A replica that was not in sync never becomes leader: it would drop acknowledged records.
    'unclean.leader.election.enable=false',
    `broker.heartbeat.interval.ms=${HEARTBEAT_MS}`,
    `broker.session.timeout.ms=${SESSION_MS}`,
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    'delete.topic.enable=true',
    '',
  ].join('\n');
}

const ownPid = (n: ClusterNode): number | undefined => daemonPid(n.pidFile, 'kafka.Kafka');
const daemon = (n: ClusterNode): Daemon => ({ name: `kafka-${n.id}`, what: 'the broker', cwd: n.home, pidFile: n.pidFile, logFile: n.logFile, stopGraceMs: 60_000 });
const brokersOf = (nodes: readonly ClusterNode[]) => nodes.map((n) => `127.0.0.1:${n.port}`).join(',');
const settings = (nodes: readonly ClusterNode[]) => ({ KAFKA_BROKERS: brokersOf(nodes) });

/** The ids of the brokers the cluster has registered and not fenced, as a client of `bootstrap` sees them; [] when none answers. */
export async function liveBrokers(bootstrap: string, timeoutMs = 3000): Promise<number[]> {
  const admin = new Admin({ clientId: 'orderflow-infra', bootstrapBrokers: bootstrap.split(','), retries: 0, connectTimeout: timeoutMs, requestTimeout: timeoutMs, timeout: timeoutMs });
  try {
    const md = await admin.metadata({ topics: [], forceUpdate: true });
    return [...md.brokers.keys()].sort((a, b) => a - b);
  } catch {
    return [];
  } finally {
    await admin.close().catch(() => {});
  }
}

/** The cluster's id, made once and kept beside its nodes: every node is formatted with it. */
async function clusterId(c: ReturnType<typeof clusterPaths>): Promise<string> {
  if (!existsSync(c.clusterId)) {
    const id = (await run('java', kafkaJava(c.libs, c.log4j, 'kafka.tools.StorageTool', 'random-uuid'), { capture: true })).trim().split('\n').pop()!.trim();
    if (!/^[A-Za-z0-9_-]{22}$/.test(id)) throw InfraError(`kafka: StorageTool random-uuid printed "${id}", not a cluster id`);
    writeFileSync(c.clusterId, `${id}\n`);
  }
  return readFileSync(c.clusterId, 'utf8').trim();
}

async function formatNode(c: ReturnType<typeof clusterPaths>, n: ClusterNode, io: InfraIo): Promise<void> {
  if (existsSync(join(n.data, 'meta.properties'))) return;
  const started = Date.now();
  const id = await clusterId(c);
  // A static quorum (controller.quorum.voters): no --standalone or --initial-controllers.
  await run('java', kafkaJava(c.libs, c.log4j, 'kafka.tools.StorageTool', 'format', '-t', id, '-c', n.props), { capture: true });
  io.say(`kafka-${n.id}: storage formatted in ${n.data} (cluster ${id}) in ${seconds(started)}`);
}

async function start(o: KafkaClusterOptions, io: InfraIo): Promise<InfraState> {
  const c = clusterPaths(o.dir, o.port, o.brokers);
  const missing = c.nodes.filter((n) => ownPid(n) === undefined);
  if (missing.length === 0) {
    io.say(`kafka: all ${o.brokers} nodes already running (${brokersOf(c.nodes)})`);
    emitAll(io, settings(c.nodes));
    return { running: true, owned: true, env: settings(c.nodes) };
  }
  for (const n of missing) {
    await untilReleased(n.pidFile, [n.port, n.controllerPort]);
    for (const port of [n.port, n.controllerPort]) {
      if (await portOpen(port)) throw InfraError(`kafka: port ${port} of node ${n.id} is taken by something this command did not start; set ORDERFLOW_KAFKA_PORT (node n takes port + 2(n-1) and the next)`);
    }
  }
  mkdirSync(c.cluster, { recursive: true });
  await fetchJars({ pom: kafkaPom(), pomFile: c.pom, libs: c.libs, marker: `kafka_2.13-${KAFKA_VERSION}.jar`, what: 'kafka', io });
  writeFileSync(c.log4j, KAFKA_LOG4J2);
  for (const n of missing) {
    mkdirSync(n.home, { recursive: true });
    writeFileSync(n.props, clusterNodeProperties(n, c.nodes));
  }
  await clusterId(c);
  // Each format is a JVM of its own: together they take the time of one.
  await Promise.all(missing.map((n) => formatNode(c, n, io)));
  const started = Date.now();
  const timeoutMs = o.startTimeoutMs ?? 180_000;
  // Together: a node answers clients only once a majority of the quorum has elected a controller.
  const results = await Promise.allSettled(missing.map((n) => {
    const notes = startupNotes(n.logFile, `kafka-${n.id}`, io.say);
    return startDaemon(daemon(n), {
      command: 'java',
      // Three JVMs on one machine: a smaller heap than the single broker's.
      args: ['-Xms128m', '-Xmx512m', ...kafkaJava(c.libs, c.log4j, 'kafka.Kafka', n.props)],
      port: n.port,
      answers: async () => {
        notes();
        return (await portOpen(n.port)) && (await kafkaAnswers(n.port));
      },
      timeoutMs,
      io,
    });
  }));
  const failed = results.find((r) => r.status === 'rejected');
  if (failed) {
    await stop(o, { say: io.say, emit: () => {} });
    throw (failed as PromiseRejectedResult).reason;
  }
  const all = await waitFor(async () => (await liveBrokers(brokersOf(c.nodes))).length === o.brokers, { timeoutMs, intervalMs: 500 });
  if (!all) {
    const live = await liveBrokers(brokersOf(c.nodes));
    throw InfraError(`kafka: ${live.length} of ${o.brokers} brokers registered (${live.join(', ') || 'none'}) after ${seconds(started)}; last lines of ${missing[0].logFile}:\n${tail(missing[0].logFile)}`);
  }
  const { factor, minInsync } = replicationFor(o.brokers);
  if (!(await waitFor(() => groupsReady(brokersOf(c.nodes)), { timeoutMs, intervalMs: 500 }))) {
    throw InfraError(`kafka: the ${o.brokers} nodes are registered but some partition of __consumer_offsets has no coordinator after ${seconds(started)}; consumer groups cannot join`);
  }
  io.say(`kafka: ${o.brokers} nodes registered and ready for consumer groups in ${seconds(started)}; topics default to replication factor ${factor}, min.insync.replicas ${minInsync}`);
  emitAll(io, settings(c.nodes));
  return { running: true, owned: true, env: settings(c.nodes) };
}

async function stop(o: KafkaClusterOptions, io: InfraIo): Promise<InfraState> {
  const c = clusterPaths(o.dir, o.port, o.brokers);
  // All at once: each shuts down while the quorum still has a majority to grant it. One by
  // one, the last would wait for a quorum that is gone and be killed at the end of the grace.
  const stopped = await Promise.all(c.nodes.map((n) => stopDaemon(daemon(n), ownPid(n), io)));
  return { running: false, owned: stopped.some(Boolean), env: {} };
}

async function status(o: KafkaClusterOptions, io: InfraIo): Promise<InfraState> {
  const c = clusterPaths(o.dir, o.port, o.brokers);
  const live = await liveBrokers(brokersOf(c.nodes));
  for (const n of c.nodes) {
    const pid = ownPid(n);
    io.say(`kafka-${n.id}: ${pid === undefined ? 'stopped' : `running, pid ${pid}`}, 127.0.0.1:${n.port}${live.includes(n.id) ? ', registered' : pid === undefined ? '' : ', not registered'}`);
  }
  const running = live.length === o.brokers && c.nodes.every((n) => ownPid(n) !== undefined);
  if (live.length > 0) emitAll(io, settings(c.nodes));
  return { running, owned: c.nodes.some((n) => ownPid(n) !== undefined), env: live.length > 0 ? settings(c.nodes) : {} };
}

/** Starts, stops or reports a local cluster of `brokers` KRaft nodes; settings go to `io.emit` as `KAFKA_BROKERS=a,b,c`. */
export async function kafkaClusterInfra(action: 'start' | 'stop' | 'status', o: KafkaClusterOptions): Promise<InfraState> {
  if (!Number.isInteger(o.brokers) || o.brokers < 2 || o.brokers > MAX_BROKERS) throw InfraError(`kafka: a cluster has 2 to ${MAX_BROKERS} brokers, not ${o.brokers}`);
  const io = o.io ?? stdIo;
  if (action === 'start') return start(o, io);
  if (action === 'stop') return stop(o, io);
  return status(o, io);
}

/** The live pid of node `id`, if this command started it. */
export function clusterNodePid(o: Pick<KafkaClusterOptions, 'dir' | 'port' | 'brokers'>, id: number): number | undefined {
  const n = clusterPaths(o.dir, o.port, o.brokers).nodes[id - 1];
  return n === undefined ? undefined : ownPid(n);
}

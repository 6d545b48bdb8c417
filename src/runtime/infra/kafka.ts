/**
 * A real single-node Apache Kafka broker (KRaft, combined broker+controller) for dev and CI,
 * built from Maven Central jars: no Docker, no tarball download.
 */

import { closeSync, existsSync, mkdirSync, openSync, readFileSync, readSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Admin } from '@platformatic/kafka';
import { daemonPid, startJavaDaemon, stopDaemon, type Daemon } from './daemon.ts';
import { groupsReady } from './kafka-groups.ts';
import { fetchJars, mavenPom } from './maven.ts';
import { ensureScramUser, scramFormatArgs, secureMaterial, secureProperties, secureSettings, type SecureMaterial } from './kafka-secure.ts';
import {
  emitAll, InfraError, portOpen, readPid, run, seconds, stdIo, waitFor, type InfraIo, type InfraState,
} from './processes.ts';

export const KAFKA_VERSION = '4.1.1';
export const LOG4J_VERSION = '2.24.3';
// Maven's nearest-wins would pick Kafka's slf4j-api 1.7, which cannot see the log4j 2 binding: Kafka would log nothing.
export const SLF4J_VERSION = '2.0.16';

export type KafkaOptions = Readonly<{
  /** Infra cache root; Kafka lives in `<dir>/kafka`. */
  dir: string;
  port: number;
  /** A SASL_SSL listener on port + 2 as well (kafka-secure.ts). */
  secure?: boolean;
  io?: InfraIo;
  startTimeoutMs?: number;
}>;

export function kafkaPaths(dir: string, port: number) {
  const home = join(dir, 'kafka');
  return {
    home,
    pom: join(home, 'pom.xml'),
    libs: join(home, 'libs'),
    props: join(home, 'server.properties'),
    log4j: join(home, 'log4j2.properties'),
    // One storage per port: the standalone format writes the controller endpoint into the log.
    data: join(home, `data-${port}`),
    pidFile: join(home, 'kafka.pid'),
    logFile: join(home, 'kafka.log'),
  };
}

export function kafkaPom(): string {
  return mavenPom('kafka-runtime', [
    `org.apache.kafka:kafka_2.13:${KAFKA_VERSION}`,
    `org.apache.logging.log4j:log4j-core:${LOG4J_VERSION}`,
    `org.apache.logging.log4j:log4j-slf4j2-impl:${LOG4J_VERSION}`,
    `org.slf4j:slf4j-api:${SLF4J_VERSION}`,
  ]);
}

/** Kafka's command-line tools (ProducerPerformance, ConsumerPerformance), for the bus bench's side-by-side run. */
export function kafkaToolsPom(): string {
  return mavenPom('kafka-tools-runtime', [
    `org.apache.kafka:kafka-tools:${KAFKA_VERSION}`,
    `org.slf4j:slf4j-api:${SLF4J_VERSION}`,
    `org.slf4j:slf4j-nop:${SLF4J_VERSION}`,
  ]);
}

/**
 * Fetches kafka-tools and its dependencies from Maven Central into `<dir>/kafka/tools` (once;
 * kept while the pom is unchanged) and returns that folder, for `java -cp '<folder>/*'`.
 */
export async function fetchKafkaTools(dir: string, io: InfraIo = stdIo): Promise<string> {
  const home = join(dir, 'kafka');
  const libs = join(home, 'tools');
  await fetchJars({ pom: kafkaToolsPom(), pomFile: join(home, 'tools-pom.xml'), libs, marker: `kafka-tools-${KAFKA_VERSION}.jar`, what: 'kafka tools', io });
  return libs;
}

/**
 * server.properties for a KRaft combined node on 127.0.0.1: clients on `port`, the controller
 * on `port + 1`, and with `secure` a SASL_SSL client listener on `port + 2`.
 */
export function kafkaServerProperties(opts: { port: number; logDir: string; secure?: SecureMaterial }): string {
  const { port, logDir, secure } = opts;
  const sasl = secure ? `,SASL_SSL://127.0.0.1:${port + 2}` : '';
  return [
    'process.roles=broker,controller',
    'node.id=1',
    `listeners=PLAINTEXT://127.0.0.1:${port},CONTROLLER://127.0.0.1:${port + 1}${sasl}`,
    `advertised.listeners=PLAINTEXT://127.0.0.1:${port}${sasl}`,
    `controller.quorum.bootstrap.servers=127.0.0.1:${port + 1}`,
    'controller.listener.names=CONTROLLER',
    'inter.broker.listener.name=PLAINTEXT',
    `listener.security.protocol.map=CONTROLLER:PLAINTEXT,PLAINTEXT:PLAINTEXT${secure ? ',SASL_SSL:SASL_SSL' : ''}`,
    ...(secure ? secureProperties(secure) : []),
    `log.dirs=${logDir}`,
    'num.partitions=1',
    'offsets.topic.replication.factor=1',
    'transaction.state.log.replication.factor=1',
    'transaction.state.log.min.isr=1',
    'share.coordinator.state.topic.replication.factor=1',
    'share.coordinator.state.topic.min.isr=1',
    'group.initial.rebalance.delay.ms=0',
    'auto.create.topics.enable=false',
    // Tests create and delete many short-lived topics.
    'delete.topic.enable=true',
    '',
  ].join('\n');
}

// Kafka's own jars ship no log4j2 config; without one log4j prints only errors and a warning.
export const KAFKA_LOG4J2 = `status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = STDOUT
logger.kafka.name = kafka
logger.kafka.level = info
logger.state.name = state.change.logger
logger.state.level = warn
logger.log.name = kafka.log
logger.log.level = warn
`;

function portOf(propsFile: string): number | undefined {
  try {
    const m = /^listeners=PLAINTEXT:\/\/[^:]+:(\d+)/m.exec(readFileSync(propsFile, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

/** True when a broker on `port` answers a metadata request within `timeoutMs`. */
export async function kafkaAnswers(port: number, timeoutMs = 3000): Promise<boolean> {
  const admin = new Admin({
    clientId: 'orderflow-infra',
    bootstrapBrokers: [`127.0.0.1:${port}`],
    retries: 0,
    connectTimeout: timeoutMs,
    requestTimeout: timeoutMs,
    timeout: timeoutMs,
  });
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error('metadata request timed out')), timeoutMs);
    });
    await Promise.race([admin.listTopics(), timeout]);
    return true;
  } catch {
    return false;
  } finally {
    clearTimeout(timer);
    await admin.close().catch(() => {});
  }
}

/** The java arguments that run `main` of Kafka's jars in `libs` with our log4j2 settings. */
export const kafkaJava = (libs: string, log4j: string, main: string, ...args: string[]) =>
  [`-Dlog4j2.configurationFile=${log4j}`, '-cp', join(libs, '*'), main, ...args];
const java = kafkaJava;

/**
 * Why a broker restarted on an existing data dir may take long to answer, said once each:
 * - a broker that was killed (SIGKILL, a crash, a machine gone) left its registration in the
 *   metadata log, and the controller restores it with a fresh session: registering again is
 *   refused (DUPLICATE_BROKER_REGISTRATION, retried every 2 s) until broker.session.timeout.ms
 *   passes without a heartbeat (9 s by default);
 * - then every partition in the data dir is loaded before the broker answers: the tests'
 *   namespaced topics pile up in a long-lived dev or CI data dir (some 45 s for thousands).
 * Called while waiting; reads only what the log gained since `from` (its size at the start).
 */
export function startupNotes(logFile: string, name: string, say: (line: string) => void): () => void {
  const from = existsSync(logFile) ? statSync(logFile).size : 0;
  const said = new Set<string>();
  return () => {
    let text: string;
    try {
      const size = statSync(logFile).size;
      const fd = openSync(logFile, 'r');
      try {
        const buf = Buffer.alloc(Math.min(size - from, 1 << 20));
        readSync(fd, buf, 0, buf.length, Math.max(from, size - buf.length));
        text = buf.toString('utf8');
      } finally {
        closeSync(fd);
      }
    } catch {
      return;
    }
    const note = (key: string, line: string) => {
      if (said.has(key)) return;
      said.add(key);
      say(`${name}: ${line}`);
    };
    if (text.includes('DUPLICATE_BROKER_REGISTRATION')) note('dup', 'the previous broker was killed and its registration is still in the metadata log; the controller refuses a new one until its session times out (broker.session.timeout.ms), then it registers');
    if (text.includes('Successfully registered broker') && text.includes('Log loaded for partition')) note('load', 'registered; loading the partitions of its data dir before it answers (many old topics make this long)');
  };
}

/** Formats the storage once (with the SCRAM user when secure); false when it was formatted before. */
async function formatStorage(p: ReturnType<typeof kafkaPaths>, io: InfraIo, secure?: SecureMaterial): Promise<boolean> {
  if (existsSync(join(p.data, 'meta.properties'))) return false;
  const started = Date.now();
  const id = (await run('java', java(p.libs, p.log4j, 'kafka.tools.StorageTool', 'random-uuid'), { capture: true }))
    .trim().split('\n').pop()!.trim();
  if (!/^[A-Za-z0-9_-]{22}$/.test(id)) throw InfraError(`kafka: StorageTool random-uuid printed "${id}", not a cluster id`);
  await run('java', java(p.libs, p.log4j, 'kafka.tools.StorageTool', 'format', '--standalone', '-t', id, '-c', p.props, ...(secure ? scramFormatArgs(secure) : [])), { capture: true });
  io.say(`kafka: storage formatted in ${p.data} (cluster ${id}${secure ? `, SCRAM user ${secure.username}` : ''}) in ${seconds(started)}`);
  return true;
}

function settings(port: number, secure?: SecureMaterial): Record<string, string> {
  return { KAFKA_BROKERS: `127.0.0.1:${port}`, ...(secure ? secureSettings(port, secure) : {}) };
}

/** Whether the broker's server.properties has the SASL_SSL listener. */
const hasSecureListener = (propsFile: string): boolean => existsSync(propsFile) && /^listeners=.*SASL_SSL:/m.test(readFileSync(propsFile, 'utf8'));

/**
 * When the pid file names a broker of ours that died (killed, crashed), waits up to 10 s for
 * its ports to close: a SIGKILLed JVM's main thread is gone (a zombie) a moment before its
 * other threads let go of the sockets, and a start in that moment took the port for someone
 * else's.
 */
export async function untilReleased(pidFile: string, ports: readonly number[]): Promise<void> {
  if (readPid(pidFile) === undefined) return;
  await waitFor(async () => {
    for (const port of ports) if (await portOpen(port, '127.0.0.1', 200)) return false;
    return true;
  }, { timeoutMs: 10_000, intervalMs: 200 });
}

/** Our broker's pid, if its pid file names a live Kafka process. */
const ownPid = (p: ReturnType<typeof kafkaPaths>): number | undefined => daemonPid(p.pidFile, 'kafka.Kafka');

async function start(opts: KafkaOptions, io: InfraIo): Promise<InfraState> {
  const p = kafkaPaths(opts.dir, opts.port);
  const secure = opts.secure ? await secureMaterial(p.home) : undefined;
  const running = ownPid(p);
  if (running !== undefined) {
    const port = portOf(p.props) ?? opts.port;
    if (port !== opts.port) io.say(`kafka: already running (pid ${running}) on port ${port}, not ${opts.port}; stop it first to move it`);
    else io.say(`kafka: already running (pid ${running})`);
    if (secure && !hasSecureListener(p.props)) throw InfraError('kafka: the running broker has no SASL_SSL listener; stop it and start it again with --secure');
    const env = settings(port, secure);
    emitAll(io, env);
    return { running: true, owned: true, env };
  }
  await untilReleased(p.pidFile, [opts.port, opts.port + 1]);
  if (await portOpen(opts.port)) {
    if (await kafkaAnswers(opts.port)) {
      io.say(`kafka: a broker not started by this command already answers on 127.0.0.1:${opts.port}; using it`);
      emitAll(io, settings(opts.port));
      return { running: true, owned: false, env: settings(opts.port) };
    }
    throw InfraError(`kafka: port ${opts.port} is taken by something that is not a Kafka broker; set ORDERFLOW_KAFKA_PORT`);
  }
  if (await portOpen(opts.port + 1)) throw InfraError(`kafka: controller port ${opts.port + 1} is taken; set ORDERFLOW_KAFKA_PORT`);

  mkdirSync(p.home, { recursive: true });
  await fetchJars({ pom: kafkaPom(), pomFile: p.pom, libs: p.libs, marker: `kafka_2.13-${KAFKA_VERSION}.jar`, what: 'kafka', io });
  if (secure && (await portOpen(opts.port + 2))) throw InfraError(`kafka: port ${opts.port + 2} for the SASL_SSL listener is taken; set ORDERFLOW_KAFKA_PORT`);
  writeFileSync(p.props, kafkaServerProperties({ port: opts.port, logDir: p.data, secure }));
  writeFileSync(p.log4j, KAFKA_LOG4J2);
  const formatted = await formatStorage(p, io, secure);

  const notes = startupNotes(p.logFile, 'kafka', io.say);
  await startJavaDaemon(daemon(p), {
    args: java(p.libs, p.log4j, 'kafka.Kafka', p.props),
    port: opts.port,
    answers: async () => {
      notes();
      return (await portOpen(opts.port)) && (await kafkaAnswers(opts.port));
    },
    // Not 60 s: a restart after a kill waits out the old session, then loads every partition;
    // giving up at 60 s once stopped a broker seconds before it answered (57 s).
    timeoutMs: opts.startTimeoutMs ?? 180_000,
    io,
  });
  if (secure && !formatted) {
    // A storage formatted without the user: create it now (idempotent; resets the password to the kept one).
    await ensureScramUser((main, ...args) => java(p.libs, p.log4j, main, ...args), opts.port, secure);
    io.say(`kafka: SCRAM user ${secure.username} set`);
  }
  if (secure) io.say(`kafka: SASL_SSL (${secure.username}, SCRAM-SHA-512) on 127.0.0.1:${opts.port + 2}, certificate ${secure.caFile}`);
  // A fresh broker answers before consumer groups can join it: the first service to subscribe
  // would be refused (NOT_COORDINATOR) until __consumer_offsets is made and loaded.
  const groupsFrom = Date.now();
  if (!(await waitFor(() => groupsReady(`127.0.0.1:${opts.port}`), { timeoutMs: 60_000, intervalMs: 500 }))) {
    throw InfraError(`kafka: the broker answers but some partition of __consumer_offsets has no coordinator after ${seconds(groupsFrom)}; consumer groups cannot join`);
  }
  const env = settings(opts.port, secure);
  emitAll(io, env);
  return { running: true, owned: true, env };
}

async function stop(opts: KafkaOptions, io: InfraIo): Promise<InfraState> {
  const p = kafkaPaths(opts.dir, opts.port);
  const owned = await stopDaemon(daemon(p), ownPid(p), io);
  return { running: false, owned, env: {} };
}

// A controlled shutdown moves leadership and syncs every partition: with many it outlasts 20 s.
const daemon = (p: ReturnType<typeof kafkaPaths>): Daemon => ({ name: 'kafka', what: 'the broker', cwd: p.home, pidFile: p.pidFile, logFile: p.logFile, stopGraceMs: 60_000 });

async function status(opts: KafkaOptions, io: InfraIo): Promise<InfraState> {
  const p = kafkaPaths(opts.dir, opts.port);
  const pid = ownPid(p);
  if (pid !== undefined) {
    const port = portOf(p.props) ?? opts.port;
    const answers = await kafkaAnswers(port);
    io.say(`kafka: running, pid ${pid}, 127.0.0.1:${port}${answers ? '' : ' (not answering metadata requests yet)'}`);
    emitAll(io, settings(port));
    return { running: answers, owned: true, env: settings(port) };
  }
  if (await kafkaAnswers(opts.port)) {
    io.say(`kafka: a broker not started by this command answers on 127.0.0.1:${opts.port}`);
    emitAll(io, settings(opts.port));
    return { running: true, owned: false, env: settings(opts.port) };
  }
  io.say('kafka: stopped');
  return { running: false, owned: false, env: {} };
}

/** Starts, stops or reports the local broker; settings go to `io.emit` as `KAFKA_BROKERS=...`. */
export async function kafkaInfra(action: 'start' | 'stop' | 'status', opts: KafkaOptions): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  if (action === 'start') return start(opts, io);
  if (action === 'stop') return stop(opts, io);
  return status(opts, io);
}

/**
 * A Kafka Connect worker with Debezium's PostgreSQL connector, for the Debezium outbox relay
 * (ORDERFLOW_RELAY=debezium), and Kafka's file sink (connect-file), for the event archive
 * (platform/bus/archive-connector.ts). Built from Maven Central jars like the broker; a worker
 * started before connect-file was added lacks it (the archive says so): stop and start it.
 *
 * Standalone mode with a file offset store, not distributed mode: one worker is all a
 * machine runs, it starts without creating and waiting for three internal topics, and the
 * connectors are registered over REST by whoever starts the system and removed when it
 * stops, so the worker needs no durable config store. The offsets file keeps each
 * connector's WAL position across a worker restart.
 */

import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { KAFKA_VERSION, LOG4J_VERSION, SLF4J_VERSION } from './kafka.ts';
import { daemonPid, startJavaDaemon, stopDaemon, type Daemon } from './daemon.ts';
import { fetchArtifact, fetchJars, mavenPom } from './maven.ts';
import {
  emitAll, InfraError, portOpen, run, stdIo, type InfraIo, type InfraState,
} from './processes.ts';

// 3.7.0.Final resolves whole from Maven Central (3.7.1.Final is served in part).
export const DEBEZIUM_VERSION = '3.7.0.Final';
// Debezium's JDBC sink ships as a plugin tarball (its own Hibernate and JDBC drivers), loaded
// in isolation from plugin.path; the version the archive's table sink was tried with.
export const DEBEZIUM_JDBC_VERSION = '3.6.0.Final';
const MAIN = 'org.apache.kafka.connect.cli.ConnectStandalone';

export type ConnectOptions = Readonly<{
  /** Infra cache root; Connect lives in `<dir>/connect`. */
  dir: string;
  port: number;
  kafkaBrokers: string;
  /**
   * Also Debezium's JDBC sink (`--jdbc-sink`), for the archive as PostgreSQL tables
   * (platform/bus/archive-connector.ts): a 58 MB tarball the CI has no use for, so only when
   * asked. The worker logs two ERROR lines about Debezium's CloudEventsConverter
   * at start (the PostgreSQL connector on the classpath registers a provider the plugin's own
   * copy does not accept): harmless, the sink does not use it.
   */
  jdbcSink?: boolean;
  io?: InfraIo;
  startTimeoutMs?: number;
}>;

export function connectPaths(dir: string, port: number) {
  const home = join(dir, 'connect');
  return {
    home,
    pom: join(home, 'pom.xml'),
    libs: join(home, 'libs'),
    plugins: join(home, 'plugins'),
    props: join(home, `worker-${port}.properties`),
    log4j: join(home, 'log4j2.properties'),
    offsets: join(home, `offsets-${port}.dat`),
    pidFile: join(home, 'connect.pid'),
    logFile: join(home, 'connect.log'),
  };
}

export function connectPom(): string {
  return mavenPom('connect-runtime', [
    `org.apache.kafka:connect-runtime:${KAFKA_VERSION}`,
    // FileStreamSinkConnector, for the event archive (platform/bus/archive-connector.ts).
    `org.apache.kafka:connect-file:${KAFKA_VERSION}`,
    `io.debezium:debezium-connector-postgres:${DEBEZIUM_VERSION}`,
    `org.apache.logging.log4j:log4j-core:${LOG4J_VERSION}`,
    `org.apache.logging.log4j:log4j-slf4j2-impl:${LOG4J_VERSION}`,
    `org.slf4j:slf4j-api:${SLF4J_VERSION}`,
  ]);
}

/**
 * The worker: REST on 127.0.0.1:`port`; keys, values and headers as plain strings, so the
 * outbox row's key and envelope JSON reach Kafka byte for byte as the in-process relay sends them.
 */
export function connectWorkerProperties(opts: { port: number; kafkaBrokers: string; offsets: string; pluginPath?: string }): string {
  return [
    `bootstrap.servers=${opts.kafkaBrokers}`,
    `listeners=http://127.0.0.1:${opts.port}`,
    'rest.advertised.host.name=127.0.0.1',
    `rest.advertised.port=${opts.port}`,
    'key.converter=org.apache.kafka.connect.storage.StringConverter',
    'value.converter=org.apache.kafka.connect.storage.StringConverter',
    'header.converter=org.apache.kafka.connect.storage.SimpleHeaderConverter',
    `offset.storage.file.filename=${opts.offsets}`,
    // The connector confirms its WAL position to PostgreSQL when offsets are flushed: this bounds the WAL a slot retains.
    'offset.flush.interval.ms=1000',
    'task.shutdown.graceful.timeout.ms=5000',
    ...(opts.pluginPath ? [`plugin.path=${opts.pluginPath}`] : []),
    '',
  ].join('\n');
}

const LOG4J2 = `status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = warn
rootLogger.appenderRef.out.ref = STDOUT
logger.connect.name = org.apache.kafka.connect.runtime.rest
logger.connect.level = warn
logger.debezium.name = io.debezium
logger.debezium.level = info
`;

function settings(port: number): Record<string, string> {
  return { CONNECT_URL: `http://127.0.0.1:${port}` };
}

/** True when a Connect worker answers GET / on `port` (its version document). */
export async function connectAnswers(port: number, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${port}/`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = (await res.body.json().catch(() => ({}))) as { version?: unknown };
    return res.statusCode === 200 && typeof body.version === 'string';
  } catch {
    return false;
  }
}

const ownPid = (p: ReturnType<typeof connectPaths>): number | undefined => daemonPid(p.pidFile, MAIN);

function portOf(props: string): number | undefined {
  try {
    const m = /^listeners=http:\/\/[^:]+:(\d+)/m.exec(readFileSync(props, 'utf8'));
    return m ? Number(m[1]) : undefined;
  } catch {
    return undefined;
  }
}

async function start(opts: ConnectOptions, io: InfraIo): Promise<InfraState> {
  const p = connectPaths(opts.dir, opts.port);
  const running = ownPid(p);
  if (running !== undefined) {
    const port = portOf(p.props) ?? opts.port;
    io.say(`connect: already running (pid ${running}) on port ${port}`);
    emitAll(io, settings(port));
    return { running: true, owned: true, env: settings(port) };
  }
  if (await portOpen(opts.port)) {
    if (await connectAnswers(opts.port)) {
      io.say(`connect: a worker not started by this command already answers on 127.0.0.1:${opts.port}; using it`);
      emitAll(io, settings(opts.port));
      return { running: true, owned: false, env: settings(opts.port) };
    }
    throw InfraError(`connect: port ${opts.port} is taken by something that is not Kafka Connect; set ORDERFLOW_CONNECT_PORT`);
  }
  mkdirSync(p.home, { recursive: true });
  await fetchJars({ pom: connectPom(), pomFile: p.pom, libs: p.libs, marker: `debezium-connector-postgres-${DEBEZIUM_VERSION}.jar`, what: 'connect', io });
  if (opts.jdbcSink) await fetchJdbcSinkPlugin(p.plugins, io);
  writeFileSync(p.props, connectWorkerProperties({ port: opts.port, kafkaBrokers: opts.kafkaBrokers, offsets: p.offsets, pluginPath: opts.jdbcSink ? p.plugins : undefined }));
  writeFileSync(p.log4j, LOG4J2);

  await startJavaDaemon(daemon(p), {
    args: [`-Dlog4j2.configurationFile=${p.log4j}`, '-cp', join(p.libs, '*'), MAIN, p.props],
    port: opts.port,
    answers: () => connectAnswers(opts.port),
    timeoutMs: opts.startTimeoutMs ?? 90_000,
    io,
  });
  emitAll(io, settings(opts.port));
  return { running: true, owned: true, env: settings(opts.port) };
}

async function stop(opts: ConnectOptions, io: InfraIo): Promise<InfraState> {
  const p = connectPaths(opts.dir, opts.port);
  const owned = await stopDaemon(daemon(p), ownPid(p), io);
  return { running: false, owned, env: {} };
}

/** The JDBC sink's plugin tarball from Maven Central, unpacked into `<plugins>/debezium-connector-jdbc` once. */
async function fetchJdbcSinkPlugin(plugins: string, io: InfraIo): Promise<void> {
  const folder = join(plugins, 'debezium-connector-jdbc');
  if (existsSync(join(folder, `debezium-connector-jdbc-${DEBEZIUM_JDBC_VERSION}.jar`))) return;
  const tarball = join(plugins, `debezium-connector-jdbc-${DEBEZIUM_JDBC_VERSION}-plugin.tar.gz`);
  await fetchArtifact({ artifact: `io.debezium:debezium-connector-jdbc:${DEBEZIUM_JDBC_VERSION}:tar.gz:plugin`, file: tarball, what: 'connect (JDBC sink)', io });
  // Unpacked aside, then moved: a failed unpack leaves no half plugin for the worker to scan.
  const tmp = `${plugins}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  mkdirSync(tmp, { recursive: true });
  await run('tar', ['xzf', tarball, '-C', tmp], { capture: true });
  rmSync(folder, { recursive: true, force: true });
  renameSync(join(tmp, 'debezium-connector-jdbc'), folder);
  rmSync(tmp, { recursive: true, force: true });
  rmSync(tarball, { force: true });
}

const daemon = (p: ReturnType<typeof connectPaths>): Daemon => ({ name: 'connect', what: 'the worker', cwd: p.home, pidFile: p.pidFile, logFile: p.logFile });

async function status(opts: ConnectOptions, io: InfraIo): Promise<InfraState> {
  const p = connectPaths(opts.dir, opts.port);
  const pid = ownPid(p);
  const port = pid !== undefined ? (portOf(p.props) ?? opts.port) : opts.port;
  const answers = await connectAnswers(port);
  if (pid !== undefined || answers) {
    io.say(`connect: ${pid !== undefined ? `running, pid ${pid}` : 'a worker not started by this command answers'}, 127.0.0.1:${port}${answers ? '' : ' (not answering yet)'}`);
    emitAll(io, settings(port));
    return { running: answers, owned: pid !== undefined, env: settings(port) };
  }
  io.say('connect: stopped');
  return { running: false, owned: false, env: {} };
}

/** Starts, stops or reports the local Connect worker; settings go to `io.emit` as `CONNECT_URL=...`. */
export async function connectInfra(action: 'start' | 'stop' | 'status', opts: ConnectOptions): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  if (action === 'start') return start(opts, io);
  if (action === 'stop') return stop(opts, io);
  return status(opts, io);
}

/**
 * Zipkin for the services' traces on this machine: the server's self-contained exec jar from
 * Maven Central, run on Java 17 with in-memory storage, its API and UI (/zipkin/) on
 * 127.0.0.1 only. The services export to it when started with `orderflow up --tracing`.
 */

import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { daemonArg, daemonPid, startJavaDaemon, stopDaemon, type Daemon } from './daemon.ts';
import { fetchArtifact } from './maven.ts';
import { emitAll, InfraError, portOpen, stdIo, type InfraIo, type InfraState } from './processes.ts';

export const ZIPKIN_VERSION = '3.6.1';
const PORT_ARG = '--armeria.ports[0].port';

export type ZipkinOptions = Readonly<{
  /** Infra cache root; Zipkin lives in `<dir>/zipkin`. */
  dir: string;
  port: number;
  io?: InfraIo;
  startTimeoutMs?: number;
}>;

export function zipkinPaths(dir: string) {
  const home = join(dir, 'zipkin');
  return {
    home,
    jar: join(home, `zipkin-server-${ZIPKIN_VERSION}-exec.jar`),
    pidFile: join(home, 'zipkin.pid'),
    logFile: join(home, 'zipkin.log'),
  };
}

/**
 * The server's arguments (Spring Boot properties on the command line, which win over the
 * jar's own YAML and over the environment). The one Armeria port is replaced whole, so it
 * binds 127.0.0.1 alone: QUERY_PORT would move the port but keep the wildcard address.
 * Collectors other than HTTP stay off even if the shell exports, say, KAFKA_BOOTSTRAP_SERVERS.
 */
export function zipkinArgs(o: { jar: string; port: number }): string[] {
  return [
    '-jar', o.jar,
    '--armeria.ports[0].ip=127.0.0.1',
    `${PORT_ARG}=${o.port}`,
    '--armeria.ports[0].protocols[0]=http',
    '--zipkin.storage.type=mem',
    // Bounded so the in-memory store fits the 1 GiB heap every infra JVM gets; the oldest traces go first.
    '--zipkin.storage.mem.max-spans=200000',
    '--zipkin.collector.kafka.enabled=false',
    '--zipkin.collector.rabbitmq.enabled=false',
    '--zipkin.collector.activemq.enabled=false',
    '--zipkin.collector.pulsar.enabled=false',
    '--zipkin.discovery.eureka.enabled=false',
    '--spring.main.banner-mode=off',
  ];
}

/** Fetches the exec jar into `<dir>/zipkin` (once) and returns its path. */
export async function fetchZipkin(dir: string, io: InfraIo = stdIo): Promise<string> {
  const { jar } = zipkinPaths(dir);
  await fetchArtifact({ artifact: `io.zipkin:zipkin-server:${ZIPKIN_VERSION}:jar:exec`, file: jar, what: 'zipkin', io });
  return jar;
}

function settings(port: number): Record<string, string> {
  return { ZIPKIN_URL: `http://127.0.0.1:${port}` };
}

/** True when a Zipkin server answers GET /health on `port` with its storage up. */
export async function zipkinAnswers(port: number, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${port}/health`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = (await res.body.json().catch(() => ({}))) as { status?: unknown; zipkin?: { status?: unknown } };
    return res.statusCode === 200 && body.zipkin?.status === 'UP';
  } catch {
    return false;
  }
}

const ownPid = (p: ReturnType<typeof zipkinPaths>): number | undefined => daemonPid(p.pidFile, p.jar);
const portOf = (pid: number, fallback: number): number => Number(daemonArg(pid, PORT_ARG) ?? fallback) || fallback;
const daemon = (p: ReturnType<typeof zipkinPaths>): Daemon => ({ name: 'zipkin', what: 'the server', cwd: p.home, pidFile: p.pidFile, logFile: p.logFile });

async function start(opts: ZipkinOptions, io: InfraIo): Promise<InfraState> {
  const p = zipkinPaths(opts.dir);
  const running = ownPid(p);
  if (running !== undefined) {
    const port = portOf(running, opts.port);
    io.say(`zipkin: already running (pid ${running}) on port ${port}${port === opts.port ? '' : `, not ${opts.port}; stop it first to move it`}`);
    emitAll(io, settings(port));
    return { running: true, owned: true, env: settings(port) };
  }
  if (await portOpen(opts.port)) {
    if (await zipkinAnswers(opts.port)) {
      io.say(`zipkin: a server not started by this command already answers on 127.0.0.1:${opts.port}; using it`);
      emitAll(io, settings(opts.port));
      return { running: true, owned: false, env: settings(opts.port) };
    }
    throw InfraError(`zipkin: port ${opts.port} is taken by something that is not Zipkin; set ORDERFLOW_ZIPKIN_PORT`);
  }
  mkdirSync(p.home, { recursive: true });
  await fetchZipkin(opts.dir, io);
  await startJavaDaemon(daemon(p), {
    args: zipkinArgs({ jar: p.jar, port: opts.port }),
    port: opts.port,
    answers: () => zipkinAnswers(opts.port),
    timeoutMs: opts.startTimeoutMs ?? 60_000,
    io,
  });
  io.say(`zipkin: UI at http://127.0.0.1:${opts.port}/zipkin/`);
  emitAll(io, settings(opts.port));
  return { running: true, owned: true, env: settings(opts.port) };
}

async function stop(opts: ZipkinOptions, io: InfraIo): Promise<InfraState> {
  const p = zipkinPaths(opts.dir);
  const owned = await stopDaemon(daemon(p), ownPid(p), io);
  return { running: false, owned, env: {} };
}

async function status(opts: ZipkinOptions, io: InfraIo): Promise<InfraState> {
  const p = zipkinPaths(opts.dir);
  const pid = ownPid(p);
  const port = pid !== undefined ? portOf(pid, opts.port) : opts.port;
  const answers = await zipkinAnswers(port);
  if (pid !== undefined || answers) {
    io.say(`zipkin: ${pid !== undefined ? `running, pid ${pid}` : 'a server not started by this command answers'}, http://127.0.0.1:${port}/zipkin/${answers ? '' : ' (not answering yet)'}`);
    emitAll(io, settings(port));
    return { running: answers, owned: pid !== undefined, env: settings(port) };
  }
  io.say('zipkin: stopped');
  return { running: false, owned: false, env: {} };
}

/** Starts, stops or reports the local Zipkin; settings go to `io.emit` as `ZIPKIN_URL=...`. */
export async function zipkinInfra(action: 'start' | 'stop' | 'status', opts: ZipkinOptions): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  if (action === 'start') return start(opts, io);
  if (action === 'stop') return stop(opts, io);
  return status(opts, io);
}

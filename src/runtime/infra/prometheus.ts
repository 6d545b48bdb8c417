/**
 * A local Prometheus from Debian's `prometheus` package, for the services' metrics on this
 * machine: one scrape job, `orderflow`, whose targets are the file `orderflow up` writes
 * (file_sd), every 5 s; the repository's alert rules and console templates
 * (deploy/prometheus/); on 127.0.0.1 only, its data kept a few hours.
 */

import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import type { PrometheusFiles } from './config.ts';
import { daemonArg, daemonPid, startDaemon, stopDaemon, type Daemon } from './daemon.ts';
import { writePrometheusTargets } from './prometheus-targets.ts';
import { emitAll, InfraError, portOpen, stdIo, type InfraIo, type InfraState } from './processes.ts';

export const PROMETHEUS_BIN = '/usr/bin/prometheus';
export const PROMETHEUS_INSTALL = 'apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends prometheus';
const LISTEN_ARG = '--web.listen-address';

export type PrometheusOptions = Readonly<{
  /** Infra cache root; Prometheus lives in `<dir>/prometheus`. */
  dir: string;
  port: number;
  files: PrometheusFiles;
  io?: InfraIo;
  startTimeoutMs?: number;
  /** Debian's binary unless a test says otherwise. */
  bin?: string;
}>;

export function prometheusPaths(dir: string) {
  const home = join(dir, 'prometheus');
  return {
    home,
    config: join(home, 'prometheus.yml'),
    data: join(home, 'data'),
    pidFile: join(home, 'prometheus.pid'),
    logFile: join(home, 'prometheus.log'),
  };
}

// JSON strings are YAML double-quoted scalars: a path with a colon or a quote stays one string.
const q = (s: string) => JSON.stringify(s);

/**
 * prometheus.yml, rewritten on every start. A rules glob that matches nothing (no rules
 * written yet) is no error for Prometheus, nor is a target file that lists nothing.
 */
export function prometheusConfig(o: { targetsFile: string; rules: string }): string {
  return `# Written by \`orderflow infra prometheus start\` on every start: edit prometheus.ts, not this file.
global:
  scrape_interval: 5s
  scrape_timeout: 4s
  evaluation_interval: 5s
rule_files:
  - ${q(o.rules)}
scrape_configs:
  - job_name: orderflow
    # Each service already labels its series service="<name>", the same value as its target's
    # label: honoured, it stays \`service\` rather than being renamed \`exported_service\`.
    honor_labels: true
    file_sd_configs:
      - files:
          - ${q(o.targetsFile)}
        refresh_interval: 30s
`;
}

export function prometheusArgs(o: { config: string; data: string; port: number; consoles: string; consoleLibraries: string }): string[] {
  return [
    `--config.file=${o.config}`,
    `--storage.tsdb.path=${o.data}`,
    // A dev machine's and CI's: hours of history are what a look at a run needs.
    '--storage.tsdb.retention.time=6h',
    `${LISTEN_ARG}=127.0.0.1:${o.port}`,
    `--web.console.templates=${o.consoles}`,
    `--web.console.libraries=${o.consoleLibraries}`,
    // POST /-/reload picks up edited rules without a restart (loopback only).
    '--web.enable-lifecycle',
  ];
}

function settings(port: number): Record<string, string> {
  return { PROMETHEUS_URL: `http://127.0.0.1:${port}` };
}

/** True when a Prometheus server on `port` says it is ready. */
export async function prometheusAnswers(port: number, timeoutMs = 3000): Promise<boolean> {
  try {
    const res = await request(`http://127.0.0.1:${port}/-/ready`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = await res.body.text();
    return res.statusCode === 200 && body.includes('Prometheus');
  } catch {
    return false;
  }
}

const ownPid = (p: ReturnType<typeof prometheusPaths>): number | undefined => daemonPid(p.pidFile, p.config);
const portOf = (pid: number, fallback: number): number => Number(daemonArg(pid, LISTEN_ARG)?.split(':').pop() ?? fallback) || fallback;
const daemon = (p: ReturnType<typeof prometheusPaths>): Daemon => ({ name: 'prometheus', what: 'the server', cwd: p.home, pidFile: p.pidFile, logFile: p.logFile });

async function start(opts: PrometheusOptions, io: InfraIo): Promise<InfraState> {
  const p = prometheusPaths(opts.dir);
  const running = ownPid(p);
  if (running !== undefined) {
    const port = portOf(running, opts.port);
    io.say(`prometheus: already running (pid ${running}) on port ${port}${port === opts.port ? '' : `, not ${opts.port}; stop it first to move it`}`);
    emitAll(io, settings(port));
    return { running: true, owned: true, env: settings(port) };
  }
  if (await portOpen(opts.port)) {
    if (await prometheusAnswers(opts.port)) {
      io.say(`prometheus: a server not started by this command already answers on 127.0.0.1:${opts.port}; using it (it may not scrape ${opts.files.targetsFile})`);
      emitAll(io, settings(opts.port));
      return { running: true, owned: false, env: settings(opts.port) };
    }
    throw InfraError(`prometheus: port ${opts.port} is taken by something that is not Prometheus; set ORDERFLOW_PROMETHEUS_PORT`);
  }
  const bin = opts.bin ?? PROMETHEUS_BIN;
  if (!existsSync(bin)) throw InfraError(`prometheus: ${bin} is missing; install Debian's package: ${PROMETHEUS_INSTALL}`);
  mkdirSync(p.data, { recursive: true });
  // The job needs a file to watch until `orderflow up` writes one.
  if (!existsSync(opts.files.targetsFile)) writePrometheusTargets(opts.files.targetsFile, []);
  writeFileSync(p.config, prometheusConfig({ targetsFile: opts.files.targetsFile, rules: opts.files.rules }));

  await startDaemon(daemon(p), {
    command: bin,
    args: prometheusArgs({ config: p.config, data: p.data, port: opts.port, consoles: opts.files.consoles, consoleLibraries: opts.files.consoleLibraries }),
    port: opts.port,
    answers: () => prometheusAnswers(opts.port),
    timeoutMs: opts.startTimeoutMs ?? 60_000,
    io,
  });
  io.say(`prometheus: scraping the services listed in ${opts.files.targetsFile} (written by orderflow up)`);
  emitAll(io, settings(opts.port));
  return { running: true, owned: true, env: settings(opts.port) };
}

async function stop(opts: PrometheusOptions, io: InfraIo): Promise<InfraState> {
  const p = prometheusPaths(opts.dir);
  const owned = await stopDaemon(daemon(p), ownPid(p), io);
  return { running: false, owned, env: {} };
}

async function status(opts: PrometheusOptions, io: InfraIo): Promise<InfraState> {
  const p = prometheusPaths(opts.dir);
  const pid = ownPid(p);
  const port = pid !== undefined ? portOf(pid, opts.port) : opts.port;
  const answers = await prometheusAnswers(port);
  if (pid !== undefined || answers) {
    io.say(`prometheus: ${pid !== undefined ? `running, pid ${pid}` : 'a server not started by this command answers'}, http://127.0.0.1:${port}${answers ? '' : ' (not ready yet)'}`);
    emitAll(io, settings(port));
    return { running: answers, owned: pid !== undefined, env: settings(port) };
  }
  io.say('prometheus: stopped');
  return { running: false, owned: false, env: {} };
}

/** Starts, stops or reports the local Prometheus; settings go to `io.emit` as `PROMETHEUS_URL=...`. */
export async function prometheusInfra(action: 'start' | 'stop' | 'status', opts: PrometheusOptions): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  if (action === 'start') return start(opts, io);
  if (action === 'stop') return stop(opts, io);
  return status(opts, io);
}

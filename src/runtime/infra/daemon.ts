/**
 * A server of the local infrastructure (the Kafka broker, the Kafka Connect worker, Zipkin,
 * Prometheus) started detached, its pid in a file, its output in a log, and waited for until
 * it answers; and stopped by that pid. They differ only in what they run and how they say
 * they are ready.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { cmdline, InfraError, pidAlive, readPid, seconds, tail, terminate, waitFor, type InfraIo } from './processes.ts';

export interface Daemon {
  /** Prefix of what is said: `kafka`, `connect`, `zipkin`, `prometheus`. */
  name: string;
  /** What it is, for messages: `the broker`, `the worker`, `the server`. */
  what: string;
  cwd: string;
  pidFile: string;
  logFile: string;
  /** How long `stopDaemon` waits after SIGTERM before SIGKILL; default 20 s. */
  stopGraceMs?: number;
}

export type DaemonStart = { args: string[]; port: number; answers: () => Promise<boolean>; timeoutMs: number; io: InfraIo };

/** Starts `command args…` detached and resolves with its pid once `answers()`; stops it and throws when it does not. */
export async function startDaemon(d: Daemon, o: DaemonStart & { command: string }): Promise<number> {
  const started = Date.now();
  const log = openSync(d.logFile, 'a');
  const child = spawn(o.command, o.args, { cwd: d.cwd, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  child.unref();
  if (child.pid === undefined) throw InfraError(`${d.name}: could not start ${o.command}`, { cause: spawnError });
  const pid = child.pid;
  writeFileSync(d.pidFile, `${pid}\n`);
  o.io.say(`${d.name}: started pid ${pid}, log ${d.logFile}; waiting for 127.0.0.1:${o.port}`);
  const gone = () => (pidAlive(pid) ? undefined : `${d.name}: ${d.what} exited during startup; last lines of ${d.logFile}:\n${tail(d.logFile)}`);
  const ready = await waitFor(o.answers, { timeoutMs: o.timeoutMs, intervalMs: 500, abort: gone }).catch((err) => {
    rmSync(d.pidFile, { force: true });
    throw err;
  });
  if (!ready) {
    await terminate(pid, 5000, o.io.say, d.name);
    rmSync(d.pidFile, { force: true });
    throw InfraError(`${d.name}: no answer on 127.0.0.1:${o.port} within ${seconds(started)}; last lines of ${d.logFile}:\n${tail(d.logFile)}`);
  }
  o.io.say(`${d.name}: ready on 127.0.0.1:${o.port} in ${seconds(started)}`);
  return pid;
}

/** A JVM server: `java` with the heap every one of them gets, then `args`. */
export function startJavaDaemon(d: Daemon, o: DaemonStart): Promise<number> {
  return startDaemon(d, { ...o, command: 'java', args: ['-Xms256m', '-Xmx1g', ...o.args] });
}

/** Stops the daemon whose pid is `pid` (undefined: none of ours runs); true when one was stopped. */
export async function stopDaemon(d: Daemon, pid: number | undefined, io: InfraIo): Promise<boolean> {
  rmSync(d.pidFile, { force: true });
  if (pid === undefined) {
    io.say(`${d.name}: not running (no live ${d.what.replace(/^the /, '')} started by this command)`);
    return false;
  }
  const started = Date.now();
  await terminate(pid, d.stopGraceMs ?? 20_000, io.say, d.name);
  io.say(`${d.name}: stopped pid ${pid} in ${seconds(started)}`);
  return true;
}

/** The pid in `pidFile` if it names a live process whose command line holds `marker` (ours, not a recycled pid). */
export function daemonPid(pidFile: string, marker: string): number | undefined {
  const pid = readPid(pidFile);
  if (pid === undefined || !pidAlive(pid)) return undefined;
  const cmd = cmdline(pid);
  return cmd === '' || cmd.includes(marker) ? pid : undefined;
}

/** The value of `--name=value` on a live process's command line (the port a daemon was started on). */
export function daemonArg(pid: number, name: string): string | undefined {
  const prefix = `${name}=`;
  return cmdline(pid).split(' ').find((a) => a.startsWith(prefix))?.slice(prefix.length);
}

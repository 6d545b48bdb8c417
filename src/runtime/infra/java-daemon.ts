/**
 * A JVM server of the local infrastructure (the Kafka broker, the Kafka Connect worker)
 * started detached, its pid in a file, its output in a log, and waited for until it answers;
 * and stopped by that pid. The broker and the worker differ only in what they run and how
 * they say they are ready.
 */
import { spawn } from 'node:child_process';
import { closeSync, openSync, rmSync, writeFileSync } from 'node:fs';
import { cmdline, InfraError, pidAlive, readPid, seconds, tail, terminate, waitFor, type InfraIo } from './processes.ts';

export interface JavaDaemon {
  /** Prefix of what is said: `kafka`, `connect`. */
  name: string;
  /** What it is, for messages: `the broker`, `the worker`. */
  what: string;
  cwd: string;
  pidFile: string;
  logFile: string;
}

/** Starts `java args…` detached and resolves with its pid once `answers()`; stops it and throws when it does not. */
export async function startJavaDaemon(
  d: JavaDaemon,
  o: { args: string[]; port: number; answers: () => Promise<boolean>; timeoutMs: number; io: InfraIo },
): Promise<number> {
  const started = Date.now();
  const log = openSync(d.logFile, 'a');
  const child = spawn('java', ['-Xms256m', '-Xmx1g', ...o.args], { cwd: d.cwd, detached: true, stdio: ['ignore', log, log] });
  closeSync(log);
  let spawnError: Error | undefined;
  child.once('error', (err) => (spawnError = err));
  child.unref();
  if (child.pid === undefined) throw InfraError(`${d.name}: could not start java`, { cause: spawnError });
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

/** Stops the daemon whose pid is `pid` (undefined: none of ours runs); true when one was stopped. */
export async function stopJavaDaemon(d: JavaDaemon, pid: number | undefined, io: InfraIo): Promise<boolean> {
  rmSync(d.pidFile, { force: true });
  if (pid === undefined) {
    io.say(`${d.name}: not running (no live ${d.what.replace(/^the /, '')} started by this command)`);
    return false;
  }
  const started = Date.now();
  await terminate(pid, 20_000, io.say, d.name);
  io.say(`${d.name}: stopped pid ${pid} in ${seconds(started)}`);
  return true;
}

/** The pid in `pidFile` if it names a live process running `mainClass` (ours, not a recycled pid). */
export function daemonPid(pidFile: string, mainClass: string): number | undefined {
  const pid = readPid(pidFile);
  if (pid === undefined || !pidAlive(pid)) return undefined;
  const cmd = cmdline(pid);
  return cmd === '' || cmd.includes(mainClass) ? pid : undefined;
}

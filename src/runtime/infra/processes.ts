/**
 * Small process and network helpers shared by the Kafka and PostgreSQL commands.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { connect } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineError } from '#platform/errors.ts';

export const InfraError = defineError('PLT_ERR_INFRA', 500);

/** Where the commands write: progress for people on `say` (stderr), KEY=VALUE settings on `emit` (stdout). */
export type InfraIo = Readonly<{ say: (line: string) => void; emit: (line: string) => void }>;

export const stdIo: InfraIo = Object.freeze({
  say: (line: string) => void process.stderr.write(`${line}\n`),
  emit: (line: string) => void process.stdout.write(`${line}\n`),
});

/** What a command found or left behind; `env` holds the settings a client needs. */
export type InfraState = Readonly<{ running: boolean; owned: boolean; env: Readonly<Record<string, string>> }>;

export { sleep };

/**
 * Runs a command to completion. Its stdout is captured and returned when `capture` is set,
 * otherwise both streams go to our stderr so a person sees what apt or maven is doing
 * while our stdout stays clean for the KEY=VALUE lines.
 */
export function run(cmd: string, args: readonly string[], opts: { cwd?: string; capture?: boolean } = {}): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: opts.cwd, stdio: ['ignore', opts.capture ? 'pipe' : 2, opts.capture ? 'pipe' : 2] });
    let out = '';
    let err = '';
    child.stdout?.on('data', (b: Buffer) => (out += b.toString()));
    child.stderr?.on('data', (b: Buffer) => (err += b.toString()));
    child.on('error', (cause) => reject(InfraError(`cannot run ${cmd}: ${cause.message}`, { cause })));
    child.on('close', (code, signal) => {
      if (code === 0) return resolve(out);
      // Some tools (maven) report their errors on stdout.
      const tail = `${out}\n${err}`.trim().split('\n').slice(-15).join('\n');
      reject(InfraError(`${cmd} ${args.join(' ')} failed (${signal ?? `exit ${code}`})${tail ? `:\n${tail}` : ''}`));
    });
  });
}

/** Runs a command quietly and returns its exit code (-1 when it could not start). */
export function exitCode(cmd: string, args: readonly string[]): Promise<number> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: 'ignore' });
    child.on('error', () => resolve(-1));
    child.on('close', (code) => resolve(code ?? -1));
  });
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** A zombie counts as dead: a process we started and killed stays one until its parent reaps it. */
export function pidAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
  }
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2)[0] !== 'Z';
  } catch {
    return process.platform !== 'linux';
  }
}

/** The command line of a process, or '' where /proc cannot tell. */
export function cmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').join(' ');
  } catch {
    return '';
  }
}

export function readPid(file: string): number | undefined {
  try {
    const pid = Number(readFileSync(file, 'utf8').trim());
    return Number.isInteger(pid) && pid > 0 ? pid : undefined;
  } catch {
    return undefined;
  }
}

/** Polls `check` until it returns true or `timeoutMs` passes; `abort` ends the wait early with its message. */
export async function waitFor(
  check: () => Promise<boolean> | boolean,
  opts: { timeoutMs: number; intervalMs?: number; abort?: () => string | undefined },
): Promise<boolean> {
  const deadline = Date.now() + opts.timeoutMs;
  for (;;) {
    const why = opts.abort?.();
    if (why) throw InfraError(why);
    if (await check()) return true;
    if (Date.now() >= deadline) return false;
    await sleep(opts.intervalMs ?? 250);
  }
}

/** Sends SIGTERM, then SIGKILL after `graceMs`; resolves once the process is gone. */
export async function terminate(pid: number, graceMs: number, say: (line: string) => void, name: string): Promise<void> {
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return;
  }
  if (await waitFor(() => !pidAlive(pid), { timeoutMs: graceMs, intervalMs: 200 })) return;
  say(`${name}: pid ${pid} did not exit within ${Math.round(graceMs / 1000)} s, sending SIGKILL`);
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    return;
  }
  if (!(await waitFor(() => !pidAlive(pid), { timeoutMs: 10_000, intervalMs: 200 }))) {
    throw InfraError(`${name}: pid ${pid} survived SIGKILL`);
  }
}

export const seconds = (since: number): string => `${((Date.now() - since) / 1000).toFixed(1)} s`;

/** The last `lines` lines of a log file, for an error message. */
export function tail(file: string, lines = 20): string {
  try {
    return readFileSync(file, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
  } catch {
    return '(no log)';
  }
}

/** Prints settings as `NAME=value` lines (what .ci/run and users read off an infra command). */
export function emitAll(io: InfraIo, env: Readonly<Record<string, string>>): void {
  for (const [k, v] of Object.entries(env)) io.emit(`${k}=${v}`);
}

/**
 * A small process supervisor: starts child processes one by one, waits until each answers
 * its health URL, restarts one that dies at once (with a growing backoff only when it keeps
 * dying soon after its restarts: a crash loop), and stops them all cleanly.
 * It knows nothing of orderflow; system.ts says which processes make the system.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { get } from 'node:http';
import { createServer } from 'node:net';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { OrderflowError, defineError } from '#platform/errors.ts';

export const ChildStartFailed = defineError('PLT_ERR_CHILD_START_FAILED', 500);

export type Stdio = 'inherit' | 'pipe' | 'ignore';

export interface ChildSpec {
  name: string;
  /** Absolute path of the script run with this Node (process.execPath). */
  script?: string;
  /** Or a program and its arguments, run as they are (a `podman run` of the service's image); one of script or command. */
  command?: string[];
  /**
   * Delivers a signal when the spawned process is only a client of the child (podman run
   * proxies SIGTERM to its container, but SIGKILL would kill the client and leave the
   * container running); by default the signal goes to the spawned process.
   */
  signal?: (signal: NodeJS.Signals, proc: ChildProcess) => void;
  /** The child's complete environment. */
  env: Record<string, string>;
  /** Answers 200 once the child is ready. */
  healthUrl: string;
  /**
   * Listening sockets this process holds, handed to the child as its fds 4, 5... (after
   * stdin, stdout, stderr and the IPC channel): every process of the child, the one a
   * rollout starts beside the old one included, accepts from the same sockets.
   */
  fds?: number[];
}

/** How one process of a child was replaced by a new one (Supervisor.replace). */
export interface Replaced {
  /** From asking the old process to stop until it exited (its drain). */
  stopMs: number;
  /** From spawning the new process until it was healthy. */
  startMs: number;
}

export interface SupervisorOptions {
  /** Restart a child that exits on its own; default true. */
  restart?: boolean;
  /** Where supervisor events go (and child lines when stdio is 'pipe'). */
  log?: (line: string) => void;
  /** inherit: child lines on this process's stdout/stderr, prefixed with the child's name; pipe: to `log`; ignore: dropped. */
  stdio?: Stdio;
  startTimeoutMs?: number;
  stopTimeoutMs?: number;
  /**
   * A child that dies after running at least resetAfterMs (default 30 s), or for the first
   * time, is restarted at once: every second it is down is a second of failed requests. One
   * that dies again within resetAfterMs of a restart is in a crash loop: it waits initialMs
   * (default 200 ms), doubling up to maxMs (default 5 s), so a broken child does not spin.
   */
  backoff?: { initialMs?: number; maxMs?: number; resetAfterMs?: number };
}

export interface Supervisor {
  /** Spawns the child and resolves once it is healthy; rejects with its last output lines when it cannot start. */
  start(spec: ChildSpec): Promise<void>;
  pid(name: string): number | undefined;
  /**
   * Sends `signal` (SIGKILL by default). With restartAfterMs the child is started again that
   * long after the kill, not earlier, whatever the backoff and even when restart is off.
   */
  kill(name: string, signal?: NodeJS.Signals, opts?: { restartAfterMs?: number }): void;
  /**
   * kill -9 now, start again after restartAfterMs (counted in restarts); resolves once the
   * new process answers its health URL, rejects when it does not within startTimeoutMs.
   */
  crash(name: string, restartAfterMs: number): Promise<void>;
  restarts(name: string): number;
  waitHealthy(timeoutMs?: number): Promise<void>;
  /** SIGTERM, then SIGKILL after stopTimeoutMs; resolves when the child is gone. */
  stopChild(name: string): Promise<void>;
  /**
   * A new process for the child, as a rollout does: by default the old one is stopped
   * (SIGTERM: it drains), then the new one started and awaited healthy; with `surge` the new
   * one is started first, beside the old one, which is stopped once the new one listens (for
   * a child on inherited sockets, `fds`: it then says so over IPC, as a health probe could be
   * answered by the old one). Not counted in restarts: nothing failed.
   */
  replace(name: string, opts?: { surge?: boolean }): Promise<Replaced>;
  /** Stops every child; idempotent. */
  stop(): Promise<void>;
}

interface Child {
  spec: ChildSpec;
  proc?: ChildProcess;
  exited?: Promise<void>;
  healthy: boolean;
  stopped: boolean;
  restarts: number;
  /** The next crash-loop delay; 0 while the child is not in a loop. */
  delayMs: number;
  /** The running process is a restart (not the first start), so dying soon is a loop. */
  restarted: boolean;
  /** A process being replaced: its exit is expected, not one to restart after. */
  retiring?: ChildProcess;
  startedAt: number;
  timer?: NodeJS.Timeout;
  /** When a kill asked for a restart at a set time (epoch ms). */
  restartAt?: number;
  /** Told when a new process of this child is spawned (true) or the child is stopped (false). */
  onSpawn: ((spawned: boolean) => void)[];
  tail: string[];
  onStartExit?: (detail: string) => void;
}

const preload = fileURLToPath(new URL('./child-preload.ts', import.meta.url));
const TAIL = 30;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A port free right now on 127.0.0.1, for a child to take. */
export async function freePort(): Promise<number> {
  return (await freePorts(1))[0];
}

/**
 * `n` distinct free ports, held open together while they are chosen: asked one by one, the
 * system may hand the same port out twice (it happened: two services of a system got one
 * port, and the gateway's health check was answered by orders).
 */
export async function freePorts(n: number): Promise<number[]> {
  const servers = Array.from({ length: n }, () => createServer());
  try {
    await Promise.all(servers.map((server) => new Promise<void>((resolve, reject) => server.once('error', reject).listen(0, '127.0.0.1', resolve))));
    return servers.map((server) => (server.address() as { port: number }).port);
  } finally {
    await Promise.all(servers.map((server) => new Promise((resolve) => (server.listening ? server.close(resolve) : resolve(undefined)))));
  }
}

/** GET `url`; resolves to the status code, or undefined when nothing answers in time. */
export function probe(url: string, timeoutMs = 1_000): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = get(url, { agent: false, timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(undefined));
  });
}

export function createSupervisor(opts: SupervisorOptions = {}): Supervisor {
  const stdio = opts.stdio ?? 'inherit';
  const say = opts.log ?? (stdio === 'inherit' ? (line: string) => process.stderr.write(line + '\n') : () => {});
  const initialMs = opts.backoff?.initialMs ?? 200;
  const maxMs = opts.backoff?.maxMs ?? 5_000;
  const resetAfterMs = opts.backoff?.resetAfterMs ?? 30_000;
  const stopTimeoutMs = opts.stopTimeoutMs ?? 20_000;
  const children = new Map<string, Child>();
  const width = () => Math.max(8, ...[...children.keys()].map((n) => n.length));
  let stopping: Promise<void> | undefined;

  function output(child: Child, line: string, stream: 'stdout' | 'stderr') {
    child.tail.push(line);
    if (child.tail.length > TAIL) child.tail.shift();
    if (stdio === 'ignore') return;
    const prefix = `${child.spec.name.padEnd(width())} | `;
    if (stdio === 'pipe') return opts.log?.(prefix + line);
    process[stream].write(prettyLine(line).split('\n').map((l) => prefix + l).join('\n') + '\n');
  }

  function spawnChild(child: Child): void {
    const [program, ...args] = child.spec.command ?? [process.execPath, '--import', preload, child.spec.script!];
    const proc = spawn(program, args, {
      env: child.spec.env,
      // Own process group: a Ctrl-C in the terminal reaches the supervisor only, which then
      // stops the children in order. The IPC channel tells a child when the supervisor is gone.
      detached: true,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc', ...(child.spec.fds ?? [])],
    });
    child.proc = proc;
    child.startedAt = Date.now();
    for (const notify of child.onSpawn.splice(0)) notify(true);
    createInterface({ input: proc.stdout! }).on('line', (line) => output(child, line, 'stdout'));
    createInterface({ input: proc.stderr! }).on('line', (line) => output(child, line, 'stderr'));
    child.exited = new Promise((resolve) => {
      proc.once('error', (err) => output(child, `spawn failed: ${err.message}`, 'stderr'));
      proc.once('exit', (code, signal) => {
        const current = child.proc === proc;
        if (current) child.proc = undefined;
        resolve();
        // A process replaced (Supervisor.replace) is meant to go: no restart after it.
        if (current && child.retiring !== proc) onExit(child, code, signal);
      });
    });
  }

  function onExit(child: Child, code: number | null, signal: NodeJS.Signals | null): void {
    const how = signal ? `killed by ${signal}` : `exited with code ${code}`;
    if (child.stopped || stopping) return;
    if (!child.healthy) return child.onStartExit?.(how);
    if (child.restartAt !== undefined) {
      const at = child.restartAt;
      child.restartAt = undefined;
      child.restarts++;
      say(`[supervisor] ${child.spec.name} ${how}; restart #${child.restarts} in ${Math.max(0, at - Date.now())} ms, as asked`);
      return respawnAt(child, at, false);
    }
    if (opts.restart === false) {
      say(`[supervisor] ${child.spec.name} ${how}; not restarting`);
      return;
    }
    const delay = restartDelay(child);
    child.restarts++;
    say(`[supervisor] ${child.spec.name} ${how}; restart #${child.restarts} ${delay === 0 ? 'at once' : `in ${delay} ms (crash loop)`}`);
    respawnAt(child, Date.now() + delay, true);
  }

  // At once, unless the child died within resetAfterMs of a restart: then the crash-loop
  // backoff, which starts at initialMs and doubles, and is forgotten once a process lives long.
  function restartDelay(child: Child): number {
    const looping = child.restarted && Date.now() - child.startedAt < resetAfterMs;
    if (!looping) {
      child.delayMs = 0;
      return 0;
    }
    child.delayMs = child.delayMs === 0 ? initialMs : Math.min(child.delayMs * 2, maxMs);
    return child.delayMs;
  }

  /** `automatic`: a restart of the supervisor's own (dying soon after it is a loop), not one asked for by a kill. */
  function respawnAt(child: Child, at: number, automatic: boolean): void {
    clearTimeout(child.timer);
    // A timer may fire a millisecond early; a restart asked for at a time must not be.
    child.timer = setTimeout(() => {
      child.timer = undefined;
      if (Date.now() < at) return respawnAt(child, at, automatic);
      if (!child.stopped && !stopping) {
        child.restarted = automatic;
        spawnChild(child);
      }
    }, Math.max(0, at - Date.now()));
  }

  function send(child: Child, proc: ChildProcess, signal: NodeJS.Signals): void {
    if (child.spec.signal) child.spec.signal(signal, proc);
    else proc.kill(signal);
  }

  function kill(name: string, signal: NodeJS.Signals = 'SIGKILL', killOpts: { restartAfterMs?: number } = {}): void {
    const child = children.get(name);
    if (!child) return;
    if (killOpts.restartAfterMs !== undefined) {
      const restartAt = Date.now() + killOpts.restartAfterMs;
      // Already dead (waiting for its backoff, or not restarted): restart at the time asked for.
      if (!child.proc) return child.stopped || stopping ? undefined : respawnAt(child, restartAt, false);
      child.restartAt = restartAt;
    }
    if (child.proc) send(child, child.proc, signal);
  }

  async function crash(name: string, restartAfterMs: number): Promise<void> {
    const child = children.get(name);
    if (!child) throw ChildStartFailed(`${name} is not supervised`);
    if (child.stopped || stopping) throw ChildStartFailed(`${name} is stopped`);
    const respawned = new Promise<boolean>((resolve) => child.onSpawn.push(resolve));
    kill(name, 'SIGKILL', { restartAfterMs });
    if (!(await respawned)) throw ChildStartFailed(`${name} was stopped before its restart`);
    await untilHealthy(child, opts.startTimeoutMs ?? 60_000);
  }

  function failure(child: Child, why: string): OrderflowError {
    const lines = child.tail.length ? `; its last output:\n${child.tail.map((l) => `  ${l}`).join('\n')}` : '; it printed nothing';
    return ChildStartFailed(`${child.spec.name} did not start: ${why}${lines}`);
  }

  async function untilHealthy(child: Child, timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (child.stopped) throw ChildStartFailed(`${child.spec.name} was stopped`);
      if (child.proc && (await probe(child.spec.healthUrl, 1_000)) === 200) return;
      await sleep(100);
    }
    throw failure(child, `no healthy answer from ${child.spec.healthUrl} within ${timeoutMs} ms`);
  }

  async function stopChild(name: string): Promise<void> {
    const child = children.get(name);
    if (!child) return;
    child.stopped = true;
    clearTimeout(child.timer);
    for (const notify of child.onSpawn.splice(0)) notify(false);
    const proc = child.proc;
    if (!proc || !child.exited) return;
    await stopProcess(child, proc, child.exited);
  }

  /** SIGTERM to one process of the child, SIGKILL after stopTimeoutMs; resolves when it exited. */
  async function stopProcess(child: Child, proc: ChildProcess, exited: Promise<void>): Promise<void> {
    const name = child.spec.name;
    send(child, proc, 'SIGTERM');
    let timer: NodeJS.Timeout | undefined;
    const late = new Promise<'late'>((resolve) => { timer = setTimeout(() => resolve('late'), stopTimeoutMs); });
    if ((await Promise.race([exited, late])) === 'late') {
      say(`[supervisor] ${name} did not stop within ${stopTimeoutMs} ms; killing it`);
      send(child, proc, 'SIGKILL');
      await exited;
    }
    clearTimeout(timer);
  }

  async function replace(name: string, replaceOpts: { surge?: boolean } = {}): Promise<Replaced> {
    const child = children.get(name);
    if (!child) throw ChildStartFailed(`${name} is not supervised`);
    if (child.stopped || stopping) throw ChildStartFailed(`${name} is stopped`);
    const old = child.proc;
    const oldExited = child.exited;
    if (!old || !oldExited) throw ChildStartFailed(`${name} is not running (restarting after a crash?)`);
    child.retiring = old;
    const timeoutMs = opts.startTimeoutMs ?? 60_000;
    try {
      let stopMs = 0;
      if (!replaceOpts.surge) {
        const t0 = Date.now();
        await stopProcess(child, old, oldExited);
        stopMs = Date.now() - t0;
      }
      // Stopped meanwhile (Ctrl-C during a rollout): a process spawned now would outlive the stop.
      if (child.stopped || stopping) throw ChildStartFailed(`${name} was stopped during its replacement`);
      const t1 = Date.now();
      spawnChild(child);
      const fresh = child.proc!;
      try {
        if (child.spec.fds?.length) await untilListening(child, fresh, timeoutMs);
        await untilHealthy(child, timeoutMs);
      } catch (err) {
        // A surge that fails leaves the old process serving, the child's again; the new one goes.
        if (replaceOpts.surge && old.exitCode === null && old.signalCode === null) {
          clearTimeout(child.timer);
          child.proc = old;
          child.exited = oldExited;
          send(child, fresh, 'SIGKILL');
        }
        throw err;
      }
      const startMs = Date.now() - t1;
      if (replaceOpts.surge) {
        const t2 = Date.now();
        await stopProcess(child, old, oldExited);
        stopMs = Date.now() - t2;
      }
      return { stopMs, startMs };
    } finally {
      child.retiring = undefined;
    }
  }

  /** Resolves when the process says it listens (a child on inherited sockets sends {orderflow: 'listening'}). */
  function untilListening(child: Child, proc: ChildProcess, timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const done = (err?: Error) => {
        clearTimeout(timer);
        proc.off('message', onMessage).off('exit', onExit);
        if (err) reject(err);
        else resolve();
      };
      const onMessage = (m: unknown) => {
        if ((m as { orderflow?: unknown } | null)?.orderflow === 'listening') done();
      };
      const onExit = (code: number | null, signal: NodeJS.Signals | null) => done(failure(child, signal ? `killed by ${signal}` : `exited with code ${code}`));
      const timer = setTimeout(() => done(failure(child, `it did not say it listens within ${timeoutMs} ms`)), timeoutMs);
      proc.on('message', onMessage).once('exit', onExit);
    });
  }

  return {
    async start(spec) {
      if (stopping) throw ChildStartFailed(`${spec.name} not started: the supervisor is stopping`);
      if (children.has(spec.name)) throw ChildStartFailed(`${spec.name} is already supervised`);
      const child: Child = { spec, healthy: false, stopped: false, restarts: 0, delayMs: 0, restarted: false, startedAt: 0, onSpawn: [], tail: [] };
      children.set(spec.name, child);
      const exitedEarly = new Promise<never>((_, reject) => {
        child.onStartExit = (how) => reject(failure(child, how));
      });
      spawnChild(child);
      try {
        await Promise.race([untilHealthy(child, opts.startTimeoutMs ?? 60_000), exitedEarly]);
        child.healthy = true;
      } catch (err) {
        await stopChild(spec.name);
        throw err;
      } finally {
        child.onStartExit = undefined;
        exitedEarly.catch(() => undefined);
      }
    },
    pid: (name) => children.get(name)?.proc?.pid,
    kill,
    crash,
    restarts: (name) => children.get(name)?.restarts ?? 0,
    async waitHealthy(timeoutMs = 60_000) {
      const deadline = Date.now() + timeoutMs;
      for (const child of children.values()) {
        if (child.stopped) continue;
        await untilHealthy(child, Math.max(0, deadline - Date.now())).catch((err) => {
          throw ChildStartFailed(`${child.spec.name} is not healthy`, { cause: err });
        });
      }
    },
    stopChild,
    replace,
    stop() {
      stopping ??= Promise.all([...children.keys()].map(stopChild)).then(() => undefined);
      return stopping;
    },
  };
}

const levels: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO ', 40: 'WARN ', 50: 'ERROR', 60: 'FATAL' };
const quiet = new Set(['level', 'time', 'pid', 'hostname', 'name', 'service', 'msg', 'err']);

/** A pino JSON line made readable for a terminal; other lines are left alone. */
export function prettyLine(line: string): string {
  if (!line.startsWith('{')) return line;
  let rec: Record<string, unknown>;
  try {
    rec = JSON.parse(line);
  } catch {
    return line;
  }
  const time = typeof rec.time === 'number' ? new Date(rec.time).toISOString().slice(11, 23) : '';
  const extra = Object.entries(rec).filter(([k]) => !quiet.has(k)).map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`);
  // The error and its causes, without the stack frames: a terminal is for reading.
  const err = rec.err as { stack?: string; message?: string } | undefined;
  const tail = err ? '\n' + (err.stack ?? err.message ?? '').split('\n').filter((l) => !/^\s+at /.test(l)).join('\n') : '';
  return `${time} ${levels[rec.level as number] ?? rec.level} ${rec.msg ?? ''}${extra.length ? ' ' + extra.join(' ') : ''}${tail}`;
}

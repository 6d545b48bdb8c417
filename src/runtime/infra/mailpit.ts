/**
 * Mailpit, a real SMTP server that keeps what it receives, for the e-mails of development and
 * tests: built from its Go module with `go install` into `<dir>/mailpit/bin` (once), run on
 * 127.0.0.1 with an SMTP port and an HTTP port for its REST API (test/support/mailpit.ts reads
 * it) and web UI; its mailbox a SQLite file under the infra dir, emptied on every start.
 *
 * The Go module has the API and the SMTP server but not the web UI's script and stylesheet
 * (Mailpit's repository builds them with npm and does not commit them), so the UI page served
 * by a `go install` build is blank; the API is complete. Building them here would mean npm ci
 * of Mailpit's own lock file, and one package it pins (sass-embedded 1.108.1) is not served by
 * the npm registry this project reaches.
 */

import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { request } from 'undici';
import { daemonArg, daemonPid, startDaemon, stopDaemon, type Daemon } from './daemon.ts';
import { installedGoTool, installGoTool, type GoTool } from './go-tool.ts';
import { emitAll, InfraError, portOpen, stdIo, type InfraIo, type InfraState } from './processes.ts';

export const MAILPIT_VERSION = 'v1.33.1';
export const MAILPIT_MODULE = 'github.com/axllent/mailpit';
const SMTP_ARG = '--smtp';
const HTTP_ARG = '--listen';

export type MailpitOptions = Readonly<{
  /** Infra cache root; Mailpit lives in `<dir>/mailpit`. */
  dir: string;
  smtpPort: number;
  httpPort: number;
  io?: InfraIo;
  startTimeoutMs?: number;
}>;

export function mailpitPaths(dir: string) {
  const home = join(dir, 'mailpit');
  return {
    home,
    gobin: join(home, 'bin'),
    bin: join(home, 'bin', 'mailpit'),
    /** Written after a build, holding the version built: a binary without it is half made or another version (go-tool.ts). */
    installed: join(home, 'bin', 'installed.txt'),
    database: join(home, 'data', 'mailpit.db'),
    pidFile: join(home, 'mailpit.pid'),
    logFile: join(home, 'mailpit.log'),
  };
}

const MAILPIT: GoTool = { name: 'mailpit', pkg: MAILPIT_MODULE, version: MAILPIT_VERSION, needsGo: '1.26' };

/** The binary when the pinned version is built in `dir`, else undefined. */
export function installedMailpit(dir: string): string | undefined {
  return installedGoTool(mailpitPaths(dir).gobin, MAILPIT);
}

/** Builds Mailpit into `<dir>/mailpit/bin` unless that version is there already (Mailpit 1.33 needs Go 1.26). */
export function buildMailpit(dir: string, io: InfraIo = stdIo): Promise<string> {
  return installGoTool(mailpitPaths(dir).gobin, MAILPIT, io);
}

/**
 * Mailpit's arguments. Flags win over Mailpit's MP_* environment variables, so a shell that
 * exports some still gets these. Any SMTP user and password is accepted, over plain SMTP too,
 * so a service configured with credentials sends here unchanged.
 */
export function mailpitArgs(o: { smtpPort: number; httpPort: number; database: string }): string[] {
  return [
    `${SMTP_ARG}=127.0.0.1:${o.smtpPort}`,
    `${HTTP_ARG}=127.0.0.1:${o.httpPort}`,
    `--database=${o.database}`,
    '--smtp-auth-accept-any',
    '--smtp-auth-allow-insecure',
    // No lookups of the sender's address: this machine may have no DNS to ask.
    '--smtp-disable-rdns',
    '--disable-version-check',
    // Bounded, the oldest pruned first, far above what a test run sends.
    '--max=10000',
  ];
}

function settings(smtpPort: number, httpPort: number): Record<string, string> {
  return { SMTP_URL: `smtp://127.0.0.1:${smtpPort}`, MAILPIT_URL: `http://127.0.0.1:${httpPort}` };
}

/** True when a Mailpit answers on `httpPort` (ready, and its API says it is Mailpit). */
export async function mailpitAnswers(httpPort: number, timeoutMs = 3000): Promise<boolean> {
  try {
    const ready = await request(`http://127.0.0.1:${httpPort}/readyz`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    await ready.body.dump();
    if (ready.statusCode !== 200) return false;
    const res = await request(`http://127.0.0.1:${httpPort}/api/v1/info`, { headersTimeout: timeoutMs, bodyTimeout: timeoutMs });
    const body = (await res.body.json().catch(() => ({}))) as { Version?: unknown };
    return res.statusCode === 200 && typeof body.Version === 'string';
  } catch {
    return false;
  }
}

const ownPid = (p: ReturnType<typeof mailpitPaths>): number | undefined => daemonPid(p.pidFile, p.bin);
const portOf = (pid: number, name: string, fallback: number): number => Number(daemonArg(pid, name)?.split(':').pop() ?? fallback) || fallback;
const daemon = (p: ReturnType<typeof mailpitPaths>): Daemon => ({ name: 'mailpit', what: 'the server', cwd: p.home, pidFile: p.pidFile, logFile: p.logFile });

async function start(opts: MailpitOptions, io: InfraIo): Promise<InfraState> {
  if (opts.smtpPort === opts.httpPort) throw InfraError(`mailpit: the SMTP and HTTP ports are both ${opts.smtpPort}; set ORDERFLOW_MAILPIT_SMTP_PORT or ORDERFLOW_MAILPIT_HTTP_PORT`);
  const p = mailpitPaths(opts.dir);
  const running = ownPid(p);
  if (running !== undefined) {
    const smtp = portOf(running, SMTP_ARG, opts.smtpPort);
    const http = portOf(running, HTTP_ARG, opts.httpPort);
    const moved = smtp !== opts.smtpPort || http !== opts.httpPort;
    io.say(`mailpit: already running (pid ${running}), SMTP on ${smtp}, HTTP on ${http}${moved ? `, not ${opts.smtpPort} and ${opts.httpPort}; stop it first to move it` : ''}`);
    emitAll(io, settings(smtp, http));
    return { running: true, owned: true, env: settings(smtp, http) };
  }
  if (await portOpen(opts.httpPort)) {
    if ((await mailpitAnswers(opts.httpPort)) && (await portOpen(opts.smtpPort))) {
      io.say(`mailpit: a Mailpit not started by this command already answers on 127.0.0.1:${opts.httpPort}; using it, with SMTP on ${opts.smtpPort}`);
      emitAll(io, settings(opts.smtpPort, opts.httpPort));
      return { running: true, owned: false, env: settings(opts.smtpPort, opts.httpPort) };
    }
    throw InfraError(`mailpit: port ${opts.httpPort} is taken by something that is not Mailpit; set ORDERFLOW_MAILPIT_HTTP_PORT`);
  }
  if (await portOpen(opts.smtpPort)) throw InfraError(`mailpit: SMTP port ${opts.smtpPort} is taken; set ORDERFLOW_MAILPIT_SMTP_PORT`);
  const bin = await buildMailpit(opts.dir, io);
  // A fresh mailbox on every start, as Zipkin's traces are: what a run finds is what it sent.
  mkdirSync(join(p.home, 'data'), { recursive: true });
  for (const suffix of ['', '-wal', '-shm']) rmSync(`${p.database}${suffix}`, { force: true });
  await startDaemon(daemon(p), {
    command: bin,
    args: mailpitArgs({ smtpPort: opts.smtpPort, httpPort: opts.httpPort, database: p.database }),
    port: opts.httpPort,
    answers: async () => (await mailpitAnswers(opts.httpPort)) && (await portOpen(opts.smtpPort)),
    timeoutMs: opts.startTimeoutMs ?? 30_000,
    io,
  });
  io.say(`mailpit: SMTP on 127.0.0.1:${opts.smtpPort}, API at http://127.0.0.1:${opts.httpPort}/api/v1/ (the web UI's assets are not in the Go module: its page stays blank)`);
  emitAll(io, settings(opts.smtpPort, opts.httpPort));
  return { running: true, owned: true, env: settings(opts.smtpPort, opts.httpPort) };
}

async function stop(opts: MailpitOptions, io: InfraIo): Promise<InfraState> {
  const p = mailpitPaths(opts.dir);
  const owned = await stopDaemon(daemon(p), ownPid(p), io);
  return { running: false, owned, env: {} };
}

async function status(opts: MailpitOptions, io: InfraIo): Promise<InfraState> {
  const p = mailpitPaths(opts.dir);
  const pid = ownPid(p);
  const smtp = pid !== undefined ? portOf(pid, SMTP_ARG, opts.smtpPort) : opts.smtpPort;
  const http = pid !== undefined ? portOf(pid, HTTP_ARG, opts.httpPort) : opts.httpPort;
  const answers = (await mailpitAnswers(http)) && (await portOpen(smtp));
  if (pid !== undefined || answers) {
    io.say(`mailpit: ${pid !== undefined ? `running, pid ${pid}` : 'a Mailpit not started by this command answers'}, SMTP on 127.0.0.1:${smtp}, http://127.0.0.1:${http}${answers ? '' : ' (not answering yet)'}`);
    emitAll(io, settings(smtp, http));
    return { running: answers, owned: pid !== undefined, env: settings(smtp, http) };
  }
  io.say(`mailpit: stopped${installedMailpit(opts.dir) ? '' : ` (not built yet in ${p.gobin})`}`);
  return { running: false, owned: false, env: {} };
}

/** Starts, stops or reports the local Mailpit; settings go to `io.emit` as `SMTP_URL=...` and `MAILPIT_URL=...`. */
export async function mailpitInfra(action: 'start' | 'stop' | 'status', opts: MailpitOptions): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  if (action === 'start') return start(opts, io);
  if (action === 'stop') return stop(opts, io);
  return status(opts, io);
}

/**
 * The control channel of a running `orderflow up`: a small HTTP API on a Unix socket in its
 * data dir (<data-dir>/orderflow.sock), through which `orderflow rollout` asks the supervisor,
 * which lives in the `up` process, to restart its instances.
 *
 * A Unix socket, not a port: a system is named by its data dir everywhere else (--data-dir),
 * two systems on one machine cannot collide on it, and only who may write the data dir may
 * reach it (the socket is 0600): no port to choose, to protect or to find.
 *
 * POST /rollout (?services=orders,gateway: only theirs) answers as it goes, one JSON object a line: {"line"} per step, then
 * {"report"} or {"error": {"code","message"}}. GET /instances lists the instances.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, request, type Server } from 'node:http';
import { connect } from 'node:net';
import { join } from 'node:path';
import { OrderflowError, defineError, isOrderflowError } from '#platform/errors.ts';
import type { RolloutReport } from './rollout.ts';
import type { Instance } from './system.ts';

export const NoSystemRunning = defineError('PLT_ERR_NO_SYSTEM_RUNNING', 404);
export const ControlFailed = defineError('PLT_ERR_CONTROL_FAILED', 500);

/** Where the control socket of the system with this data dir is. */
export const controlSocketPath = (dataDir: string) => join(dataDir, 'orderflow.sock');

// A Unix socket's path is bounded (sun_path: 108 bytes with its NUL).
const MAX_SOCKET_PATH = 107;

export interface Controlled {
  instances(): Instance[];
  rollout(opts: { log: (line: string) => void; services?: readonly string[] }): Promise<RolloutReport>;
}

export interface ControlServer {
  path: string;
  close(): Promise<void>;
}

export async function startControlServer(dataDir: string, system: Controlled): Promise<ControlServer> {
  const path = controlSocketPath(dataDir);
  if (Buffer.byteLength(path) > MAX_SOCKET_PATH) throw ControlFailed(`the control socket's path ${path} is longer than a Unix socket allows (${MAX_SOCKET_PATH} bytes): use a shorter --data-dir`);
  if (existsSync(path)) {
    if (await answers(path)) throw ControlFailed(`another orderflow up runs with this data dir (its control socket ${path} answers)`);
    unlinkSync(path); // left by an `up` that was killed
  }
  const server: Server = createServer((req, res) => {
    if (req.method === 'GET' && req.url === '/instances') {
      res.setHeader('content-type', 'application/json');
      return res.end(JSON.stringify(system.instances()));
    }
    const url = new URL(req.url ?? '/', 'http://control');
    if (req.method === 'POST' && url.pathname === '/rollout') {
      res.writeHead(200, { 'content-type': 'application/x-ndjson' });
      const send = (o: unknown) => res.write(`${JSON.stringify(o)}\n`);
      const services = url.searchParams.get('services')?.split(',').filter(Boolean);
      system.rollout({ log: (line) => send({ line }), services }).then(
        (report) => res.end(`${JSON.stringify({ report })}\n`),
        (err: Error) => res.end(`${JSON.stringify({ error: { code: isOrderflowError(err) ? err.code : 'PLT_ERR_CONTROL_FAILED', message: err.message } })}\n`),
      );
      return;
    }
    res.writeHead(404, { 'content-type': 'application/json' }).end(JSON.stringify({ error: { code: 'PLT_ERR_NOT_FOUND', message: `no ${req.method} ${req.url} here` } }));
  });
  await new Promise<void>((resolve, reject) => server.once('error', reject).listen(path, resolve));
  chmodSync(path, 0o600);
  return {
    path,
    close: () => new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    }),
  };
}

function answers(path: string): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = connect(path);
    socket.once('connect', () => {
      socket.destroy();
      resolve(true);
    });
    socket.once('error', () => resolve(false));
  });
}

/**
 * Asks the system with this data dir for a rollout; `onLine` gets each step as it happens.
 * Rejects with PLT_ERR_NO_SYSTEM_RUNNING when no `orderflow up` runs there.
 */
export function requestRollout(dataDir: string, onLine: (line: string) => void, services?: readonly string[]): Promise<RolloutReport> {
  const path = controlSocketPath(dataDir);
  return new Promise((resolve, reject) => {
    const query = services?.length ? `?services=${encodeURIComponent(services.join(','))}` : '';
    const req = request({ socketPath: path, method: 'POST', path: `/rollout${query}` }, (res) => {
      let buffered = '';
      let settled = false;
      res.setEncoding('utf8');
      res.on('data', (chunk: string) => {
        buffered += chunk;
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const msg = JSON.parse(buffered.slice(0, nl)) as { line?: string; report?: RolloutReport; error?: { code: string; message: string } };
          buffered = buffered.slice(nl + 1);
          if (msg.line !== undefined) onLine(msg.line);
          if (msg.report) {
            settled = true;
            resolve(msg.report);
          }
          if (msg.error) {
            settled = true;
            reject(new OrderflowError(msg.error.code, msg.error.message, { statusCode: 500 }));
          }
        }
      });
      res.on('end', () => {
        if (!settled) reject(ControlFailed('the system ended the rollout without a report (did orderflow up stop?)'));
      });
    });
    req.once('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') reject(NoSystemRunning(`no orderflow up runs with data dir ${dataDir} (nothing answers on ${path}); start one with: orderflow up --replicas 2 --data-dir ${dataDir}`));
      else reject(ControlFailed(`cannot reach the system at ${path}: ${err.message}`, { cause: err }));
    });
    req.end();
  });
}

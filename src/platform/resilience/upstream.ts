/**
 * A keep-alive connection pool to one upstream service with its policy (timeout, breaker,
 * retries for idempotent calls). Bodies are read once into bytes, so a proxy can pass them
 * on without parsing, and a caller that needs JSON parses it once.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { createHttpPolicy, type BreakerOptions, type BreakerState, type HttpPolicy } from './http-policy.ts';

export interface UpstreamOptions {
  name: string;
  /** Origin, e.g. http://127.0.0.1:8081 */
  url: string;
  /** Sockets kept to the upstream; default 32. */
  connections?: number;
  /** Per-attempt timeout, headers and body included; default 5 s. */
  timeoutMs?: number;
  /** Extra attempts for the idempotent methods GET, HEAD, PUT and DELETE (RFC 9110 §9.2.2); default 2. POST and PATCH are never retried. */
  retries?: number;
  breaker?: BreakerOptions | false;
}

export interface UpstreamRequest {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  headers?: Record<string, string>;
  body?: Buffer | string;
  /** Aborts the call, retries included: e.g. the deadline of the request that makes it. */
  signal?: AbortSignal;
}

export interface UpstreamResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  body: Buffer;
}

export interface Upstream {
  readonly name: string;
  readonly url: string;
  /** Calls the upstream under its policy; rejects with PLT_ERR_DEPENDENCY_UNAVAILABLE when it cannot answer. */
  request(req: UpstreamRequest): Promise<UpstreamResponse>;
  /** One bare GET with its own short timeout, past the breaker and retries: for health probes. */
  probe(path: string, timeoutMs: number): Promise<UpstreamResponse>;
  breakerState(): BreakerState;
  close(): Promise<void>;
}

const idempotentMethods = new Set<UpstreamRequest['method']>(['GET', 'HEAD', 'PUT', 'DELETE']);

// A coded answer that blames the upstream's OWN dependency (ORD_ERR_DEPENDENCY_UNAVAILABLE
// from orders when payments is down): the upstream is up and answering. Counting it would
// open this breaker too and turn one service's outage into the whole API's.
// Nor is load shed on purpose (PLT_ERR_OVERLOADED, ORD_ERR_SAGA_BACKLOG_FULL): the upstream
// refuses new work it could not finish in time, and serves the rest; an open breaker here
// would refuse its reads too, and keep refusing after its backlog drained.
const blamesItsDependency = (body: Buffer) => body.length < 4096 && /"code":"[A-Z]+_ERR_(DEPENDENCY_|OVERLOADED|SAGA_BACKLOG_FULL)/.test(body.toString('utf8'));

/** An answer that means "the upstream cannot serve right now", as opposed to a bug in one request. */
export const isUnavailableAnswer = (r: unknown): boolean => {
  const { statusCode: status, body } = r as UpstreamResponse;
  return (status === 502 || status === 503 || status === 504) && !blamesItsDependency(body);
};

/** Opens the pool; build one per upstream at startup and share it. */
export function createUpstream(opts: UpstreamOptions): Upstream {
  const timeoutMs = opts.timeoutMs ?? 5_000;
  const pool = new Pool(opts.url, {
    connections: opts.connections ?? 32,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    // The policy's timeout governs; these only stop a socket from lingering forever.
    headersTimeout: timeoutMs * 2,
    bodyTimeout: timeoutMs * 2,
  });
  const policy: HttpPolicy = createHttpPolicy({
    name: opts.name,
    timeoutMs,
    retries: opts.retries ?? 2,
    breaker: opts.breaker,
    isFailureResult: isUnavailableAnswer,
  });

  async function send(req: UpstreamRequest, signal: AbortSignal): Promise<UpstreamResponse> {
    const res = await pool.request({ method: req.method, path: req.path, headers: req.headers, body: req.body, signal: req.signal ? AbortSignal.any([signal, req.signal]) : signal });
    const body = Buffer.from(await res.body.arrayBuffer());
    return { statusCode: res.statusCode, headers: res.headers, body };
  }

  return {
    name: opts.name,
    url: opts.url,
    request: (req) => policy.execute((signal) => send(req, signal), { idempotent: idempotentMethods.has(req.method) }),
    probe: (path, probeTimeoutMs) => send({ method: 'GET', path }, AbortSignal.timeout(probeTimeoutMs)),
    breakerState: () => policy.breakerState(),
    close: () => pool.close(),
  };
}

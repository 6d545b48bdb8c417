/**
 * The timeouts of every HTTP server (services and gateway), and the answer to a client that
 * breaks them. Node's defaults let a request whose headers or body never finish hold its
 * socket for minutes (and Fastify turns the request and idle timeouts off altogether), so a
 * few slow clients could hold every socket; here each wait is bounded:
 * - headers: the request line and headers must arrive within headersTimeoutMs;
 * - request: the whole request, body included, within requestTimeoutMs (a 408 otherwise);
 * - idle: a socket silent for idleTimeoutMs during a request is closed;
 * - keep-alive: an idle socket between requests is kept keepAliveTimeoutMs.
 */
import { STATUS_CODES, type ServerOptions } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyServerOptions } from 'fastify';
import { loadHttpTimeouts, type HttpTimeouts } from '../config.ts';
import { errorBody } from './errors.ts';

export type { HttpTimeouts };

/** The defaults of config.ts, for apps built without a config (tests, tools). */
export const defaultHttpTimeouts = loadHttpTimeouts({});

// Node's own codes of a client that broke the protocol or a timeout, and our answers.
const clientErrors: Record<string, { status: number; code: string; message: string }> = {
  ERR_HTTP_REQUEST_TIMEOUT: { status: 408, code: 'PLT_ERR_REQUEST_TIMEOUT', message: 'the request did not arrive in time' },
  HPE_HEADER_OVERFLOW: { status: 431, code: 'PLT_ERR_HEADERS_TOO_LARGE', message: 'the request headers are too large' },
};
const malformed = { status: 400, code: 'PLT_ERR_MALFORMED_REQUEST', message: 'the request is not valid HTTP' };

/**
 * Answers a client error (a timeout, a malformed request) with the error envelope and
 * closes the socket: the request was never read to its end, so the socket cannot carry
 * another.
 */
export function answerClientError(err: Error & { code?: string }, socket: Socket): void {
  if (err.code === 'ECONNRESET' || socket.destroyed) return;
  const answer = clientErrors[err.code ?? ''] ?? malformed;
  // Node sets _httpMessage when a response to this socket has begun: nothing can be added then.
  if (socket.writable && !(socket as { _httpMessage?: { headersSent?: boolean } })._httpMessage?.headersSent) {
    const body = JSON.stringify(errorBody(answer.code, answer.message));
    socket.write(
      `HTTP/1.1 ${answer.status} ${STATUS_CODES[answer.status]}\r\ncontent-type: application/json; charset=utf-8\r\n` +
        `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
    );
  }
  socket.destroy();
}

/** The Fastify options that set `timeouts` on its server. */
export function serverTimeoutOptions(
  timeouts: Readonly<HttpTimeouts> = defaultHttpTimeouts,
): Pick<FastifyServerOptions, 'connectionTimeout' | 'keepAliveTimeout' | 'requestTimeout' | 'clientErrorHandler'> & { http: ServerOptions } {
  return {
    requestTimeout: timeouts.requestTimeoutMs,
    connectionTimeout: timeouts.idleTimeoutMs,
    keepAliveTimeout: timeouts.keepAliveTimeoutMs,
    http: {
      // Node refuses a headers timeout longer than the request's.
      headersTimeout: Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs),
      // Node checks the headers and request timeouts at this interval (30 s by default,
      // which would let a 10 s timeout run to 40 s): a quarter of the shortest, at most 1 s.
      connectionsCheckingInterval: Math.max(10, Math.min(1_000, Math.floor(Math.min(timeouts.headersTimeoutMs, timeouts.requestTimeoutMs) / 4))),
    },
    clientErrorHandler: answerClientError,
  };
}

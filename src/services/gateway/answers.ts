/**
 * What the gateway makes of a service's answer. A success passes through byte for byte (the
 * service serialised it against its own response schema); an error never does: its
 * envelope is read and written anew, so what reaches a client is a code and a message in the
 * shape the API documents, and a 5xx says only that the request failed and under which
 * request id the gateway's log has it (the service's message may name its internals).
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import { errorBody } from '#platform/http/errors.ts';
import { DependencyUnavailable, defineError } from '#platform/errors.ts';
import type { UpstreamResponse } from '#platform/resilience/upstream.ts';

export const UpstreamFailed = defineError('PLT_ERR_UPSTREAM_FAILED', 502);

// The answer headers worth carrying back: the validators of a cacheable answer, and when a
// service that shed load asks to be retried.
const passedBack = ['content-type', 'etag', 'cache-control', 'retry-after'] as const;

const CODE = /^[A-Z][A-Z0-9_]{2,63}$/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface Envelope { code: string; message: string; details?: unknown }

/** The error envelope of a service's answer, if it has a sane one. */
function envelopeOf(res: UpstreamResponse): Envelope | undefined {
  let parsed: unknown;
  try {
    parsed = JSON.parse(res.body.toString('utf8'));
  } catch {
    return undefined;
  }
  const error = (parsed as { error?: Record<string, unknown> } | null)?.error;
  if (typeof error?.code !== 'string' || !CODE.test(error.code) || typeof error.message !== 'string') return undefined;
  return { code: error.code, message: error.message.slice(0, 1_000), details: error.details };
}

/** Only details the API documents travel on: an order id (a REST order accepted, not finished). */
function safeDetails(details: unknown): { orderId: string } | undefined {
  const orderId = (details as { orderId?: unknown } | null)?.orderId;
  return typeof orderId === 'string' && UUID.test(orderId) ? { orderId } : undefined;
}

export function passBack(req: FastifyRequest, reply: FastifyReply, res: UpstreamResponse, service: string): FastifyReply {
  if (res.statusCode < 400) {
    for (const name of passedBack) {
      const value = res.headers[name];
      if (typeof value === 'string') reply.header(name, value);
    }
    return reply.code(res.statusCode).send(res.statusCode === 204 || res.statusCode === 304 ? undefined : res.body);
  }
  const envelope = envelopeOf(res);
  if (res.statusCode === 503) {
    // A refusal for now (a bound reached, a dependency away): its message is written for
    // clients, and it says when to retry.
    const retryAfter = res.headers['retry-after'];
    reply.header('retry-after', typeof retryAfter === 'string' && /^\d{1,4}$/.test(retryAfter) ? retryAfter : '1');
    return reply.code(503).send(envelope
      ? errorBody(envelope.code, envelope.message, safeDetails(envelope.details))
      : errorBody(DependencyUnavailable.code, `${service} is unavailable; retry later`));
  }
  if (res.statusCode >= 500) {
    req.log.error({ service, status: res.statusCode, code: envelope?.code }, 'a service failed the request');
    const code = envelope?.code ?? UpstreamFailed.code;
    return reply.code(res.statusCode === 504 ? 504 : 502).send(errorBody(code, `the request failed in ${service}; the log has it under request id ${req.id}`, safeDetails(envelope?.details)));
  }
  if (!envelope) {
    req.log.error({ service, status: res.statusCode }, 'a service answered an error without its envelope');
    return reply.code(502).send(errorBody(UpstreamFailed.code, `${service} answered something unexpected; the log has it under request id ${req.id}`));
  }
  return reply.code(res.statusCode).send(errorBody(envelope.code, envelope.message, safeDetails(envelope.details)));
}

/** A service's 2xx answer as JSON; anything that is not JSON is a failure of that service. */
export function json<T = unknown>(res: UpstreamResponse, service: string): T {
  try {
    return JSON.parse(res.body.toString('utf8')) as T;
  } catch (cause) {
    throw UpstreamFailed(`${service} answered something that is not JSON`, { cause });
  }
}

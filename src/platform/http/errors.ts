/**
 * The one place where errors become HTTP answers: `{"error":{"code","message","details"?}}`.
 * Client mistakes get 4xx with a stable code; a 503 (a dependency away, a bound reached)
 * carries Retry-After; anything unexpected is a logged 500 that reveals nothing of the
 * internals but the request id its log line carries. Fastify's router errors (a bad
 * percent-encoding, a parameter too long) and a method a path does not have (405 with
 * Allow) get the same envelope.
 */
import { randomUUID } from 'node:crypto';
import type { FastifyError, FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions } from 'fastify';
import { isInfrastructureError } from '../bus/infrastructure-errors.ts';
import { DependencyUnavailable, OrderflowError, Overloaded } from '../errors.ts';

export interface ErrorBody {
  error: { code: string; message: string; details?: unknown };
}

export function errorBody(code: string, message: string, details?: unknown): ErrorBody {
  return { error: details === undefined ? { code, message } : { code, message, details } };
}

// Fastify's own client-error codes and the stable codes we answer with instead.
const fastifyCodes: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'PLT_ERR_MALFORMED_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'PLT_ERR_MALFORMED_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PLT_ERR_BODY_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'PLT_ERR_UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'PLT_ERR_MALFORMED_REQUEST',
};

/** Every request's id: in its log lines, and in the body of a 500 so that a report finds them. */
export const genReqId = (): string => randomUUID();

// Errors the router raises before any route runs.
const routerErrors: Record<string, { status: number; code: string; message: string }> = {
  FST_ERR_BAD_URL: { status: 400, code: 'PLT_ERR_MALFORMED_URL', message: 'the URL is not valid (bad percent-encoding)' },
  FST_ERR_MAX_PARAM_LENGTH: { status: 414, code: 'PLT_ERR_URI_TOO_LONG', message: 'a path parameter is longer than 100 characters' },
};

/** Fastify's `frameworkErrors` option: the router's errors in the envelope. */
export function frameworkErrors(err: FastifyError, _req: FastifyRequest, reply: FastifyReply): void {
  const answer = routerErrors[err.code] ?? { status: err.statusCode && err.statusCode < 500 ? err.statusCode : 400, code: 'PLT_ERR_BAD_REQUEST', message: 'the request cannot be routed' };
  void reply.code(answer.status).send(errorBody(answer.code, answer.message));
}

/** The options every app's Fastify is built with for the above. */
export const errorServerOptions: Pick<FastifyServerOptions, 'frameworkErrors' | 'genReqId'> = { frameworkErrors, genReqId };

/** A route's pattern as a test of a concrete path: `:name` is one segment, `*` the rest. */
function patternTest(url: string): RegExp {
  const source = url
    .split('/')
    .map((segment) => (segment.startsWith(':') ? '[^/]+' : segment === '*' ? '.*' : segment.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')))
    .join('/');
  return new RegExp(`^${source}/?$`);
}

export function installErrorHandling(app: FastifyInstance): void {
  // The methods of every path, for the Allow header of a 405 (collected as routes are added).
  const routes = new Map<string, { test: RegExp; methods: Set<string> }>();
  app.addHook('onRoute', (route) => {
    let entry = routes.get(route.url);
    if (entry === undefined) routes.set(route.url, (entry = { test: patternTest(route.url), methods: new Set() }));
    for (const m of Array.isArray(route.method) ? route.method : [route.method]) entry.methods.add(m);
  });
  const allowedMethods = (path: string): string[] => {
    const out = new Set<string>();
    for (const { test, methods } of routes.values()) if (test.test(path)) for (const m of methods) out.add(m);
    return [...out].sort();
  };

  app.setErrorHandler((err: FastifyError | OrderflowError | Error, req, reply) => {
    if (err instanceof OrderflowError) {
      // A 503 is a refusal for now (a dependency away, a bound reached): it says when to
      // retry, and is not logged as a failure of ours, which at load-shedding rates would flood the log.
      if (err.statusCode === 503) {
        reply.header('retry-after', String(err.retryAfterS ?? 1));
        if (err.code !== Overloaded.code) req.log.warn({ err: { code: err.code, message: err.message } }, 'request refused for now');
      } else if (err.statusCode >= 500) {
        // A coded 5xx names what failed (its code), never how: the message may carry internals.
        req.log.error({ err }, 'request failed');
        return reply.code(err.statusCode).send(errorBody(err.code, `${err.code === 'PLT_ERR_INTERNAL' ? 'internal error' : 'the request failed'}; the log has it under request id ${req.id}`));
      }
      return reply.code(err.statusCode).send(errorBody(err.code, err.message, err.details));
    }
    const fe = err as FastifyError;
    if (fe.validation) {
      return reply.code(400).send(errorBody('PLT_ERR_VALIDATION', `${fe.validationContext ?? 'request'}${fe.message.replace(/^(body|params|querystring|headers)/, '')}`));
    }
    if (fe.statusCode && fe.statusCode >= 400 && fe.statusCode < 500) {
      const code = fastifyCodes[fe.code] ?? 'PLT_ERR_BAD_REQUEST';
      return reply.code(fe.statusCode).send(errorBody(code, fe.message));
    }
    // The database away (restarting, failing over: the driver's connection errors) is a
    // dependency unavailable for now, as for the consumers (infrastructure-errors.ts): a 503
    // the client may retry, not a failure of ours. Found by orderflow chaos --restart-postgres.
    if (isInfrastructureError(err)) {
      req.log.warn({ err: { message: err.message, code: (err as { code?: unknown }).code } }, 'request refused for now: a dependency is unavailable');
      reply.header('retry-after', '1');
      return reply.code(503).send(errorBody(DependencyUnavailable.code, 'a dependency is unavailable; retry later'));
    }
    req.log.error({ err }, 'unexpected error');
    return reply.code(500).send(errorBody('PLT_ERR_INTERNAL', `internal error; the log has it under request id ${req.id}`));
  });
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0];
    const allow = allowedMethods(path);
    if (allow.length > 0) {
      return reply.code(405).header('allow', allow.join(', ')).send(errorBody('PLT_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; allowed: ${allow.join(', ')}`));
    }
    return reply.code(404).send(errorBody('PLT_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${path}`));
  });
}

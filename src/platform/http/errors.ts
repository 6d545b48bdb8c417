/**
 * The one place where errors become HTTP answers: `{"error":{"code","message","details"?}}`.
 * Client mistakes get 4xx with a stable code; a 503 (a dependency away, a bound reached)
 * carries Retry-After; anything unexpected is a logged 500 that reveals nothing of the internals.
 */
import type { FastifyError, FastifyInstance } from 'fastify';
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

export function installErrorHandling(app: FastifyInstance): void {
  app.setErrorHandler((err: FastifyError | OrderflowError | Error, req, reply) => {
    if (err instanceof OrderflowError) {
      // A 503 is a refusal for now (a dependency away, a bound reached): it says when to
      // retry, and is not logged as a failure of ours, which at load-shedding rates would flood the log.
      if (err.statusCode === 503) {
        reply.header('retry-after', String(err.retryAfterS ?? 1));
        if (err.code !== Overloaded.code) req.log.warn({ err: { code: err.code, message: err.message } }, 'request refused for now');
      } else if (err.statusCode >= 500) req.log.error({ err }, 'request failed');
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
    return reply.code(500).send(errorBody('PLT_ERR_INTERNAL', 'internal error'));
  });
  app.setNotFoundHandler((req, reply) => {
    reply.code(404).send(errorBody('PLT_ERR_ROUTE_NOT_FOUND', `no route ${req.method} ${req.url}`));
  });
}

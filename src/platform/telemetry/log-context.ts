/**
 * What every log line written while handling a request or a message says about it:
 * `trace_id` and `span_id` of the active span (when tracing is on), and the fields the
 * platform knows of the work at hand (`correlationId`, `messageId`, `orderId`), kept in an
 * AsyncLocalStorage so a handler's own log calls carry them without being passed a logger.
 */
import { AsyncLocalStorage } from 'node:async_hooks';
import { context, trace } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracingOn } from './tracing.ts';

export interface LogFields {
  correlationId?: string;
  messageId?: string;
  messageType?: string;
  orderId?: string;
}

const fields = new AsyncLocalStorage<LogFields>();

/** Runs `fn` with `f` on every line it logs. */
export function withLogFields<T>(f: LogFields, fn: () => T): T {
  return fields.run(f, fn);
}

/** Pino's mixin: the fields of the work at hand, merged into each line. */
export function logMixin(): Record<string, string> {
  const out: Record<string, string> = {};
  const f = fields.getStore();
  if (f !== undefined) {
    if (f.correlationId) out.correlationId = f.correlationId;
    if (f.messageId) out.messageId = f.messageId;
    if (f.messageType) out.messageType = f.messageType;
    if (f.orderId) out.orderId = f.orderId;
  }
  if (tracingOn()) {
    const span = trace.getSpan(context.active())?.spanContext();
    if (span !== undefined) {
      out.trace_id = span.traceId;
      out.span_id = span.spanId;
    }
  }
  return out;
}

/**
 * Adds the fields `pick` finds in a request (e.g. the order id of /orders/:id) to every line
 * logged while `app` handles it.
 */
export function logRequestFields(app: FastifyInstance, pick: (req: FastifyRequest) => LogFields | undefined): void {
  app.addHook('preHandler', (req, _reply, done) => {
    const f = pick(req);
    if (f === undefined) done();
    else withLogFields(f, done);
  });
}

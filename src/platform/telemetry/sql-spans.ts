/**
 * A CLIENT span per SQL statement, after OpenTelemetry's database conventions, made by both
 * Db adapters so SQLite and PostgreSQL trace alike. Only statements run on behalf of a
 * traced request or message get one: a statement with no active span (a relay poll, a
 * batch's BEGIN) would otherwise start a trace of its own for every poll.
 */
import { context, SpanKind, SpanStatusCode, trace, type Attributes } from '@opentelemetry/api';
import { tracer, tracingOn } from './tracing.ts';

export type DbSystem = 'postgresql' | 'sqlite';

/** Runs `run` (one statement, sync or async) in a span when tracing is on and something is traced. */
export function traceSql<R>(system: DbSystem, namespace: string, text: string, run: () => R): R {
  if (!tracingOn() || trace.getSpan(context.active()) === undefined) return run();
  const operation = /^\s*([A-Za-z]+)/.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
  // The conventions' span name: the operation and its first table, e.g. "INSERT outbox".
  const table = /\b(?:FROM|INTO|UPDATE)\s+"?([A-Za-z_][\w.]*)/i.exec(text)?.[1];
  const attributes: Attributes = { 'db.system.name': system, 'db.namespace': namespace, 'db.operation.name': operation, 'db.query.text': text };
  if (table !== undefined) attributes['db.collection.name'] = table;
  const span = tracer().startSpan(table === undefined ? operation : `${operation} ${table}`, { kind: SpanKind.CLIENT, attributes });
  const fail = (err: unknown) => {
    span.recordException(err as Error);
    span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
    span.end();
    throw err;
  };
  let result: R;
  try {
    result = run();
  } catch (err) {
    return fail(err);
  }
  if (result instanceof Promise) {
    return result.then((value) => {
      span.end();
      return value;
    }, fail) as R;
  }
  span.end();
  return result;
}

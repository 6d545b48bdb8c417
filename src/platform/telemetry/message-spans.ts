/**
 * Spans of a message's journey, after OpenTelemetry's messaging conventions, made at the
 * Bus port so the embedded log and Kafka trace alike:
 *
 *   the span that emitted it ─ outbox append ─ send <topic> (PRODUCER) ─ process <topic> (CONSUMER) ─ …
 *
 * A message carries the W3C `traceparent` of the span that emitted it from the moment it
 * is built (envelope.ts), through the outbox row, to the relay. The relay's send span is
 * that context's child and replaces the header with its own, so the consumer's process
 * span is the send span's child, and what the handler emits continues the same trace: one
 * order is one trace across every service. A batch is handled in one transaction, but each
 * message gets its own process span (a parent, not a link: the conventions allow a parent
 * when one message is processed, and here each handler call processes one).
 *
 * Every function here is a pass-through when tracing is off.
 */
import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Attributes, type Context, type Span } from '@opentelemetry/api';
import type { Bus, InRecord, OutRecord } from '../bus/bus.ts';
import { tracer, tracingOn } from './tracing.ts';

const getter = {
  keys: (carrier: Record<string, string>) => Object.keys(carrier),
  get: (carrier: Record<string, string>, key: string) => carrier[key],
};

/** The context a message's traceparent names (the root context when it has none). */
export function messageContext(headers: Record<string, string | undefined>): Context {
  const traceparent = headers.traceparent;
  if (!traceparent) return ROOT_CONTEXT;
  return propagation.extract(ROOT_CONTEXT, { traceparent }, getter);
}

function messagingSystem(bus: Bus['kind']): string {
  // "kafka" is the conventions' value; the embedded log is ours.
  return bus === 'kafka' ? 'kafka' : 'orderflow.log';
}

function traceparentOf(span: Span): string | undefined {
  const carrier: Record<string, string> = {};
  propagation.inject(trace.setSpan(ROOT_CONTEXT, span), carrier);
  return carrier.traceparent;
}

function fail(span: Span, err: unknown): void {
  span.recordException(err as Error);
  span.setStatus({ code: SpanStatusCode.ERROR, message: (err as Error)?.message });
}

export interface SendSpans {
  /** The records to publish: with each traced record's traceparent now its send span's. */
  records: OutRecord[];
  end(err?: unknown): void;
}

/**
 * A send span per traced record, each a child of the span that emitted it. Records without
 * a traceparent get none (nothing to continue).
 */
export function startSendSpans(bus: Bus['kind'], records: OutRecord[]): SendSpans {
  if (!tracingOn()) return { records, end() {} };
  const spans: Span[] = [];
  const out = records.map((record) => {
    if (!record.headers.traceparent) return record;
    const attributes: Attributes = {
      'messaging.system': messagingSystem(bus),
      'messaging.operation.type': 'send',
      'messaging.operation.name': 'send',
      'messaging.destination.name': record.topic,
      'messaging.message.id': messageIdOf(record),
      'messaging.kafka.message.key': record.key,
      'orderflow.message.type': record.headers.type,
    };
    const span = tracer().startSpan(`send ${record.topic}`, { kind: SpanKind.PRODUCER, attributes }, messageContext(record.headers));
    spans.push(span);
    const traceparent = traceparentOf(span);
    return traceparent ? { ...record, headers: { ...record.headers, traceparent } } : record;
  });
  return {
    records: out,
    end(err) {
      for (const span of spans) {
        if (err !== undefined) fail(span, err);
        span.end();
      }
    },
  };
}

// The envelope's id sits in the value; a cheap look without parsing all of it.
function messageIdOf(record: OutRecord): string {
  return /"id":"([^"]+)"/.exec(record.value)?.[1] ?? '';
}

/**
 * Runs `fn` (one message's handler) in a process span that continues the message's trace;
 * what `fn` emits and the SQL it runs become the span's children.
 */
export function inProcessSpan<T>(bus: Bus['kind'], groupId: string, record: InRecord, messageId: string, fn: () => Promise<T>): Promise<T> {
  if (!tracingOn()) return fn();
  const span = tracer().startSpan(
    `process ${record.topic}`,
    {
      kind: SpanKind.CONSUMER,
      attributes: {
        'messaging.system': messagingSystem(bus),
        'messaging.operation.type': 'process',
        'messaging.operation.name': 'process',
        'messaging.destination.name': record.topic,
        'messaging.destination.partition.id': String(record.partition),
        'messaging.kafka.offset': Number(record.offset),
        'messaging.kafka.message.key': record.key,
        'messaging.consumer.group.name': groupId,
        'messaging.message.id': messageId,
        'orderflow.message.type': record.headers.type,
      },
    },
    messageContext(record.headers),
  );
  return context.with(trace.setSpan(context.active(), span), fn).then(
    (result) => {
      span.end();
      return result;
    },
    (err) => {
      fail(span, err);
      span.end();
      throw err;
    },
  );
}

/**
 * Spans for messages written to the outbox together (a batch's emits come from several
 * traces): one `outbox append` span per traced message, each a child of the span that
 * emitted it, lasting as long as the statement that wrote them all.
 */
export async function inOutboxAppendSpans<T>(
  items: Array<{ topic: string; message: { type: string; headers: { traceparent?: string } } }>,
  fn: () => Promise<T>,
): Promise<T> {
  if (!tracingOn()) return fn();
  const spans: Span[] = [];
  for (const { topic, message } of items) {
    if (!message.headers.traceparent) continue;
    const attributes = { 'messaging.destination.name': topic, 'orderflow.message.type': message.type };
    spans.push(tracer().startSpan('outbox append', { kind: SpanKind.INTERNAL, attributes }, messageContext(message.headers)));
  }
  try {
    return await fn();
  } catch (err) {
    for (const span of spans) fail(span, err);
    throw err;
  } finally {
    for (const span of spans) span.end();
  }
}

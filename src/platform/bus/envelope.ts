/**
 * The message envelope and its wire form. On the wire the record value is the JSON of
 * `{id, type, version, key, occurredAt, payload}` and the record headers carry the message
 * headers (`traceparent`, `correlationId`, `causationId`) plus `type`, so a consumer can
 * route or dead-letter a record without parsing its value.
 */
import { v7 as uuidv7 } from 'uuid';
import { MalformedMessage } from '../errors.ts';
import type { InRecord, OutRecord } from './bus.ts';
import { activeTraceparent } from '../telemetry/tracing.ts';

export interface MessageHeaders {
  traceparent?: string;
  correlationId?: string;
  causationId?: string;
}

export interface Envelope<P = unknown> {
  id: string;
  type: string;
  version: number;
  key: string;
  occurredAt: string;
  headers: MessageHeaders;
  payload: P;
}

export const newMessageId = (): string => uuidv7();

/**
 * Builds a message. When `cause` is given the new message continues its story: same
 * correlationId, and causationId = the cause's id. Its traceparent names the span that is
 * building it when tracing is on (so each hop is a child of its cause); otherwise the
 * cause's (or the given) traceparent is carried through unchanged.
 */
export function newEnvelope<P>(args: {
  type: string;
  version?: number;
  key: string;
  payload: P;
  id?: string;
  occurredAt?: string;
  cause?: Pick<Envelope, 'id' | 'headers'>;
  headers?: MessageHeaders;
}): Envelope<P> {
  const id = args.id ?? newMessageId();
  const headers: MessageHeaders = args.cause
    ? {
        correlationId: args.cause.headers.correlationId ?? args.cause.id,
        causationId: args.cause.id,
        ...(args.cause.headers.traceparent ? { traceparent: args.cause.headers.traceparent } : {}),
      }
    : { correlationId: id, ...args.headers };
  const traceparent = activeTraceparent();
  if (traceparent) headers.traceparent = traceparent;
  return {
    id,
    type: args.type,
    version: args.version ?? 1,
    key: args.key,
    occurredAt: args.occurredAt ?? new Date().toISOString(),
    headers,
    payload: args.payload,
  };
}

export function encode(topic: string, env: Envelope): OutRecord {
  const headers: Record<string, string> = { type: env.type };
  for (const [k, v] of Object.entries(env.headers)) if (typeof v === 'string') headers[k] = v;
  const value = JSON.stringify({
    id: env.id,
    type: env.type,
    version: env.version,
    key: env.key,
    occurredAt: env.occurredAt,
    payload: env.payload,
  });
  return { topic, key: env.key, value, headers };
}

/** Parses a record back into an envelope; throws PLT_ERR_MALFORMED_MESSAGE when it is not one. */
export function decode(record: InRecord | OutRecord): Envelope {
  let body: any;
  try {
    body = JSON.parse(record.value);
  } catch (cause) {
    throw MalformedMessage(`record on ${record.topic} is not JSON`, { cause });
  }
  if (
    body === null ||
    typeof body !== 'object' ||
    typeof body.id !== 'string' ||
    typeof body.type !== 'string' ||
    typeof body.version !== 'number' ||
    typeof body.key !== 'string' ||
    typeof body.occurredAt !== 'string' ||
    !('payload' in body)
  ) {
    throw MalformedMessage(`record on ${record.topic} is not a message envelope`);
  }
  const headers: MessageHeaders = {};
  if (record.headers.traceparent) headers.traceparent = record.headers.traceparent;
  if (record.headers.correlationId) headers.correlationId = record.headers.correlationId;
  if (record.headers.causationId) headers.causationId = record.headers.causationId;
  return { id: body.id, type: body.type, version: body.version, key: body.key, occurredAt: body.occurredAt, headers, payload: body.payload };
}

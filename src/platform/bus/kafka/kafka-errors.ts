/**
 * Coded errors of the Kafka bus adapter. Library errors (PLT_KFK_*) never leak out bare: they
 * are wrapped in one of these, with the original as `cause`.
 */
import { defineError } from '../../errors.ts';

export const KafkaPublishFailed = defineError('PLT_ERR_KAFKA_PUBLISH', 503);
export const KafkaUnknownTopic = defineError('PLT_ERR_KAFKA_UNKNOWN_TOPIC', 500);
export const KafkaAdminFailed = defineError('PLT_ERR_KAFKA_ADMIN', 503);
export const KafkaTopicsNotReady = defineError('PLT_ERR_KAFKA_TOPICS_NOT_READY', 503);
export const KafkaSubscribeFailed = defineError('PLT_ERR_KAFKA_SUBSCRIBE', 503);
export const KafkaReadFailed = defineError('PLT_ERR_KAFKA_READ', 503);
export const KafkaClosed = defineError('PLT_ERR_KAFKA_CLOSED', 503);
export const KafkaTimeout = defineError('PLT_ERR_KAFKA_TIMEOUT', 503);

/** True when a library error (possibly nested in MultipleErrors) carries this Kafka protocol error id. */
export function hasKafkaErrorId(err: unknown, id: string): boolean {
  const seen = new Set<unknown>();
  const visit = (e: unknown): boolean => {
    if (!e || typeof e !== 'object' || seen.has(e)) return false;
    seen.add(e);
    const o = e as { apiId?: unknown; errors?: unknown; cause?: unknown };
    if (o.apiId === id) return true;
    if (Array.isArray(o.errors) && o.errors.some(visit)) return true;
    return visit(o.cause);
  };
  return visit(err);
}

/** The broker refused a record batch for its size (the topic's max.message.bytes, or the log segment's). */
export function isTooLarge(err: unknown): boolean {
  return hasKafkaErrorId(err, 'MESSAGE_TOO_LARGE') || hasKafkaErrorId(err, 'RECORD_LIST_TOO_LARGE');
}

/** The library reports an unknown topic either as a protocol error or as a UserError from its metadata cache. */
export function isUnknownTopic(err: unknown): boolean {
  if (hasKafkaErrorId(err, 'UNKNOWN_TOPIC_OR_PARTITION') || hasKafkaErrorId(err, 'UNKNOWN_TOPIC_ID')) return true;
  for (let e: unknown = err, i = 0; e && i < 5; e = (e as { cause?: unknown }).cause, i++) {
    if (e instanceof Error && /^Unknown topic /.test(e.message)) return true;
    if (e instanceof AggregateError && e.errors.some(isUnknownTopic)) return true;
  }
  return false;
}

/** Rejects with PLT_ERR_KAFKA_TIMEOUT when `p` does not settle within `ms`. */
export function withTimeout<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(KafkaTimeout(`${what} did not finish within ${ms} ms`)), ms);
  });
  return Promise.race([p, timeout]).finally(() => clearTimeout(timer));
}

export const sleep = (ms: number, signal?: AbortSignal): Promise<void> =>
  new Promise((resolve) => {
    if (signal?.aborted) return resolve();
    const timer = setTimeout(done, ms);
    function done() {
      clearTimeout(timer);
      signal?.removeEventListener('abort', done);
      resolve();
    }
    signal?.addEventListener('abort', done, { once: true });
  });

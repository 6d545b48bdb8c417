/**
 * The consumer layer over Bus.subscribe: inbox deduplication, one transaction per batch,
 * retry with backoff, dead letters (a `<topic>.dlq` copy and a row of the `dead_letters`
 * table, with a state: dead-letters.ts, dead-letter-store.ts). Delivery is at least once; a
 * handler's writes, the message id in the inbox and the messages it emits (to the outbox)
 * commit together, and the bus commits its offset only after that commit.
 *
 * Error rule. A handler error (anything it throws, including a constraint violation of its
 * own SQL) is retried, then dead-lettered. An infrastructure error is never dead-lettered:
 * the batch is rejected and the bus delivers it again after a pause. Infrastructure means
 * an error raised by the transaction machinery itself (BEGIN/COMMIT, inbox, outbox), or one
 * whose cause chain holds a connection/availability code (see infrastructure-errors.ts).
 *
 * Version skew. The service's `validate` tells an unknown *version* of a known type (a
 * producer already upgraded, this consumer not yet: a deploy in progress) apart from a
 * message that never will fit (unknown type, schema failure). The latter is dead-lettered at
 * once; the former is not poison: the batch is rejected unhandled, counted `unknown_version`
 * and logged, and the bus delivers it again with backoff, so its partition waits (in order)
 * until a consumer that knows the version takes it. A check may also hand back the message
 * upcast to the version the handler knows.
 *
 * The inbox grows by one row per message; the service host purges rows older than the
 * retention (inbox-purge.ts), which is longer than any redelivery can be late.
 */
import type { Db, Migration, Sql } from '../db/db.ts';
import type { Bus, InRecord } from './bus.ts';
import { decode, type Envelope } from './envelope.ts';
import { appendToOutbox, chunkSizes } from './outbox.ts';
import { deadLetterRecord, dlqTopic, originalRecord } from './dead-letters.ts';
import { newDeadLetterId, recordDeadLetters, type NewDeadLetter } from './dead-letter-store.ts';
import { defineError, InvalidMessage, isOrderflowError, RecordTooLarge, ShuttingDown, UnknownMessageVersion } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { createGroupQueue } from '../group-commit.ts';
import { isInfrastructureError } from './infrastructure-errors.ts';
import { inProcessSpan } from '../telemetry/message-spans.ts';
import { tracingOn } from '../telemetry/tracing.ts';
import { withLogFields, type LogFields } from '../telemetry/log-context.ts';
import type { CountOutcome } from '../telemetry/bus-metrics.ts';

/** Keyed by group too: two consumer groups of one service may see the same message. */
export const inboxMigrations: Migration[] = [
  {
    id: 'platform-0002-inbox',
    sql: `CREATE TABLE inbox (
      message_id TEXT NOT NULL,
      consumer_group TEXT NOT NULL,
      processed_at TEXT NOT NULL,
      PRIMARY KEY (message_id, consumer_group)
    );`,
  },
  // For the purge (inbox-purge.ts): the rows past the horizon are a range scan of it.
  // processed_at is an ISO time of fixed width (toISOString), so text order is time order.
  {
    id: 'platform-0003-inbox-processed-at',
    sql: 'CREATE INDEX inbox_processed_at ON inbox (processed_at);',
  },
];

/** A handler's error, wrapped so it is told apart from errors of the transaction itself. */
export const HandlerFailed = defineError('PLT_ERR_HANDLER_FAILED', 500);

export interface MessageContext {
  /** The batch's transaction: the handler's writes commit with the inbox record. */
  tx: Sql;
  message: Envelope;
  record: InRecord;
  /** Queues a message for the outbox, written in the same transaction. */
  emit(topic: string, message: Envelope): void;
  /**
   * Runs `fn` once the transaction committed; dropped when it rolls back (the message is
   * then handled again). For in-process state that must only follow committed writes,
   * such as a cache. Absent when a handler runs outside the consumer.
   */
  afterCommit?(fn: () => void): void;
}
export type MessageHandler = (ctx: MessageContext) => Promise<void>;

/**
 * What a service's contract check says of a message it consumes. `undefined`: it fits as it
 * is; a string: why it does not (a check that knows no versions). The coded forms:
 * - `ok`, with `message` when it was upcast: the handler receives that message;
 * - `invalid`: it never will fit (unknown type, schema failure): dead-lettered at once;
 * - `unknown_version`: a newer version of a known type: the partition waits for an upgrade.
 */
export type MessageCheck =
  | undefined
  | string
  | { code: 'ok'; message?: Envelope }
  | { code: 'invalid'; reason: string }
  | { code: 'unknown_version'; reason: string };
export type ValidateMessage = (message: Envelope) => MessageCheck;
export interface Consumer {
  close(): Promise<void>;
  /** True while its subscription is a member of the group (for readiness). */
  joined(): boolean;
}

export interface RetryOptions {
  attempts?: number;
  baseMs?: number;
  maxMs?: number;
}

/** What a handler's log lines say of the message it handles (the order id when it names one). */
function logFieldsOf(message: Envelope): LogFields {
  const orderId = (message.payload as { orderId?: unknown } | null)?.orderId;
  return {
    correlationId: message.headers.correlationId,
    messageId: message.id,
    messageType: message.type,
    orderId: typeof orderId === 'string' ? orderId : undefined,
  };
}

interface Item {
  record: InRecord;
  message: Envelope;
  handler: MessageHandler;
}

/**
 * Subscribes `groupId` to `topics` and runs each message through its handler (by type).
 * Messages without a handler are acknowledged and skipped. Creates `<topic>.dlq` topics.
 */
export async function startConsumer(opts: {
  db: Db;
  bus: Bus;
  groupId: string;
  topics: string[];
  handlers: Record<string, MessageHandler>;
  validate: ValidateMessage;
  retry?: RetryOptions;
  log?: Logger;
  onProcessed?: (message: Envelope) => void;
  /** Transactions in flight at once, each shared by the batches of several partitions. */
  maxConcurrent?: number;
  /** Counts each message's outcome for /metrics (telemetry/bus-metrics.ts), once it is settled. */
  outcomes?: CountOutcome;
  /** retention.ms of the `<topic>.dlq` topics (Kafka); default -1, kept forever: a dead letter waits for a human. */
  deadLetterRetentionMs?: number;
}): Promise<Consumer> {
  const { db, bus, groupId, handlers } = opts;
  const log = (opts.log ?? silentLogger).child({ groupId });
  const attempts = Math.max(1, opts.retry?.attempts ?? 5);
  const baseMs = opts.retry?.baseMs ?? 50;
  const maxMs = opts.retry?.maxMs ?? 2000;
  let closing = false;
  const sleepers = new Set<() => void>();
  // SQLite serialises transactions anyway; on PostgreSQL a few run at once on the pool.
  const maxConcurrent = Math.max(1, opts.maxConcurrent ?? (db.dialect === 'sqlite' ? 1 : 3));
  const maxShared = 1000;
  const count: CountOutcome = opts.outcomes ?? (() => {});
  // A label from a record that failed before its type was trusted: bounded to the handled types.
  const typeLabel = (type: string | undefined) => (type !== undefined && handlers[type] !== undefined ? type : 'unknown');

  const retentionMs = opts.deadLetterRetentionMs ?? -1;
  await bus.ensureTopics(opts.topics.map((t) => ({ name: dlqTopic(t), partitions: 1, retentionMs })));

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        sleepers.delete(done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      sleepers.add(done);
    });
  }

  // Records the items in the inbox, runs the handlers of new ones, writes their emits.
  async function run(tx: Sql, items: Item[], after: Array<() => void>): Promise<Envelope[]> {
    const fresh = await recordInInbox(tx, groupId, items.map((i) => i.message.id));
    const emitted: Array<{ topic: string; message: Envelope }> = [];
    const done: Envelope[] = [];
    for (const item of items) {
      if (!fresh.has(item.message.id)) {
        after.push(() => count(item.message.type, 'skipped_duplicate'));
        continue;
      }
      // Once per batch: a second copy of an id later in the same batch is a duplicate.
      fresh.delete(item.message.id);
      const ctx: MessageContext = {
        tx,
        message: item.message,
        record: item.record,
        emit: (topic, message) => void emitted.push({ topic, message }),
        afterCommit: (fn) => void after.push(fn),
      };
      try {
        const handle = () => withLogFields(logFieldsOf(item.message), () => item.handler(ctx));
        await (tracingOn() ? inProcessSpan(bus.kind, groupId, item.record, item.message.id, handle) : handle());
      } catch (cause) {
        throw HandlerFailed(`handler for ${item.message.type} failed: ${(cause as Error)?.message ?? cause}`, {
          cause,
          details: { messageId: item.message.id },
        });
      }
      done.push(item.message);
    }
    await appendToOutbox(tx, emitted);
    return done;
  }

  // One transaction over `items`; the afterCommit hooks of its handlers run once it committed.
  async function commit(items: Item[]): Promise<Envelope[]> {
    let after: Array<() => void> = [];
    const done = await db.transaction((tx) => {
      after = [];
      return run(tx, items, after);
    });
    for (const fn of after) {
      try {
        fn();
      } catch (err) {
        log.error({ err }, 'an afterCommit hook failed');
      }
    }
    return done;
  }

  function processed(messages: Envelope[]): void {
    for (const m of messages) count(m.type, 'handled');
    if (opts.onProcessed) for (const m of messages) opts.onProcessed(m);
  }

  function isHandlerError(err: unknown): err is ReturnType<typeof HandlerFailed> {
    return isOrderflowError(err, HandlerFailed.code) && !isInfrastructureError(err.cause);
  }

  async function deadLetter(record: InRecord, err: unknown, tried: number, message: Envelope): Promise<void> {
    const cause = isOrderflowError(err, HandlerFailed.code) ? err.cause : err;
    log.warn({ err: cause, topic: record.topic, partition: record.partition, offset: record.offset, attempts: tried }, 'message dead-lettered');
    await deadLetterAll([{ record, error: errorInfo(cause, HandlerFailed.code), attempts: tried, message }]);
  }

  // The `.dlq` copies first, then the rows (dead-letter-store.ts): a crash in between
  // delivers the records again, dead-letters them again, and their rows are written once.
  async function deadLetterAll(given: Array<{ record: InRecord; error: { code: string; message: string }; attempts: number; message?: Envelope }>): Promise<void> {
    const letters = given.map((g) => ({ ...g, id: newDeadLetterId(), copied: true }));
    const copies = letters.map((l) => deadLetterRecord(l.record, l.error, l.attempts, l.id));
    try {
      await bus.publish(copies);
    } catch (err) {
      if (!isOrderflowError(err, RecordTooLarge.code)) throw err;
      // An original near the size limit plus the dlq headers: the row alone keeps it.
      for (let i = 0; i < copies.length; i++) {
        try {
          await bus.publish([copies[i]]);
        } catch (own) {
          if (!isOrderflowError(own, RecordTooLarge.code)) throw own;
          letters[i].copied = false;
          log.warn({ err: own, topic: copies[i].topic }, 'dead letter too large for its dead-letter topic; kept in the dead_letters table only');
        }
      }
    }
    const failedAt = new Date().toISOString();
    const rows: NewDeadLetter[] = letters.map((l) => ({
      id: l.id,
      source: `${groupId}/${l.record.topic}/${l.record.partition}/${l.record.offset}`,
      origin: 'consumer',
      consumerGroup: groupId,
      messageId: l.message?.id,
      messageType: l.message?.type,
      record: originalRecord(l.record),
      error: l.error,
      attempts: l.attempts,
      originalPartition: l.record.partition,
      originalOffset: l.record.offset,
      failedAt,
      dlqTopic: l.copied ? dlqTopic(l.record.topic) : undefined,
    }));
    await db.transaction((tx) => recordDeadLetters(tx, rows));
  }

  const backoff = (attempt: number): Promise<void> => {
    const delay = Math.min(maxMs, baseMs * 2 ** (attempt - 1));
    return sleep(delay / 2 + Math.random() * (delay / 2));
  };

  // `batchErr` is set when this message already failed once, in its batch's transaction.
  async function oneByOne(item: Item, batchErr?: unknown): Promise<void> {
    let attempt = batchErr === undefined ? 0 : 1;
    let lastErr = batchErr;
    for (;;) {
      if (attempt >= attempts) {
        await deadLetter(item.record, lastErr, attempt, item.message);
        return count(item.message.type, 'dead_lettered');
      }
      if (attempt > 0) {
        count(item.message.type, 'retried');
        log.debug({ err: lastErr, attempt, type: item.message.type }, 'handler failed, retrying');
        await backoff(attempt);
      }
      if (closing) throw ShuttingDown('consumer is closing; the batch will be delivered again');
      attempt++;
      try {
        processed(await commit([item]));
        return;
      } catch (err) {
        if (!isHandlerError(err)) throw err;
        lastErr = err;
      }
    }
  }

  async function handle(batch: InRecord[]): Promise<void> {
    const items: Item[] = [];
    const invalid: Array<{ record: InRecord; err: unknown; type?: string; message?: Envelope }> = [];
    for (const record of batch) {
      // Skipped unread: a service subscribed to a topic for some of its types (the
      // choreography's inventory gets every payments event and handles one) would otherwise
      // parse every message it does not handle. A record without the header is parsed.
      const type = record.headers.type;
      if (type !== undefined && handlers[type] === undefined) continue;
      let message: Envelope;
      try {
        message = decode(record);
      } catch (err) {
        invalid.push({ record, err });
        continue;
      }
      const handler = handlers[message.type];
      if (handler === undefined) continue;
      let check: MessageCheck;
      try {
        check = opts.validate(message);
      } catch (err) {
        check = `the contract check threw: ${(err as Error)?.message ?? err}`;
      }
      if (typeof check === 'object' && check.code === 'unknown_version') {
        // Nothing of the batch is handled or dead-lettered: it comes back whole, in order.
        waitForUpgrade(record, message, check.reason);
      }
      const violation = typeof check === 'object' ? (check.code === 'invalid' ? check.reason : undefined) : check;
      if (violation !== undefined) {
        invalid.push({ record, err: InvalidMessage(`${message.type} v${message.version} ${message.id}: ${violation}`), type: message.type, message });
        continue;
      }
      const upcast = typeof check === 'object' && check.code === 'ok' ? check.message : undefined;
      items.push({ record, message: upcast ?? message, handler });
    }
    if (invalid.length > 0) {
      for (const { record, err } of invalid) log.warn({ err, topic: record.topic, offset: record.offset }, 'message dead-lettered');
      await deadLetterAll(invalid.map(({ record, err, message }) => ({ record, error: errorInfo(err, 'PLT_ERR_INVALID_MESSAGE'), attempts: 0, message })));
      for (const i of invalid) count(typeLabel(i.type ?? i.record.headers.type), 'dead_lettered');
    }
    if (items.length === 0) return;
    await shared(items);
  }

  // A deploy in progress, not poison: rejects the batch, which the bus delivers again after a
  // pause (both adapters back off per partition, up to 2 s), until this consumer knows it.
  function waitForUpgrade(record: InRecord, message: Envelope, reason: string): never {
    count(message.type, 'unknown_version');
    const where = { type: message.type, version: message.version, topic: record.topic, partition: record.partition, offset: record.offset };
    log.warn({ ...where, reason }, 'unknown version of a known message type; the partition waits for this consumer to be upgraded');
    throw UnknownMessageVersion(`${message.type} v${message.version} is not known to this consumer yet: ${reason}`, { details: where });
  }

  // One message per transaction after its batch failed on `err`, so the others still commit.
  async function oneByOneAfter(items: Item[], err: ReturnType<typeof HandlerFailed>): Promise<void> {
    const failedId = (err.details as { messageId: string }).messageId;
    for (const item of items) await oneByOne(item, item.message.id === failedId ? err : undefined);
  }

  async function alone(items: Item[]): Promise<void> {
    try {
      processed(await commit(items));
    } catch (err) {
      if (!isHandlerError(err)) throw err;
      await oneByOneAfter(items, err);
    }
  }

  // Group commit across partitions: the bus hands each partition's batch over on its own,
  // and with many partitions those batches are small, so the batches that arrive while
  // transactions are in flight share the next one (BEGIN, inbox, outbox and COMMIT once).
  // A partition sends its next batch only after this one committed, so order per key holds.
  // When the shared transaction fails on a handler error, each batch runs alone, outside
  // the concurrency slot, so retries with backoff hold back no other partition.
  interface Waiting {
    items: Item[];
    resolve: () => void;
    reject: (err: unknown) => void;
  }

  async function runShared(group: Waiting[]): Promise<void> {
    try {
      processed(await commit(group.length === 1 ? group[0].items : group.flatMap((g) => g.items)));
      for (const g of group) g.resolve();
      return;
    } catch (err) {
      if (!isHandlerError(err)) {
        for (const g of group) g.reject(err);
        return;
      }
      if (group.length === 1) void oneByOneAfter(group[0].items, err).then(group[0].resolve, group[0].reject);
      else for (const g of group) void alone(g.items).then(g.resolve, g.reject);
    }
  }

  const queue = createGroupQueue<Waiting>({ maxConcurrent, maxWeight: maxShared, weight: (w) => w.items.length, run: runShared });

  function shared(items: Item[]): Promise<void> {
    if (closing) return alone(items);
    return new Promise<void>((resolve, reject) => {
      queue.push({ items, resolve, reject });
    });
  }

  const subscription = await bus.subscribe({
    groupId,
    topics: opts.topics,
    async handle(batch) {
      try {
        await handle(batch);
      } catch (err) {
        if (!closing && !isOrderflowError(err, UnknownMessageVersion.code)) log.error({ err, topic: batch[0]?.topic, partition: batch[0]?.partition }, 'batch failed; it will be delivered again');
        throw err;
      }
    },
  });

  return {
    joined: () => subscription.joined(),
    async close() {
      closing = true;
      for (const wake of [...sleepers]) wake();
      await subscription.close();
    },
  };
}

function errorInfo(err: unknown, fallbackCode: string): { code: string; message: string } {
  const code = (err as any)?.code;
  return { code: code === undefined ? fallbackCode : String(code), message: err instanceof Error ? err.message : String(err) };
}

const inboxSql = new Map<number, string>();
// One multi-row INSERT … RETURNING: the ids it returns are the ones not seen before.
async function recordInInbox(tx: Sql, groupId: string, ids: string[]): Promise<Set<string>> {
  const unique = [...new Set(ids)];
  const fresh = new Set<string>();
  const now = new Date().toISOString();
  let at = 0;
  for (const size of chunkSizes(unique.length)) {
    let sql = inboxSql.get(size);
    if (sql === undefined) {
      const tuples = Array.from({ length: size }, (_, i) => `($${i + 3}, $1, $2)`);
      sql = `INSERT INTO inbox (message_id, consumer_group, processed_at) VALUES ${tuples.join(', ')} ON CONFLICT DO NOTHING RETURNING message_id`;
      inboxSql.set(size, sql);
    }
    const rows = await tx.query<{ message_id: string }>(sql, [groupId, now, ...unique.slice(at, at + size)]);
    for (const r of rows) fresh.add(r.message_id);
    at += size;
  }
  return fresh;
}

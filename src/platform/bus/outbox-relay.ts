/**
 * The outbox relay: publishes what committed transactions appended to the outbox, then
 * deletes those rows.
 *
 * Fast path. When a transaction commits, the Db hands the relay the rows it appended
 * (outbox.ts notes them per transaction), so the relay publishes them at once, in commit
 * order, without reading them back; published rows are deleted together, one statement
 * every 100 ms at most. That is a produce per relay cycle and a DELETE per interval, where
 * reading the table back cost seven statements per cycle (a peek, BEGIN, an advisory lock,
 * SELECT … FOR UPDATE, DELETE, COMMIT, and the peek its own commit caused); and no
 * transaction is held open across the produce: a broker outage no longer leaves a
 * connection idle in transaction.
 *
 * Fallback. Rows the fast path did not publish are read back from the table by a poll, in
 * seq order: at start (a crash between a commit and its publish), after a failed publish
 * or delete, and on a slow timer for rows older than `staleMs` (another instance that died
 * with rows pending). While the fallback owes rows, the fast path waits, so one process
 * never publishes a key's later message before an earlier one it still owes.
 *
 * Order per key. Within a process, rows reach the broker in commit order. Across processes
 * (replicas of a service on one database), a message written after an earlier one of the
 * same key was consumed (causally after it) is published after it too: the earlier row was
 * published before it could be consumed. Two processes writing one key concurrently have
 * no order to keep. A row may be published twice (a crash after the publish and before the
 * delete, a poll racing another instance's fast path); the inbox absorbs the copy, and the
 * first copy of every message is in order, because any publisher that publishes a row also
 * publishes every earlier row of its key still in the table, first.
 *
 * Too large. A row the bus refuses for its size (PLT_ERR_RECORD_TOO_LARGE) would otherwise
 * fail every publish of the batch holding it, forever, and hold back every row after it.
 * The relay narrows the refusal down to the rows at fault (the adapter names them when it
 * can; else the batch is halved until it does: a broker names only a partition's batch, and
 * a batch of small records may itself be over the topic's limit), moves each such row to
 * `dead_letters` (origin `relay`, see dead-letter-store.ts) in one transaction with its
 * delete from the outbox, logs it as an error with its code, counts it (onDeadLettered), and
 * publishes the rest, in order. The dead letter keeps the whole record: it can be replayed
 * once the topic accepts larger records (`orderflow dlq replay`). Those rows leave their
 * key's order: that is the price of not blocking it.
 */
import type { Db, Sql } from '../db/db.ts';
import type { Bus, OutRecord } from './bus.ts';
import { takeAppended, type OutboxEntry } from './outbox.ts';
import { decode } from './envelope.ts';
import { newDeadLetterId, recordDeadLetters } from './dead-letter-store.ts';
import { isOrderflowError, RecordTooLarge } from '../errors.ts';
import { silentLogger, type Logger } from '../log.ts';
import { startSendSpans } from '../telemetry/message-spans.ts';
import { detached } from '../telemetry/tracing.ts';

export interface OutboxRelay {
  /** Asks for a publish cycle now (coalesced with one in flight). */
  wake(): void;
  /** Resolves when every row this relay knows of (committed here, or found by a poll it owes) has been published. */
  flush(): Promise<void>;
  /** Publishes what is pending (bounded wait), then stops. */
  close(): Promise<void>;
}

interface OutboxRow {
  id: string;
  topic: string;
  key: string;
  value: string;
  headers: string;
}

const SELECT = 'SELECT id, topic, key, value, headers FROM outbox ORDER BY seq LIMIT $1';
const SELECT_STALE = 'SELECT id, topic, key, value, headers FROM outbox WHERE created_at < $2 ORDER BY seq LIMIT $1';
const DELETE_POSTGRES = 'DELETE FROM outbox WHERE id = ANY($1::text[])';
// One SQL text for any number of ids, so the statement cache keeps one entry.
const DELETE_SQLITE = 'DELETE FROM outbox WHERE id IN (SELECT value FROM json_each($1))';

// The row's id is the message's, except for a replayed dead letter (`replay:<row id>`).
function messageIdOf(e: OutboxEntry): string | undefined {
  try {
    return decode(e.record).id;
  } catch {
    return undefined;
  }
}

const CLOSE_FLUSH_MS = 5_000;
const POLLED_REMEMBERED = 4_096;
const BACKOFF_MIN_MS = 100;
const BACKOFF_MAX_MS = 5_000;
/** Beyond this many rows waiting for the fast path, they are dropped and left to a poll. */
const MAX_QUEUED = 20_000;
/** Published rows are deleted this long after their publish, together… */
const DELETE_DELAY_MS = 100;
/** …or as soon as this many are waiting. */
const MAX_PUBLISHED_UNDELETED = 2_000;

/**
 * Starts the relay on `db`: the fast path for every commit, a poll at start, after
 * failures, and every `idlePollMs` for rows older than `staleMs`. A failed publish is
 * logged and retried with backoff; no row is dropped.
 */
export function startOutboxRelay(opts: {
  db: Db;
  bus: Bus;
  log?: Logger;
  batchSize?: number;
  idlePollMs?: number;
  staleMs?: number;
  deleteDelayMs?: number;
  /** Called with the number of rows moved to dead_letters because the bus refused them as too large. */
  onDeadLettered?: (count: number) => void;
}): OutboxRelay {
  const { db, bus } = opts;
  const log = opts.log ?? silentLogger;
  const batchSize = opts.batchSize ?? 500;
  const idlePollMs = opts.idlePollMs ?? 1000;
  const staleMs = opts.staleMs ?? 5000;
  const deleteDelayMs = opts.deleteDelayMs ?? DELETE_DELAY_MS;
  const deleteSql = db.dialect === 'postgres' ? DELETE_POSTGRES : DELETE_SQLITE;
  const idsParam = (ids: string[]) => (db.dialect === 'postgres' ? ids : JSON.stringify(ids));

  // Rows committed here and not yet published, in commit order.
  let queue: OutboxEntry[] = [];
  // Published rows still in the table. Deleting them a little later, many at a time, costs
  // one statement (and, on PostgreSQL, one WAL flush) per interval instead of per publish;
  // a crash in between publishes them again, which the inbox absorbs.
  let published: string[] = [];
  let deleteTimer: NodeJS.Timeout | undefined;
  let deleteDue = false;
  // Every entry ever queued, counted, and how many of those have been published or handed
  // to a poll: flush() waits for the second to reach what the first was at its call.
  let queuedTotal = 0;
  let settledTotal = 0;
  // The table may hold rows the fast path does not know of: a poll owes them.
  let pollOwed = true;
  let staleDue = false;
  let running = false;
  let again = false;
  let stopped = false;
  let idle: Promise<void> = Promise.resolve();
  let interruptSleep: (() => void) | undefined;
  const waiters: Array<{ upTo: number; resolve: () => void }> = [];

  // Rows a poll published, kept for a while: a poll can read a row whose commit is visible
  // before this process's commit callback has queued it, and the fast path would publish it
  // a second time (the inbox would absorb it, but it is a wasted produce). A commit callback
  // comes right after its commit, so the last few thousand polled ids are plenty.
  const polledRecently = new Set<string>();
  const rememberPolled = (ids: Iterable<string>) => {
    for (const id of ids) polledRecently.add(id);
    for (const id of polledRecently) {
      if (polledRecently.size <= POLLED_REMEMBERED) break;
      polledRecently.delete(id);
    }
  };

  function onCommitted(tx: Sql): void {
    let entries = takeAppended(tx);
    if (entries === undefined || stopped) return;
    if (polledRecently.size > 0) {
      const all = entries;
      // A message appended twice in one transaction is two entries of one row: both go.
      entries = all.filter((e) => !polledRecently.has(e.id));
      for (const e of all) polledRecently.delete(e.id);
      if (entries.length === 0) return;
    }
    if (queue.length + entries.length > MAX_QUEUED) {
      // A long broker outage under load: the table keeps them, a poll publishes them.
      pollOwed = true;
      settle(queue.length);
      queue = [];
    } else {
      queue.push(...entries);
      queuedTotal += entries.length;
    }
    wake();
  }

  function settle(count: number): void {
    settledTotal += count;
    if (pollOwed || published.length > 0) return;
    for (let i = waiters.length - 1; i >= 0; i--) {
      if (waiters[i].upTo <= settledTotal) {
        waiters[i].resolve();
        waiters.splice(i, 1);
      }
    }
  }

  async function publish(entries: OutboxEntry[]): Promise<void> {
    const seen = new Set<string>();
    const unique: OutboxEntry[] = [];
    for (const e of entries) {
      // The same message appended twice is one row, published once.
      if (seen.has(e.id)) continue;
      seen.add(e.id);
      unique.push(e);
    }
    await send(unique);
    if (published.length >= MAX_PUBLISHED_UNDELETED || waiters.length > 0) deleteDue = true;
    else deleteTimer ??= setTimeout(() => {
      deleteTimer = undefined;
      deleteDue = true;
      wake();
    }, deleteDelayMs);
  }

  // Publishes `entries` in order, notes them published; what the bus refuses as too large
  // goes to dead_letters and the rest still goes out (see "Too large" above).
  async function send(entries: OutboxEntry[]): Promise<void> {
    if (entries.length === 0) return;
    const spans = startSendSpans(bus.kind, entries.map((e) => e.record));
    try {
      await bus.publish(spans.records);
    } catch (err) {
      spans.end(err);
      if (!isOrderflowError(err, RecordTooLarge.code)) throw err;
      const named = (err.details as { records?: number[] } | undefined)?.records;
      if (named !== undefined && named.length > 0) {
        const bad = new Set(named);
        await deadLetter(entries.filter((_, i) => bad.has(i)), err);
        return send(entries.filter((_, i) => !bad.has(i)));
      }
      if (entries.length === 1) return deadLetter(entries, err);
      const half = Math.ceil(entries.length / 2);
      await send(entries.slice(0, half));
      return send(entries.slice(half));
    }
    spans.end();
    for (const e of entries) published.push(e.id);
  }

  async function deadLetter(entries: OutboxEntry[], err: unknown): Promise<void> {
    const failedAt = new Date().toISOString();
    const error = { code: RecordTooLarge.code, message: (err as Error).message };
    await db.transaction(async (tx) => {
      await recordDeadLetters(tx, entries.map((e) => {
        const id = newDeadLetterId();
        const messageId = messageIdOf(e);
        return { id, source: `relay/${id}`, origin: 'relay', messageId, messageType: e.record.headers.type, record: e.record, error, attempts: 0, failedAt };
      }));
      await tx.execute(deleteSql, [idsParam(entries.map((e) => e.id))]);
    });
    for (const e of entries) {
      log.error(
        { err: RecordTooLarge(`outbox row ${e.id} for ${e.record.topic} is too large for the bus; moved to dead_letters`, { cause: err }), topic: e.record.topic, key: e.record.key, messageId: e.id, bytes: Buffer.byteLength(e.record.value) },
        'outbox relay: a record too large for the bus was moved to dead_letters; the rows after it go on',
      );
    }
    opts.onDeadLettered?.(entries.length);
  }

  async function deletePublished(): Promise<void> {
    deleteDue = false;
    if (published.length === 0) return;
    const ids = published;
    published = [];
    clearTimeout(deleteTimer);
    deleteTimer = undefined;
    try {
      await db.execute(deleteSql, [idsParam(ids)]);
    } catch (err) {
      published = ids.concat(published);
      throw err;
    }
    settle(0);
  }

  async function poll(stale: boolean): Promise<number> {
    // Published rows still in the table would be read back and published again.
    await deletePublished();
    const rows = stale
      ? await db.query<OutboxRow>(SELECT_STALE, [batchSize, new Date(Date.now() - staleMs).toISOString()])
      : await db.query<OutboxRow>(SELECT, [batchSize]);
    if (rows.length === 0) return 0;
    // What the poll publishes now, in seq order, leaves the fast path's queue.
    const polled = new Set(rows.map((r) => r.id));
    const before = queue.length;
    queue = queue.filter((e) => !polled.has(e.id));
    settle(before - queue.length);
    await publish(rows.map((r) => ({ id: r.id, record: { topic: r.topic, key: r.key, value: r.value, headers: JSON.parse(r.headers) } })));
    rememberPolled(polled);
    return rows.length;
  }

  // One step of work; false when there is nothing left to do.
  async function step(): Promise<boolean> {
    if (pollOwed) {
      const n = await poll(false);
      if (n < batchSize) {
        pollOwed = false;
        settle(0);
      }
      return true;
    }
    if (queue.length > 0) {
      const batch = queue.slice(0, batchSize);
      try {
        await publish(batch);
      } catch (err) {
        // The rows are in the table; a poll publishes them, in order, before anything newer.
        pollOwed = true;
        queue = queue.slice(batch.length);
        settle(batch.length);
        throw err;
      }
      queue = queue.slice(batch.length);
      settle(batch.length);
      return true;
    }
    if (deleteDue) {
      await deletePublished();
      return true;
    }
    if (staleDue) {
      staleDue = false;
      await poll(true);
      return true;
    }
    return false;
  }

  function sleep(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const timer = setTimeout(done, ms);
      function done() {
        clearTimeout(timer);
        interruptSleep = undefined;
        resolve();
      }
      interruptSleep = done;
    });
  }

  async function loop(): Promise<void> {
    let backoff = BACKOFF_MIN_MS;
    // `running` is cleared in the same synchronous step as the last check of `again`, so
    // a wake can never fall between the two and be lost.
    try {
      while (!stopped) {
        again = false;
        let more: boolean;
        try {
          more = await step();
          backoff = BACKOFF_MIN_MS;
        } catch (err) {
          pollOwed = true;
          log.error({ err, retryInMs: backoff }, 'outbox relay: publishing failed, will retry');
          await sleep(backoff);
          backoff = Math.min(backoff * 2, BACKOFF_MAX_MS);
          continue;
        }
        if (!more && !again) return;
      }
    } finally {
      running = false;
    }
  }

  function wake(): void {
    if (stopped) return;
    if (running) {
      again = true;
      return;
    }
    running = true;
    // After the current turn of the event loop: the transactions whose commits complete in
    // the same turn (a consumer's group commit, concurrent HTTP writes) go out in one
    // produce instead of one each, for no more delay than the turn itself.
    // Detached from the trace of whoever woke it: a publish cycle serves many requests.
    idle = new Promise<void>((resolve) => setImmediate(resolve)).then(detached(loop));
  }

  const unsubscribe = db.onCommit(onCommitted);
  const timer = setInterval(() => {
    staleDue = true;
    wake();
  }, idlePollMs);
  timer.unref();
  wake();

  function flush(): Promise<void> {
    if (stopped) return Promise.resolve();
    const upTo = queuedTotal;
    if (upTo <= settledTotal && !pollOwed && published.length === 0) return Promise.resolve();
    const p = new Promise<void>((resolve) => waiters.push({ upTo, resolve }));
    deleteDue = true;
    wake();
    return p;
  }

  async function close(): Promise<void> {
    if (stopped) return;
    unsubscribe();
    clearInterval(timer);
    let closeTimer: NodeJS.Timeout | undefined;
    const timedOut = await Promise.race([
      flush().then(() => false),
      new Promise<boolean>((resolve) => (closeTimer = setTimeout(() => resolve(true), CLOSE_FLUSH_MS))),
    ]);
    clearTimeout(closeTimer);
    if (timedOut) log.warn('outbox relay: closing with unpublished rows; they are published on the next start');
    stopped = true;
    clearTimeout(deleteTimer);
    interruptSleep?.();
    for (const w of waiters.splice(0)) w.resolve();
    await idle;
  }

  return { wake, flush, close };
}

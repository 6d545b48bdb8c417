/**
 * The live tail of every topic for GET /api/admin/events/stream: ONE Bus.tail of every topic
 * and dead-letter topic (no consumer group, no commits), whatever the number of clients, into
 * a ring buffer of the last records, fanned out to each open stream through its filter.
 *
 * - A record is decoded once, when a client first needs it (a filter on type or order, or to
 *   send it), never when nobody looks: with no client open the tail costs the bus read and a
 *   slot of the ring.
 * - Each record gets a cursor, its SSE id: a number that rises with every record this gateway
 *   sees, started from its boot time (ms × 1000), so a cursor of a gateway that ran before is
 *   below every cursor of this one. A client that reconnects with Last-Event-ID gets the
 *   records of the ring after it, without those it had.
 * - A client that does not read what it is sent (its socket's buffer past
 *   `maxBufferedBytes`) is disconnected, never buffered for without bound: it reconnects with
 *   Last-Event-ID and takes what the ring still holds.
 * - Until the bus is open and the tail reads (the bus may be away when the gateway starts:
 *   it keeps trying, the API serves meanwhile), a stream is refused with a 503.
 */
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Bus, InRecord, Tail } from '#platform/bus/bus.ts';
import { decode } from '#platform/bus/envelope.ts';
import { defineError } from '#platform/errors.ts';
import type { Logger } from '#platform/log.ts';

export const EventTailUnavailable = defineError('GW_ERR_EVENT_TAIL_UNAVAILABLE', 503);

/** What a stream asks for; every field optional, each an exact match. */
export interface TailFilter {
  topic?: string;
  type?: string;
  key?: string;
  /** The record's key, or its payload's orderId. */
  order?: string;
}

export interface EventTailOptions {
  /** Opens the bus the tail reads (called again after a failure). */
  openBus(): Promise<Bus>;
  topics: string[];
  /** Records the ring keeps (the newest); 0 = no tail at all. */
  records: number;
  log: Logger;
  /** At most this many records a new stream is sent from the ring; default 200. */
  replay?: number;
  /** Comment line every this often; default 15 s. */
  heartbeatMs?: number;
  /** A client whose unsent bytes pass this is disconnected; default 4 MiB. */
  maxBufferedBytes?: number;
  /** Wait between attempts to open the tail; default 2 s, doubling up to 30 s. */
  retryMs?: number;
}

export interface EventTail {
  /** Serves one stream (the reply is hijacked), or throws the coded error to answer instead. */
  serve(req: FastifyRequest, reply: FastifyReply, filter: TailFilter, lastEventId?: string): void;
  /** True once the tail reads. */
  open(): boolean;
  /** Streams open now. */
  streams(): number;
  /** Ends every stream, closes the tail and its bus. */
  close(): Promise<void>;
}

interface Entry {
  seq: number;
  record: InRecord;
  decoded?: Decoded;
  /** The SSE event, made once for every client. */
  event?: string;
}

interface Decoded {
  id: string | null;
  type: string | null;
  version: number | null;
  occurredAt: string | null;
  orderId: string | null;
  payload: unknown;
}

interface Client {
  filter: TailFilter;
  send(entry: Entry): void;
  write(chunk: string): void;
  /** Ends the stream; `abort` drops what is unsent (a client that does not read). */
  end(abort?: boolean): void;
}

// As for a passed-through stream (event-streams.ts): no proxy buffering, no transformation.
const streamHeaders = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', connection: 'close' };

function decodeEntry(entry: Entry): Decoded {
  if (entry.decoded) return entry.decoded;
  try {
    const env = decode(entry.record);
    const orderId = (env.payload as { orderId?: unknown } | null)?.orderId;
    entry.decoded = { id: env.id, type: env.type, version: env.version, occurredAt: env.occurredAt, orderId: typeof orderId === 'string' ? orderId : null, payload: env.payload };
  } catch {
    entry.decoded = { id: null, type: null, version: null, occurredAt: null, orderId: null, payload: entry.record.value };
  }
  return entry.decoded;
}

function eventOf(entry: Entry): string {
  if (entry.event) return entry.event;
  const r = entry.record;
  const d = decodeEntry(entry);
  const data = { topic: r.topic, partition: r.partition, offset: r.offset, key: r.key, id: d.id, type: d.type, version: d.version, occurredAt: d.occurredAt, headers: r.headers, payload: d.payload };
  entry.event = `id: ${entry.seq}\nevent: record\ndata: ${JSON.stringify(data)}\n\n`;
  return entry.event;
}

/** Whether the record passes the filter; decodes it only when the filter needs its type or payload. */
function matches(entry: Entry, f: TailFilter): boolean {
  const r = entry.record;
  if (f.topic !== undefined && r.topic !== f.topic) return false;
  if (f.key !== undefined && r.key !== f.key) return false;
  if (f.type !== undefined && decodeEntry(entry).type !== f.type) return false;
  if (f.order !== undefined && r.key !== f.order && decodeEntry(entry).orderId !== f.order) return false;
  return true;
}

export function startEventTail(opts: EventTailOptions): EventTail {
  const { log } = opts;
  const capacity = opts.records;
  const replay = opts.replay ?? 200;
  const maxBuffered = opts.maxBufferedBytes ?? 4 * 1024 * 1024;
  const ring: Array<Entry | undefined> = new Array(capacity);
  let head = 0;
  let size = 0;
  let seq = Date.now() * 1000;
  const clients = new Set<Client>();
  let bus: Bus | undefined;
  let tail: Tail | undefined;
  let closed = false;
  let retryTimer: NodeJS.Timeout | undefined;

  function onRecords(records: InRecord[]): void {
    for (const record of records) {
      const entry: Entry = { seq: ++seq, record };
      ring[head] = entry;
      head = (head + 1) % capacity;
      if (size < capacity) size++;
      for (const c of clients) if (matches(entry, c.filter)) c.send(entry);
    }
  }

  async function openTail(delay: number): Promise<void> {
    try {
      bus ??= await opts.openBus();
      // Closed meanwhile: what was opened is closed here (the bus closes its tails).
      if (closed) return await bus.close();
      const opened = await bus.tail(opts.topics, onRecords);
      if (closed) return await bus.close();
      tail = opened;
      log.info({ topics: opts.topics.length, records: capacity }, 'event tail open');
    } catch (err) {
      if (closed) return;
      log.warn({ err, retryInMs: delay }, 'cannot open the event tail; retrying');
      retryTimer = setTimeout(() => void openTail(Math.min(delay * 2, 30_000)), delay);
      retryTimer.unref();
    }
  }
  if (capacity > 0) void openTail(opts.retryMs ?? 2_000);

  const heartbeat = setInterval(() => {
    for (const c of clients) c.write(': heartbeat\n\n');
  }, opts.heartbeatMs ?? 15_000);
  heartbeat.unref();

  return {
    open: () => tail !== undefined && !closed,
    streams: () => clients.size,

    serve(req, reply, filter, lastEventId) {
      if (capacity === 0) throw EventTailUnavailable('the event tail is off (GATEWAY_EVENT_TAIL_RECORDS=0)');
      if (!tail || closed) throw EventTailUnavailable('the event tail is not reading the bus yet; retry later');
      const since = lastEventId === undefined || lastEventId === '' ? 0 : Number(lastEventId);
      // The newest matching records of the ring after the cursor, at most `replay`, oldest first.
      const first: Entry[] = [];
      for (let i = 1; i <= size && first.length < replay; i++) {
        const entry = ring[(head - i + capacity) % capacity]!;
        if (entry.seq <= since) break;
        if (matches(entry, filter)) first.push(entry);
      }
      first.reverse();

      const raw = reply.raw;
      let ended = false;
      const client: Client = {
        filter,
        send: (entry) => client.write(eventOf(entry)),
        write(chunk) {
          if (ended) return;
          // Unsent bytes past the bound before this write: a client that does not read what it
          // was sent is let go, not buffered for. (Checked before, not after: one burst larger
          // than the bound, written at once, does not cost a client that keeps up.)
          if (raw.writableLength > maxBuffered) {
            log.warn({ reqId: req.id, buffered: raw.writableLength }, 'event stream client too slow; disconnecting it');
            client.end(true);
            return;
          }
          raw.write(chunk);
        },
        end(abort = false) {
          if (ended) return;
          ended = true;
          clients.delete(client);
          // A client that reads nothing would hold the socket (and its buffer) until a timeout.
          if (abort) raw.destroy();
          else if (!raw.writableEnded) raw.end();
        },
      };
      reply.hijack();
      // The edge's own headers (helmet's, CORS) are on the reply; a hijacked reply sends only what is written here.
      const own = Object.fromEntries(Object.entries(reply.getHeaders()).filter(([, v]) => v !== undefined)) as Record<string, string>;
      raw.writeHead(200, { ...own, ...streamHeaders });
      raw.flushHeaders();
      raw.on('close', () => client.end());
      clients.add(client);
      // A first comment, so that a client knows at once the stream is open even when nothing matches.
      client.write(': open\n\n');
      for (const entry of first) client.send(entry);
    },

    async close() {
      if (closed) return;
      closed = true;
      clearTimeout(retryTimer);
      clearInterval(heartbeat);
      for (const c of [...clients]) {
        // A clean end: the client sees the stream over and reconnects (Last-Event-ID).
        c.end();
      }
      await tail?.close();
      await bus?.close();
    },
  };
}

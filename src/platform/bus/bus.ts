/**
 * The Bus port: a partitioned, replayable log with consumer groups. Two adapters implement
 * it with the same semantics: the embedded log (one SQLite file, for one machine) and
 * Apache Kafka (@platformatic/kafka).
 *
 * Semantics every adapter keeps (the bus conformance suite checks them):
 * - a record goes to partition hash(key) mod partitions; the same key always lands on the
 *   same partition, so records of one key are delivered in the order they were published;
 * - `publish` resolves once every record is durably stored (Kafka: acks=all, idempotent
 *   producer), in the order given for records of one partition;
 * - a subscription delivers batches of consecutive records of ONE partition, in order;
 *   different partitions are handled concurrently; the next batch of a partition is not
 *   delivered before the previous batch's handler settled;
 * - after `handle` resolves, the offset after the batch is committed for the group, not at
 *   once but with the commits of other batches and partitions, within a short interval (an
 *   adapter setting) and always when the subscription closes or loses the partition; an
 *   offset is never committed before its batch was handled. When `handle` rejects, nothing
 *   is committed and the same records are delivered again after a pause. A crash therefore
 *   redelivers what was handled since the last commit (at-least-once: idempotence is the
 *   consumer layer's job, see consumer.ts);
 * - a new group starts at the earliest record; an existing one resumes at its committed
 *   offset, also after a restart of the process.
 */
export interface TopicSpec {
  name: string;
  partitions: number;
  /** Kafka only; the embedded log keeps one copy. */
  replicationFactor?: number;
  /** Kafka only (retention.ms), on creation: how long records are kept; -1 keeps them forever. Default: the broker's (7 days). */
  retentionMs?: number;
  /** Kafka only (max.message.bytes), on creation: the largest record batch the broker accepts. Default: the broker's (1 MiB). */
  maxRecordBytes?: number;
  /**
   * A compacted topic (Kafka: cleanup.policy=compact, on creation): the log keeps at least the
   * last record of every key, and drops a key whose last record is a tombstone. For state
   * changelogs (streams/). The embedded log compacts them in its trim (trim.ts), where a
   * record with an empty value is a tombstone; without a retention it keeps them whole.
   */
  compact?: boolean;
}

/**
 * The largest record a publish accepts by default, as Kafka's (max.request.size on the
 * producer, max.message.bytes on the broker): 1 MiB. Both adapters refuse a larger one with
 * PLT_ERR_RECORD_TOO_LARGE before sending it.
 */
export const DEFAULT_MAX_RECORD_BYTES = 1_048_576;

/**
 * A record's size as the limit counts it: key, value and header bytes, plus Kafka's framing
 * of one record in its batch (61 bytes of batch header, a few varints per record), rounded up.
 */
export function recordBytes(r: OutRecord): number {
  let n = 80 + Buffer.byteLength(r.key) + Buffer.byteLength(r.value);
  for (const [k, v] of Object.entries(r.headers)) n += 2 + Buffer.byteLength(k) + Buffer.byteLength(v);
  return n;
}

/** Indices of the records over `max` bytes (recordBytes); empty when all fit. */
export function oversized(records: OutRecord[], max: number): number[] {
  const out: number[] = [];
  for (let i = 0; i < records.length; i++) {
    // Cheap first: a UTF-8 string takes at most 3 bytes per UTF-16 unit, so most records
    // are known to fit without measuring their bytes.
    const r = records[i];
    let upper = 80 + 3 * (r.key.length + r.value.length);
    for (const k in r.headers) upper += 2 + 3 * (k.length + r.headers[k].length);
    if (upper <= max) continue;
    if (recordBytes(r) > max) out.push(i);
  }
  return out;
}

/** A record to publish. `value` is the encoded message (see envelope.ts). */
export interface OutRecord {
  topic: string;
  key: string;
  value: string;
  headers: Record<string, string>;
  /**
   * The partition to append to, instead of the key's (partitionFor): for a processor's state
   * changelog, which lives in the partition of its task. A partition the topic lacks is refused
   * with PLT_ERR_UNKNOWN_PARTITION, nothing of the call stored.
   */
  toPartition?: number;
  /**
   * Deletes the key on a compacted topic (Kafka: a null value). `value` must be ''; a reader
   * sees the record with value ''.
   */
  tombstone?: boolean;
}

/** A record as delivered to a consumer. */
export interface InRecord extends OutRecord {
  partition: number;
  /** Decimal string: Kafka offsets are 64-bit. */
  offset: string;
}

export interface SubscribeOptions {
  groupId: string;
  topics: string[];
  handle(batch: InRecord[]): Promise<void>;
  /** Most records in one batch; default 500. */
  maxBatch?: number;
  /**
   * Called when this member is given partitions of `topic` it did not hold (not for those it
   * keeps across a rebalance), before any of their batches is delivered. Whatever it knew of
   * them may be stale: another member may have had them meanwhile. For the stream processor,
   * whose in-memory state of a partition must then be restored.
   */
  onAssigned?(topic: string, partitions: number[]): void;
  /**
   * Partition p of every topic goes to the same member (Kafka: an assignor of its own instead
   * of round robin, which may split them). For co-partitioned inputs processed together, as a
   * stream processor's task does. The embedded log gives a member whole topics anyway.
   */
  copartitioned?: boolean;
}

export interface Subscription {
  /** Stops fetching, waits for handlers in flight, commits what they finished, leaves the group. */
  close(): Promise<void>;
  /**
   * True while this member is in its group and gets deliveries (Kafka: joined, with a live
   * membership; the embedded log: open and not fenced by a newer member). For readiness.
   */
  joined(): boolean;
}

/** One page of a partition read from an offset (Bus.readPartition). */
export interface PartitionPage {
  /** In offset order; on a compacted topic the offsets have gaps. */
  records: InRecord[];
  /** Offset to read the next page from; equals `end` once the partition was read to its end. */
  next: number;
  /** The partition's end offset when the read began. */
  end: number;
}

/** Where a partition stands: its log and, when asked for a group, the group's commit. */
export interface PartitionPosition {
  topic: string;
  partition: number;
  /** Offset of the first record still in the log. */
  start: number;
  /** Offset the next record will get (Kafka's high watermark). */
  end: number;
  /** The group's committed offset; undefined when no group was asked or it committed nothing. */
  committed?: number;
}

/**
 * What Bus.tail hands its reader: the records of one partition, in offset order. Called
 * without waiting for it: a reader that cannot keep up keeps or drops on its own side.
 */
export type TailHandler = (records: InRecord[]) => void;

/** A tail of topics (Bus.tail). */
export interface Tail {
  /** Stops reading; no handler call after it resolves. */
  close(): Promise<void>;
}

/** Holds `tail` in `open` until it is closed, so that closing a bus closes the tails left open. */
export function trackTail(open: Set<Tail>, tail: Tail): Tail {
  const tracked: Tail = {
    async close() {
      open.delete(tracked);
      await tail.close();
    },
  };
  open.add(tracked);
  return tracked;
}

/** How often a tail looks again for the topics it was given that do not exist yet. */
export const TAIL_TOPIC_RECHECK_MS = 5_000;

export interface Bus {
  readonly kind: 'embedded' | 'kafka';
  /** Creates missing topics; existing topics are left as they are. */
  ensureTopics(topics: TopicSpec[]): Promise<void>;
  /**
   * Rejects with PLT_ERR_RECORD_TOO_LARGE when a record is over the size limit (then nothing
   * of the call is stored on the embedded log; on Kafka, records of other partitions may be).
   */
  publish(records: OutRecord[]): Promise<void>;
  subscribe(opts: SubscribeOptions): Promise<Subscription>;
  /** Records not yet committed by the group, summed over the topics' partitions. */
  lag(groupId: string, topics: string[]): Promise<number>;
  /**
   * Every partition of `topics`, with `groupId`'s commits when given: one query on the
   * embedded log, a few admin requests on Kafka (never one per partition). For metrics.
   */
  positions(topics: string[], groupId?: string): Promise<PartitionPosition[]>;
  /** Resolves when the broker answers (Kafka) or the log is open; rejects with a coded error otherwise. For readiness. */
  reachable(): Promise<void>;
  /** Reads records of a topic from the beginning (for dead-letter listing); at most `limit`. */
  read(topic: string, opts?: { limit?: number }): Promise<InRecord[]>;
  /**
   * Reads one partition from offset `from` (clamped to the first record still in the log)
   * towards the end it had when the call began, at most `limit` records (default 10,000):
   * without a group, committing nothing. A caller reads to the end by calling again from
   * `next` until `next` reaches `end`. For restoring a processor's state from its changelog.
   */
  readPartition(topic: string, partition: number, opts?: { from?: number; limit?: number }): Promise<PartitionPage>;
  /**
   * Reads the records published to `topics` from now on, for an onlooker (a live view of the
   * log): no consumer group, no commits, nothing anyone else sees. It resolves once it took the
   * end of every partition of the topics: a record published after that is handed to `onRecords`,
   * one published before is not. Each call hands the records of one partition, in offset order;
   * partitions interleave. A topic that does not exist yet is looked for again every
   * TAIL_TOPIC_RECHECK_MS and read from its first record once it does. One reader costs one
   * long poll (Kafka: a Fetch per broker at a time; the embedded log: the heads poll every
   * process already has), whatever the number of topics.
   */
  tail(topics: string[], onRecords: TailHandler): Promise<Tail>;
  close(): Promise<void>;
}

/** The partition a record is appended to: its `toPartition`, or its key's. */
export function partitionOf(r: OutRecord, partitions: number): number {
  return r.toPartition ?? partitionFor(r.key, partitions);
}

/** Partition of a key: the same function on both adapters (murmur2, as Kafka's default partitioner). */
export function partitionFor(key: string, partitions: number): number {
  const data = Buffer.from(key, 'utf8');
  return (murmur2(data) & 0x7fffffff) % partitions;
}

// Kafka's murmur2 (org.apache.kafka.common.utils.Utils.murmur2), so that a key lands on the
// same partition number whichever adapter produced it.
function murmur2(data: Buffer): number {
  const length = data.length;
  const seed = 0x9747b28c;
  const m = 0x5bd1e995;
  const r = 24;
  let h = seed ^ length;
  const length4 = length >> 2;
  for (let i = 0; i < length4; i++) {
    const i4 = i << 2;
    let k = (data[i4] & 0xff) + ((data[i4 + 1] & 0xff) << 8) + ((data[i4 + 2] & 0xff) << 16) + ((data[i4 + 3] & 0xff) << 24);
    k = Math.imul(k, m);
    k ^= k >>> r;
    k = Math.imul(k, m);
    h = Math.imul(h, m);
    h ^= k;
  }
  const index = length4 << 2;
  switch (length & 3) {
    case 3:
      h ^= (data[index + 2] & 0xff) << 16;
    // falls through
    case 2:
      h ^= (data[index + 1] & 0xff) << 8;
    // falls through
    case 1:
      h ^= data[index] & 0xff;
      h = Math.imul(h, m);
  }
  h ^= h >>> 13;
  h = Math.imul(h, m);
  h ^= h >>> 15;
  return h;
}

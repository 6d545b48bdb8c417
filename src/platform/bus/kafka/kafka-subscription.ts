/**
 * A Kafka consumer group subscription with the Bus semantics: per-partition queues handled
 * sequentially in batches, partitions concurrently, the same batch retried with backoff while
 * `handle` rejects. Offsets of handled batches are committed lazily (lazy-commits.ts: on a
 * timer or every N records), and always before the group rebalances and when closing.
 *
 * Rebalances: on every group join the library re-reads the committed offsets of the new
 * assignment and fetches from there. Partitions we lost drop their queue (an in-flight batch
 * finishes but is not committed: the new owner redelivers it, at-least-once); partitions we
 * kept keep their queue, and records refetched from before what we already hold are dropped,
 * so a batch is never handled twice by us nor out of order.
 */
import { Consumer, consumerGroupChannel, stringDeserializers } from '@platformatic/kafka';
import type { GroupPartitionsAssigner, Message, MessagesStream } from '@platformatic/kafka';
import type { InRecord, SubscribeOptions, Subscription } from '../bus.ts';
import type { KafkaContext } from './kafka-context.ts';
import { defaultCommitPolicy, lazyCommits } from './lazy-commits.ts';
import { KafkaSubscribeFailed, KafkaUnknownTopic, isUnknownTopic, sleep, withTimeout } from './kafka-errors.ts';

type Msg = Message<string, string, string, string>;
type Stream = MessagesStream<string, string, string, string>;

interface Entry {
  record: InRecord;
  offset: bigint;
  leaderEpoch: number;
}

interface PartitionState {
  topic: string;
  /** The topic as callers know it (namespace removed). */
  shortTopic: string;
  partition: number;
  queue: Entry[];
  /** Offset after the last record taken in; older records are refetch duplicates. */
  nextOffset: bigint | undefined;
  /** Bumped when the partition is revoked, so work started before knows it is stale. */
  epoch: number;
  active: boolean;
  done: Promise<void>;
}

/** Fetch and group settings (kafka-bus.bench.ts measures them). */
export const consumerSettings = {
  // With minBytes=1 the broker answers a fetch as soon as any record arrives, so maxWaitTime
  // only bounds idle polling: 500 ms (the Java client's default) is 2 fetches/s per idle
  // group instead of 20 at 50 ms. Close does not wait for the poll in flight (the stream ends
  // at once and its connection is closed), and a rebalance waits at most this long for it.
  maxWaitTime: 500,
  minBytes: 1,
  maxBytes: 8 * 1024 * 1024,
  maxBytesPerPartition: 1024 * 1024,
  sessionTimeout: 10_000,
  heartbeatInterval: 1_000,
  rebalanceTimeout: 30_000,
  highWaterMark: 1024,
} as const;

const MAX_QUEUED = 10_000;
// Membership watch: how often, and how long out of the group before we rejoin ourselves.
const MEMBERSHIP_CHECK_MS = 1_000;
const REJOIN_AFTER_MS = 3_000;
const RETRY_FIRST_MS = 200;
const RETRY_MAX_MS = 2_000;
const HANDLER_DRAIN_TIMEOUT_MS = 30_000;
const CLIENT_CLOSE_TIMEOUT_MS = 10_000;

export async function subscribeKafka(ctx: KafkaContext, opts: SubscribeOptions): Promise<Subscription> {
  const { log } = ctx;
  const maxBatch = Math.max(1, opts.maxBatch ?? 500);
  const groupId = ctx.full(opts.groupId);
  const topics = opts.topics.map(ctx.full);
  const settings = { ...consumerSettings, ...ctx.fetch };
  const consumer = new Consumer({
    ...ctx.connection,
    clientId: `${ctx.clientId}-${opts.groupId}`,
    bootstrapBrokers: ctx.brokers,
    groupId,
    // One member per instance and group: the instance name is unique in the group.
    ...(ctx.instance ? { groupInstanceId: ctx.instance } : {}),
    deserializers: stringDeserializers,
    autocommit: false,
    ...(opts.copartitioned ? { partitionAssigner: copartitionedAssigner } : {}),
    retries: 5,
    retryDelay: 250,
    ...settings,
  });
  const states = new Map<string, PartitionState>();
  let assigned = new Set<string>();
  let queued = 0;
  let paused = false;
  let closing = false;
  let stream: Stream | undefined;
  const stop = new AbortController();

  const commits = lazyCommits(
    (offsets) => withTimeout(consumer.commit({ offsets }), 15_000, `committing offsets of group ${groupId}`),
    { ...defaultCommitPolicy, ...ctx.commitPolicy },
    // Not fatal: the marks stay for the next flush; after a crash the records are redelivered.
    (err) => log.warn({ err, groupId }, 'kafka offset commit failed; will retry'),
  );

  // The classic group protocol has no revoke callback before a rejoin. The client starts every
  // (re)join with this event, synchronously, and sends the OffsetCommit queued here on the
  // coordinator connection ahead of its JoinGroup, while our generation is still current: so
  // the partitions' next owners read the offsets we handled instead of redelivering them.
  let joinsInFlight = 0;
  const isOurJoin = (message: unknown) => {
    const event = message as { client?: unknown; operation?: string };
    return event.client === consumer && event.operation === 'joinGroup';
  };
  const onGroupOperation = (message: unknown) => {
    if (!isOurJoin(message)) return;
    joinsInFlight++;
    void commits.flush();
  };
  const onGroupOperationEnd = (message: unknown) => {
    if (isOurJoin(message)) joinsInFlight = Math.max(0, joinsInFlight - 1);
  };
  consumerGroupChannel.start.subscribe(onGroupOperation);
  consumerGroupChannel.asyncEnd.subscribe(onGroupOperationEnd);

  // The client rejoins on its own when a heartbeat is told to, but not when that rejoin
  // fails: after a broker outage longer than the session timeout it stops heartbeating and
  // stays out of the group for good, while its stream still fetches the old assignment (a
  // member nobody knows of: its offset commits fail, and a new member would be given the
  // same partitions). So we watch the membership, and rejoin when the client has been out
  // for a while with no join of its own in flight (or one that hangs past the rebalance
  // timeout). Local checks only: no request unless a rejoin is due.
  let outSince: number | undefined;
  let rejoining = false;
  const membershipWatch = setInterval(() => {
    if (closing || rejoining) return;
    if (consumer.isActive()) {
      outSince = undefined;
      return;
    }
    const now = Date.now();
    outSince ??= now;
    const out = now - outSince;
    if (out < REJOIN_AFTER_MS || (joinsInFlight > 0 && out < settings.rebalanceTimeout + REJOIN_AFTER_MS)) return;
    rejoining = true;
    log.warn({ groupId, outForMs: out }, 'kafka consumer is not a member of its group; rejoining');
    consumer
      .joinGroup({ sessionTimeout: settings.sessionTimeout, rebalanceTimeout: settings.rebalanceTimeout, heartbeatInterval: settings.heartbeatInterval })
      .then(
        () => log.info({ groupId }, 'kafka consumer rejoined its group'),
        (err: unknown) => log.warn({ err, groupId }, 'kafka consumer rejoin failed; will retry'),
      )
      .finally(() => {
        rejoining = false;
        outSince = undefined;
      });
  }, MEMBERSHIP_CHECK_MS);
  membershipWatch.unref();
  function stopWatching(): void {
    clearInterval(membershipWatch);
    consumerGroupChannel.start.unsubscribe(onGroupOperation);
    consumerGroupChannel.asyncEnd.unsubscribe(onGroupOperationEnd);
  }

  function onJoin(payload: { assignments?: { topic: string; partitions: number[] }[] }): void {
    const next = new Set<string>();
    for (const a of payload.assignments ?? []) for (const p of a.partitions) next.add(`${a.topic}:${p}`);
    for (const [key, st] of states) {
      if (next.has(key) || !assigned.has(key)) continue;
      st.epoch++;
      queued -= st.queue.length;
      st.queue = [];
      st.nextOffset = undefined;
      commits.forget(st.topic, st.partition);
      log.info({ groupId, topic: st.topic, partition: st.partition }, 'kafka partition revoked');
    }
    const given = new Map<string, number[]>();
    for (const key of next) {
      if (assigned.has(key)) continue;
      const at = key.lastIndexOf(':');
      const topic = ctx.short(key.slice(0, at));
      given.set(topic, [...(given.get(topic) ?? []), Number(key.slice(at + 1))]);
    }
    assigned = next;
    for (const [topic, partitions] of given) opts.onAssigned?.(topic, partitions);
    lastTopic = undefined;
    lastPartition = -1;
    lastState = undefined;
    maybeResume();
  }
  consumer.on('consumer:group:join', onJoin);

  // A fetch response is emitted record by record, in runs of one partition: remembering the
  // last partition's state spares a key string and two map lookups per record (they were the
  // costliest line of the consume path in a CPU profile). Reset whenever the assignment changes.
  let lastTopic: string | undefined;
  let lastPartition = -1;
  let lastState: PartitionState | undefined;

  function stateOf(msg: Msg): PartitionState | undefined {
    if (msg.partition === lastPartition && msg.topic === lastTopic) return lastState;
    const key = `${msg.topic}:${msg.partition}`;
    let st: PartitionState | undefined;
    if (assigned.has(key)) {
      st = states.get(key);
      if (!st) {
        st = newState(msg.topic, msg.partition);
        states.set(key, st);
      }
    }
    lastTopic = msg.topic;
    lastPartition = msg.partition;
    lastState = st;
    return st;
  }

  function newState(topic: string, partition: number): PartitionState {
    return { topic, shortTopic: ctx.short(topic), partition, queue: [], nextOffset: undefined, epoch: 0, active: false, done: Promise.resolve() };
  }

  function onData(msg: Msg): void {
    if (closing) return;
    const st = stateOf(msg);
    if (!st) return;
    if (st.nextOffset !== undefined && msg.offset < st.nextOffset) return;
    st.nextOffset = msg.offset + 1n;
    const headers: Record<string, string> = {};
    if (msg.headers.size > 0) for (const [k, v] of msg.headers) if (typeof k === 'string') headers[k] = v ?? '';
    st.queue.push({
      record: { topic: st.shortTopic, partition: msg.partition, offset: msg.offset.toString(), key: msg.key ?? '', value: msg.value ?? '', headers },
      offset: msg.offset,
      leaderEpoch: msg.leaderEpoch,
    });
    queued++;
    if (queued >= MAX_QUEUED && !paused && stream) {
      paused = true;
      stream.pause();
    }
    if (!st.active) {
      st.active = true;
      // Started on a microtask: a fetch response is emitted record by record in one
      // synchronous loop, so by then the whole response is queued and forms one batch.
      st.done = Promise.resolve(st).then(drain);
    }
  }

  function maybeResume(): void {
    if (paused && queued < MAX_QUEUED / 2 && !closing) {
      paused = false;
      stream?.resume();
    }
  }

  async function drain(st: PartitionState): Promise<void> {
    for (;;) {
      // Checked and cleared in the same tick as onData's check, so no record is stranded.
      if (closing || st.queue.length === 0) {
        st.active = false;
        return;
      }
      const epoch = st.epoch;
      const batch = st.queue.splice(0, maxBatch);
      queued -= batch.length;
      maybeResume();
      const handled = await handleWithRetry(st, epoch, batch);
      if (!handled || st.epoch !== epoch) continue;
      const last = batch[batch.length - 1];
      commits.handled({ topic: st.topic, partition: st.partition, offset: last.offset + 1n, leaderEpoch: last.leaderEpoch }, batch.length);
    }
  }

  async function handleWithRetry(st: PartitionState, epoch: number, batch: Entry[]): Promise<boolean> {
    const records = batch.map((e) => e.record);
    let delay = RETRY_FIRST_MS;
    for (;;) {
      try {
        await opts.handle(records);
        return true;
      } catch (err) {
        log.warn({ err, groupId, topic: st.topic, partition: st.partition, offset: records[0].offset, count: records.length }, 'kafka batch handler failed; will redeliver');
      }
      if (closing || st.epoch !== epoch) return false;
      await sleep(delay, stop.signal);
      delay = Math.min(delay * 2, RETRY_MAX_MS);
      if (closing || st.epoch !== epoch) return false;
    }
  }

  async function startStream(): Promise<void> {
    const s = await consumer.consume({ topics, mode: 'committed', fallbackMode: 'earliest', autocommit: false, ...settings });
    stream = s;
    paused = false;
    s.on('data', onData);
    s.on('error', (err: Error) => {
      if (closing) return;
      log.error({ err, groupId }, 'kafka consumer stream failed; restarting it');
      void restartStream();
    });
  }

  // A stream dies on some fetch errors (broker gone, rejoin needed); the group membership and
  // our queues survive, so a fresh stream resumes from the committed offsets.
  async function restartStream(): Promise<void> {
    let delay = 250;
    while (!closing) {
      await sleep(delay, stop.signal);
      if (closing) return;
      try {
        await startStream();
        return;
      } catch (err) {
        log.error({ err, groupId }, 'restarting the kafka consumer stream failed');
        delay = Math.min(delay * 2, 5_000);
      }
    }
  }

  try {
    await startStream();
  } catch (cause) {
    consumer.removeListener('consumer:group:join', onJoin);
    stopWatching();
    commits.stop();
    await withTimeout(consumer.close(true), CLIENT_CLOSE_TIMEOUT_MS, 'closing the consumer').catch(() => {});
    if (isUnknownTopic(cause)) throw KafkaUnknownTopic(`cannot subscribe group ${opts.groupId}: unknown topic among ${opts.topics.join(', ')}`, { cause });
    throw KafkaSubscribeFailed(`cannot subscribe group ${opts.groupId} to ${opts.topics.join(', ')}`, { cause });
  }

  let closed: Promise<void> | undefined;
  return {
    // The client's own view of its membership: joined with a member id and heartbeating.
    joined: () => !closing && consumer.isActive(),
    close() {
      closed ??= (async () => {
        closing = true;
        stop.abort();
        for (const st of states.values()) {
          queued -= st.queue.length;
          st.queue = [];
        }
        try {
          if (stream) await withTimeout(stream.close(), CLIENT_CLOSE_TIMEOUT_MS, 'closing the consumer stream');
        } catch (err) {
          log.warn({ err, groupId }, 'kafka consumer stream did not close cleanly');
        }
        // Handlers in flight finish and commit their batch before we leave the group.
        const inFlight = Promise.all([...states.values()].map((st) => st.done));
        try {
          await withTimeout(inFlight, HANDLER_DRAIN_TIMEOUT_MS, `handlers of group ${groupId}`);
        } catch (err) {
          log.warn({ err, groupId }, 'kafka handlers still running at close');
        }
        // Before leaving the group: after the LeaveGroup our generation is gone and a commit fails.
        await commits.flush();
        commits.stop();
        if (commits.pending().size > 0) log.warn({ groupId, pending: Object.fromEntries(commits.pending()) }, 'kafka offsets left uncommitted at close; they will be redelivered');
        try {
          await withTimeout(consumer.close(), CLIENT_CLOSE_TIMEOUT_MS, 'leaving the consumer group');
        } catch (err) {
          log.warn({ err, groupId }, 'kafka consumer did not close cleanly; forcing it');
          await withTimeout(consumer.close(true), CLIENT_CLOSE_TIMEOUT_MS, 'closing the consumer').catch(() => {});
        }
        consumer.removeListener('consumer:group:join', onJoin);
        stopWatching();
      })();
      return closed;
    },
  };
}

/**
 * Partition p of every subscribed topic to the same member: the (p mod members)-th, members in
 * id order. The library's round robin carries on its count from one topic to the next, so
 * with 3 members and 4 partitions partition 0 of the second topic lands elsewhere than the first's.
 */
export const copartitionedAssigner: GroupPartitionsAssigner = (_current, members, topics, metadata) => {
  const ids = [...members.keys()].sort();
  const out = ids.map((memberId) => ({ memberId, assignments: new Map<string, { topic: string; partitions: number[] }>() }));
  for (const topic of topics) {
    const count = metadata.topics.get(topic)?.partitionsCount ?? 0;
    for (let p = 0; p < count; p++) {
      const member = out[p % out.length];
      let a = member.assignments.get(topic);
      if (!a) member.assignments.set(topic, (a = { topic, partitions: [] }));
      a.partitions.push(p);
    }
  }
  return out;
};

/**
 * Offset commits of a subscription, made lazily: a handled batch only marks its next offset
 * as committable, and the marks go out in one OffsetCommit every `intervalMs` or every
 * `everyRecords` handled records, whichever comes first, plus on demand (a rebalance starts,
 * the subscription closes). At low load a commit per handled batch was a broker request per
 * record per group; the inbox (consumer.ts) makes the redelivery of a not-yet-committed
 * batch after a crash harmless, so committing late costs nothing in correctness.
 *
 * Kept invariants: only offsets of handled batches are ever committed; a partition's committed
 * offset only moves forward (flushes run one at a time, each with the newest marks); a failed
 * commit puts its marks back for the next flush, so nothing is skipped.
 */
export interface CommitItem {
  topic: string;
  partition: number;
  offset: bigint;
  leaderEpoch: number;
}

export interface CommitPolicy {
  /** Longest a handled batch waits for its offset commit; default 200 ms. */
  intervalMs: number;
  /** Handled records that trigger a commit at once; default 1,000. */
  everyRecords: number;
}

export const defaultCommitPolicy: CommitPolicy = { intervalMs: 200, everyRecords: 1000 };

export interface LazyCommits {
  /** A batch of `records` records was handled: `item.offset` (the offset after it) may be committed. */
  handled(item: CommitItem, records: number): void;
  /** Commits every mark made so far; resolves once that commit settled (never rejects). */
  flush(): Promise<void>;
  /** Forgets the marks of a partition we lost: committing them now could move its new owner's offset back. */
  forget(topic: string, partition: number): void;
  /** Marks not yet committed, per `topic:partition` (for tests and logs). */
  pending(): Map<string, bigint>;
  /** Stops the timer; marks left are dropped (call flush first). */
  stop(): void;
}

const keyOf = (topic: string, partition: number) => `${topic}:${partition}`;

export function lazyCommits(
  commit: (items: CommitItem[]) => Promise<void>,
  policy: CommitPolicy,
  onError: (err: unknown, items: CommitItem[]) => void,
): LazyCommits {
  let marks = new Map<string, CommitItem>();
  // Highest offset committed or being committed per partition: never send one at or below it.
  const sent = new Map<string, bigint>();
  let records = 0;
  let timer: NodeJS.Timeout | undefined;
  let chain: Promise<void> = Promise.resolve();
  let inFlight = 0;
  let stopped = false;

  const mark = (item: CommitItem) => {
    const key = keyOf(item.topic, item.partition);
    const prev = marks.get(key);
    if (!prev || prev.offset < item.offset) marks.set(key, item);
  };

  const schedule = () => {
    if (timer || stopped || marks.size === 0) return;
    timer = setTimeout(() => void flush(), policy.intervalMs);
    // Close flushes explicitly; a pending commit must not keep the process alive.
    timer.unref();
  };

  async function run(): Promise<void> {
    clearTimeout(timer);
    timer = undefined;
    records = 0;
    const items = [...marks.values()].filter((i) => i.offset > (sent.get(keyOf(i.topic, i.partition)) ?? -1n));
    marks = new Map();
    if (items.length === 0) return;
    const before = items.map((i) => sent.get(keyOf(i.topic, i.partition)));
    for (const i of items) sent.set(keyOf(i.topic, i.partition), i.offset);
    try {
      await commit(items);
    } catch (err) {
      items.forEach((i, n) => {
        const key = keyOf(i.topic, i.partition);
        if (sent.get(key) === i.offset) {
          if (before[n] === undefined) sent.delete(key);
          else sent.set(key, before[n]);
        }
        mark(i);
      });
      onError(err, items);
      schedule();
    }
  }

  // When no flush is in flight the commit request is issued synchronously, within this call:
  // the rebalance hook relies on it to queue the OffsetCommit ahead of the client's JoinGroup.
  function flush(): Promise<void> {
    const started = inFlight === 0 ? run() : chain.then(run);
    inFlight++;
    chain = started.finally(() => {
      inFlight--;
    });
    return chain;
  }

  return {
    handled(item, count) {
      if (stopped) return;
      mark(item);
      records += count;
      if (records >= policy.everyRecords) {
        records = 0;
        void flush();
      }
      else schedule();
    },
    flush,
    forget(topic, partition) {
      const key = keyOf(topic, partition);
      marks.delete(key);
      sent.delete(key);
    },
    pending: () => new Map([...marks].map(([k, i]) => [k, i.offset])),
    stop() {
      stopped = true;
      clearTimeout(timer);
      timer = undefined;
    },
  };
}

/**
 * Wakes partition loops when their partition grows. Processes share only the SQLite file,
 * there is no cross-process signal, so one poller per process reads the heads of every
 * partition someone waits on with ONE query, every `pollMs` while records keep arriving,
 * backing off to `idlePollMs` after `idleAfterMs` of quiet. A publish from this process
 * wakes local waiters at once (`advanced`), without waiting for the next poll.
 *
 * Each tick first reads SQLite's `PRAGMA data_version`, which changes only when another
 * connection committed to the file; while it stands still nobody else wrote, so the heads
 * cannot have moved and the (dearer) heads query is skipped. It is read BEFORE the heads,
 * so a commit landing between the two reads is seen again on the next tick, never missed.
 */
export interface HeadRow {
  topic: string;
  partition: number;
  next_offset: number;
}

export interface HeadsPoller {
  /** Resolves once the partition's head is beyond `after` (or the wait is cancelled). */
  wait(topic: string, partition: number, after: number): Waiter;
  /** A head seen by this process (its own publish); wakes waiters and fast polling. */
  advanced(topic: string, partition: number, head: number): void;
  /** Something was consumed: stay on fast polling. */
  touch(): void;
  close(): void;
}

export interface Waiter {
  promise: Promise<void>;
  cancel(): void;
}

interface Entry {
  after: number;
  resolve(): void;
}

export function createHeadsPoller(opts: {
  readHeads(topicsJson: string): HeadRow[];
  /** SQLite's data_version of this connection. */
  readVersion(): number;
  pollMs: number;
  idlePollMs: number;
  idleAfterMs: number;
  onError(err: unknown): void;
}): HeadsPoller {
  const waiting = new Map<string, Set<Entry>>();
  const topicCounts = new Map<string, number>();
  let topicsJson: string | undefined;
  let interval = opts.pollMs;
  let lastActivity = Date.now();
  let timer: NodeJS.Timeout | undefined;
  let closed = false;
  let seenVersion: number | undefined;

  const keyOf = (topic: string, partition: number) => `${topic}\u0000${partition}`;

  function remove(topic: string, partition: number, entry: Entry): void {
    const key = keyOf(topic, partition);
    const set = waiting.get(key);
    if (!set?.delete(entry)) return;
    if (set.size === 0) waiting.delete(key);
    const n = (topicCounts.get(topic) ?? 1) - 1;
    if (n === 0) topicCounts.delete(topic);
    else topicCounts.set(topic, n);
    topicsJson = undefined;
    if (waiting.size === 0 && timer) {
      clearTimeout(timer);
      timer = undefined;
    }
  }

  function wake(topic: string, partition: number, head: number): boolean {
    const set = waiting.get(keyOf(topic, partition));
    if (!set) return false;
    let woke = false;
    for (const entry of [...set]) {
      if (head > entry.after) {
        remove(topic, partition, entry);
        entry.resolve();
        woke = true;
      }
    }
    return woke;
  }

  function activity(): void {
    lastActivity = Date.now();
    interval = opts.pollMs;
  }

  function tick(): void {
    timer = undefined;
    if (closed || waiting.size === 0) return;
    topicsJson ??= JSON.stringify([...topicCounts.keys()]);
    let woke = false;
    try {
      const version = opts.readVersion();
      if (version !== seenVersion) {
        seenVersion = version;
        for (const row of opts.readHeads(topicsJson)) woke = wake(row.topic, row.partition, row.next_offset) || woke;
      }
    } catch (err) {
      seenVersion = undefined;
      opts.onError(err);
    }
    if (woke) activity();
    else if (Date.now() - lastActivity > opts.idleAfterMs) interval = Math.min(interval * 2, opts.idlePollMs);
    schedule();
  }

  function schedule(): void {
    if (!timer && !closed && waiting.size > 0) timer = setTimeout(tick, interval);
  }

  return {
    wait(topic, partition, after) {
      let entry!: Entry;
      const promise = new Promise<void>((resolve) => {
        entry = { after, resolve };
      });
      const key = keyOf(topic, partition);
      let set = waiting.get(key);
      if (!set) waiting.set(key, (set = new Set()));
      set.add(entry);
      topicCounts.set(topic, (topicCounts.get(topic) ?? 0) + 1);
      topicsJson = undefined;
      schedule();
      return {
        promise,
        cancel() {
          remove(topic, partition, entry);
          entry.resolve();
        },
      };
    },
    advanced(topic, partition, head) {
      activity();
      wake(topic, partition, head);
    },
    touch: activity,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      timer = undefined;
      for (const set of waiting.values()) for (const entry of set) entry.resolve();
      waiting.clear();
      topicCounts.clear();
    },
  };
}

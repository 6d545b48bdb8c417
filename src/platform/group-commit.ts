/**
 * Group commit. Work that arrives while `maxConcurrent` groups are in flight waits, and goes
 * with whatever else waits into the next group, so that one transaction (one BEGIN, one
 * COMMIT, one WAL flush) carries many items under load, while a lone item waits for
 * nothing but one turn of the event loop. Used by the consumer (batches of several
 * partitions) and by services' own write paths.
 */
export interface GroupQueueOptions<T> {
  /** Groups in flight at once: 1 suits SQLite (it serialises transactions anyway). */
  maxConcurrent: number;
  /** Most total weight in one group; the first item always goes, whatever its weight. */
  maxWeight: number;
  weight?: (item: T) => number;
  /** Runs one group; must not reject (each item settles its own outcome). */
  run: (group: T[]) => Promise<void>;
  /**
   * Most items waiting (not yet in a group in flight); past it push refuses, so that a
   * store slower than the arrivals sheds load instead of queueing without end. Unbounded when absent.
   */
  maxQueued?: number;
}

export interface GroupQueue<T> {
  /** Queues `item`; false, and nothing queued, when maxQueued items already wait. */
  push(item: T): boolean;
  /** Items waiting for a group. */
  readonly queued: number;
}

export function createGroupQueue<T>(opts: GroupQueueOptions<T>): GroupQueue<T> {
  const maxQueued = opts.maxQueued ?? Infinity;
  const weight = opts.weight ?? (() => 1);
  const queue: T[] = [];
  let running = 0;
  let scheduled = false;

  function pump(): void {
    scheduled = false;
    while (running < opts.maxConcurrent && queue.length > 0) {
      let total = weight(queue[0]);
      let n = 1;
      while (n < queue.length && total + weight(queue[n]) <= opts.maxWeight) total += weight(queue[n++]);
      running++;
      void opts.run(queue.splice(0, n)).finally(() => {
        running--;
        schedule();
      });
    }
  }

  // setImmediate runs after the pending I/O callbacks, so work already received (requests,
  // the batches of one fetch response) joins the group.
  function schedule(): void {
    if (scheduled || queue.length === 0 || running >= opts.maxConcurrent) return;
    scheduled = true;
    setImmediate(pump);
  }

  return {
    push(item) {
      if (queue.length >= maxQueued) return false;
      queue.push(item);
      schedule();
      return true;
    },
    get queued() {
      return queue.length;
    },
  };
}

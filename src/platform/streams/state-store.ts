/**
 * A task's state: key-value stores held in memory (a Map each), whose every change is noted
 * for the task's next changelog batch, and a deadline index to find what the watermark has
 * made due (windows to close, join buffers to evict) without scanning a store.
 *
 * Values must survive JSON (they travel through the changelog): plain objects, arrays,
 * numbers, strings. A store is only ever touched by its task, one batch at a time.
 */

/** A key-value store of one task; changes are recorded for the changelog. */
export interface StateStore<T> {
  readonly name: string;
  get(key: string): T | undefined;
  /** Stores `value` under `key`; it is written to the changelog with the batch. */
  put(key: string, value: T): void;
  /** Removes `key`; a tombstone goes to the changelog. */
  delete(key: string): void;
  entries(): IterableIterator<[string, T]>;
  readonly size: number;
}

/** The pending changes of a task's stores, keyed `<store>|<key>`; undefined means deleted. */
export type Changes = Map<string, unknown>;

/** Separator of store name and key in a changelog key: store names may not contain it. */
export const STORE_KEY_SEPARATOR = '|';

/** Creates an empty store whose changes go to `changes`. */
export function createStore<T>(name: string, changes: Changes): StateStore<T> & { load(key: string, value: T | undefined): void } {
  const data = new Map<string, T>();
  const prefix = name + STORE_KEY_SEPARATOR;
  return {
    name,
    get: (key) => data.get(key),
    put(key, value) {
      data.set(key, value);
      changes.set(prefix + key, value);
    },
    delete(key) {
      if (!data.delete(key)) return;
      changes.set(prefix + key, undefined);
    },
    entries: () => data.entries(),
    get size() {
      return data.size;
    },
    /** For the restore: sets or removes a key without noting a change. */
    load(key, value) {
      if (value === undefined) data.delete(key);
      else data.set(key, value);
    },
  };
}

/**
 * Keys by the time at which they fall due, for eviction by the watermark: `due(t)` takes
 * every key whose time is <= t, earliest first. Kept in memory only and rebuilt from the
 * stores after a restore. Times are few and distinct per window, so a sorted array of them
 * suffices.
 */
export interface Deadlines {
  add(time: number, key: string): void;
  remove(time: number, key: string): void;
  /** Removes and returns the keys due at or before `time`, in time order. */
  due(time: number): string[];
  readonly size: number;
}

/** An empty deadline index. */
export function createDeadlines(): Deadlines {
  const byTime = new Map<number, Set<string>>();
  const times: number[] = [];
  let size = 0;
  return {
    add(time, key) {
      let keys = byTime.get(time);
      if (!keys) {
        byTime.set(time, (keys = new Set()));
        times.splice(lowerBound(times, time), 0, time);
      }
      if (!keys.has(key)) size++;
      keys.add(key);
    },
    remove(time, key) {
      const keys = byTime.get(time);
      if (keys?.delete(key)) size--;
    },
    due(time) {
      const out: string[] = [];
      let n = 0;
      while (n < times.length && times[n] <= time) {
        for (const key of byTime.get(times[n])!) out.push(key);
        byTime.delete(times[n]);
        n++;
      }
      if (n > 0) times.splice(0, n);
      size -= out.length;
      return out;
    },
    get size() {
      return size;
    },
  };
}

function lowerBound(sorted: number[], x: number): number {
  let lo = 0;
  let hi = sorted.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (sorted[mid] < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

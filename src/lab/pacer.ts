/**
 * The open model: arrivals at a constant rate that does not slow down when the system does.
 * Request i is due at start + i·1000/rate; the pacer never waits for earlier answers, and
 * when it falls behind (a busy event loop, a GC pause) it sends every overdue request at
 * once with its original due time, so latency measured from the due time still counts the
 * delay (coordinated-omission correction, as wrk2 does).
 */
import { setTimeout as sleep } from 'node:timers/promises';

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<unknown>;
}

export const realClock: Clock = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

export interface PaceOptions {
  /** Arrivals per second. */
  rate: number;
  seconds: number;
  /** Sends one request due at `due`; its promise settles when the request is answered. */
  send(due: number): Promise<unknown> | void;
  /** Called instead of `send` when `maxInFlight` requests await their answer. */
  overload(due: number): void;
  /** Default 20,000. */
  maxInFlight?: number;
  clock?: Clock;
  signal?: AbortSignal;
}

export interface PaceResult {
  start: number;
  /** Requests handed to send or overload. */
  offered: number;
  overloaded: number;
  /** The most a request went out after its due time, in ms: how far the generator fell behind. */
  maxLateMs: number;
}

/** The due time of request i: pure, so the schedule never drifts however late the sends run. */
export const dueTime = (start: number, rate: number, i: number): number => start + (i * 1000) / rate;

export const arrivals = (rate: number, seconds: number): number => Math.round(rate * seconds);

// Overdue requests go out in slices, so answers already in can be processed in between.
const SLICE = 256;

export async function pace(o: PaceOptions): Promise<PaceResult> {
  const clock = o.clock ?? realClock;
  const max = o.maxInFlight ?? 20_000;
  const total = arrivals(o.rate, o.seconds);
  const start = clock.now();
  const res: PaceResult = { start, offered: 0, overloaded: 0, maxLateMs: 0 };
  let inFlight = 0;
  const settled = () => { inFlight--; };
  let i = 0;
  while (i < total && !o.signal?.aborted) {
    const due = dueTime(start, o.rate, i);
    const wait = due - clock.now();
    if (wait > 0) {
      await clock.sleep(wait);
      continue;
    }
    for (let n = 0; n < SLICE && i < total; n++) {
      const d = dueTime(start, o.rate, i);
      const now = clock.now();
      if (d > now) break;
      i++;
      res.offered++;
      res.maxLateMs = Math.max(res.maxLateMs, now - d);
      if (inFlight >= max) {
        res.overloaded++;
        o.overload(d);
        continue;
      }
      const p = o.send(d);
      if (p) {
        inFlight++;
        p.then(settled, settled);
      }
    }
    if (i < total && dueTime(start, o.rate, i) <= clock.now()) await clock.sleep(0);
  }
  return res;
}

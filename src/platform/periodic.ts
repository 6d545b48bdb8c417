/**
 * A background job run every interval: the saga deadline sweeper, rest recovery, the
 * retention purges. One pass at a time: the next is scheduled an interval after the last
 * ended (a slow pass never piles up), a pass asked for while one runs runs right after it (so
 * its caller sees what happened since it asked), a failed pass is logged and the next one
 * tries again, and stop waits for the pass in flight.
 */
export interface Periodic<T> {
  /** Runs a pass now (after the one in flight, if any); resolves with its result. */
  pass(): Promise<T>;
  /** No pass starts after this; resolves once the one in flight has ended. */
  stop(): Promise<void>;
}

export interface PeriodicOptions<T> {
  /** For the log line of a failed pass. */
  name: string;
  intervalMs: number;
  log: { warn(obj: object, msg?: string): void };
  /** One pass; `stopped()` turns true when stop is called, for a long pass to end early. */
  run(stopped: () => boolean): Promise<T>;
  /** What a failed timer pass counts as. */
  failed: T;
}

export function startPeriodic<T>(o: PeriodicOptions<T>): Periodic<T> {
  let stopped = false;
  let timer: NodeJS.Timeout | undefined;
  let current: Promise<unknown> = Promise.resolve();
  const isStopped = () => stopped;

  function pass(): Promise<T> {
    const next = current.catch(() => undefined).then(() => o.run(isStopped));
    current = next;
    return next;
  }

  function schedule(): void {
    if (stopped) return;
    timer = setTimeout(() => {
      pass()
        .catch((err) => {
          if (!stopped) o.log.warn({ err }, `${o.name} failed; the next pass tries again`);
          return o.failed;
        })
        .finally(schedule);
    }, o.intervalMs);
    timer.unref();
  }
  schedule();

  return {
    pass,
    async stop() {
      stopped = true;
      clearTimeout(timer);
      await current.catch(() => undefined);
    },
  };
}

/**
 * Single-flight coalescing: the first call runs at once, or after `lingerMs` (Kafka's
 * linger.ms: a little latency for fewer requests when calls trickle in); calls made while a
 * run is in flight or lingering are gathered and go out together in the next run. Kafka's idempotent producer allows one request in flight per connection, so
 * merging concurrent publishes turns N round trips into one. (Offset commits have their own
 * batching: lazy-commits.ts.) `run` may settle callers one by one: when it returns an array,
 * a defined entry rejects the caller of the item at that index, the others resolve.
 */
export function coalesce<T>(run: (items: T[]) => Promise<void | unknown[]>, maxItems = Infinity, lingerMs = 0): (item: T) => Promise<void> {
  let pending: { item: T; resolve: () => void; reject: (err: unknown) => void }[] = [];
  let running = false;

  async function loop(): Promise<void> {
    running = true;
    if (lingerMs > 0) await new Promise((resolve) => setTimeout(resolve, lingerMs));
    while (pending.length > 0) {
      const taken = pending.length <= maxItems ? pending : pending.slice(0, maxItems);
      pending = pending.length <= maxItems ? [] : pending.slice(maxItems);
      try {
        const verdicts = await run(taken.map((p) => p.item));
        for (let i = 0; i < taken.length; i++) {
          const err = verdicts?.[i];
          if (err === undefined) taken[i].resolve();
          else taken[i].reject(err);
        }
      } catch (err) {
        for (const p of taken) p.reject(err);
      }
    }
    running = false;
  }

  return (item: T) =>
    new Promise<void>((resolve, reject) => {
      pending.push({ item, resolve, reject });
      if (!running) void loop();
    });
}

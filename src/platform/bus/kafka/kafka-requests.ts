/**
 * Counts the Kafka requests this process sends, per API (Produce, Fetch, OffsetCommit, …),
 * from the client's diagnostics channel: the broker's cost follows requests, not records,
 * so benches and tests measure them.
 */
import { connectionsApiChannel, protocolAPIsById } from '@platformatic/kafka';

export interface RequestCounter {
  /** Requests per API name since start (or the last reset). */
  counts(): Record<string, number>;
  reset(): void;
  stop(): void;
}

export function countKafkaRequests(): RequestCounter {
  let counts: Record<string, number> = {};
  const start = (ctx: unknown) => {
    const apiKey = (ctx as { apiKey?: number }).apiKey;
    const name = apiKey === undefined ? 'unknown' : (protocolAPIsById[apiKey] ?? `api-${apiKey}`);
    counts[name] = (counts[name] ?? 0) + 1;
  };
  connectionsApiChannel.start.subscribe(start);
  return {
    counts: () => ({ ...counts }),
    reset: () => {
      counts = {};
    },
    stop: () => connectionsApiChannel.start.unsubscribe(start),
  };
}

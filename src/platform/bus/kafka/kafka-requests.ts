/**
 * Counts every request this process sends to Kafka, by API (Produce, Fetch, OffsetCommit,
 * Heartbeat, Metadata, …), for the lab's per-order cost. @platformatic/kafka publishes the
 * `start` of each request on a node:diagnostics_channel tracing channel, with the request's
 * numeric API key; every client of the process (producer, consumers, admin) goes through it.
 */
import { connectionsApiChannel, protocolAPIsById } from '@platformatic/kafka';
import { Counter, type Registry } from 'prom-client';

export const KAFKA_REQUESTS = 'orderflow_kafka_requests_total';

/** "Produce" for 0, "Fetch" for 1, …; the number itself for a key this client version does not know. */
export function apiName(apiKey: unknown): string {
  return typeof apiKey === 'number' ? (protocolAPIsById[apiKey] ?? String(apiKey)) : 'unknown';
}

let counter: Counter<'api'> | undefined;

/**
 * Adds `orderflow_kafka_requests_total{api}` to `registry`. The channel is process-wide, so
 * the counter is too: subscribed once, on first use, and shared by every registry that
 * shows it (in a process hosting several services, each shows the process's total).
 */
export function countKafkaRequests(registry: Registry): void {
  counter ??= subscribed();
  if (!registry.getSingleMetric(KAFKA_REQUESTS)) registry.registerMetric(counter);
}

function subscribed(): Counter<'api'> {
  const requests = new Counter({
    name: KAFKA_REQUESTS,
    help: 'Requests sent to Kafka brokers by this process, by API.',
    labelNames: ['api'] as const,
    registers: [],
  });
  const byKey = new Map<unknown, ReturnType<typeof requests.labels>>();
  connectionsApiChannel.start.subscribe((message: unknown) => {
    const key = (message as { apiKey?: unknown }).apiKey;
    let child = byKey.get(key);
    if (!child) byKey.set(key, (child = requests.labels(apiName(key))));
    child.inc();
  });
  return requests;
}

export interface RequestWatch {
  /** Requests per API name since the watch started (or the last reset). */
  counts(): Record<string, number>;
  reset(): void;
  stop(): void;
}

/** Counts this process's Kafka requests per API from now on, for benches and tests that read them directly. */
export function watchKafkaRequests(): RequestWatch {
  let counts: Record<string, number> = {};
  const start = (message: unknown) => {
    const name = apiName((message as { apiKey?: unknown }).apiKey);
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

/**
 * What a service tells about its load on GET /metrics, so the lab can compute requests/s,
 * average and p99 per service from two scrapes: a request-duration histogram per route and,
 * for consumers, a batch-duration histogram and a handled-messages counter per group.
 */
import type { FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** From 0.5 ms (a cached read) to 10 s (far past any timeout), fine enough for a p99. */
export const durationBuckets = [0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1, 2, 5, 10];

/** A registry with Node's default metrics (CPU, memory, event loop); every series is labelled with the service. */
export function createMetricsRegistry(service: string): Registry {
  const registry = new Registry();
  registry.setDefaultLabels({ service });
  collectDefaultMetrics({ register: registry });
  return registry;
}

// Not worth measuring: probes, scrapes and the lab's own fault switch.
const unmeasured = new Set(['/health', '/health/live', '/health/ready', '/health/consumers', '/metrics', '/_faults']);

/**
 * Observes every answered request in `orderflow_http_request_duration_seconds` with labels
 * method, route (the pattern, e.g. /orders/:id; "unmatched" for a 404 without a route) and
 * status_code.
 */
export function installRequestMetrics(app: FastifyInstance, registry: Registry): Histogram<'method' | 'route' | 'status_code'> {
  const histogram = new Histogram({
    name: 'orderflow_http_request_duration_seconds',
    help: 'Time from receiving an HTTP request to answering it, by route pattern.',
    labelNames: ['method', 'route', 'status_code'] as const,
    buckets: durationBuckets,
    registers: [registry],
  });
  app.addHook('onResponse', (req, reply, done) => {
    const route = req.routeOptions.url;
    if (route === undefined || !unmeasured.has(route)) {
      histogram.observe({ method: req.method, route: route ?? 'unmatched', status_code: reply.statusCode }, reply.elapsedTime / 1000);
    }
    done();
  });
  return histogram;
}

export interface MessageMetrics {
  batchDuration: Histogram<'group'>;
  handled: Counter<'group'>;
}

/**
 * `orderflow_message_batch_duration_seconds` (each delivered batch's handling, labels group)
 * and `orderflow_messages_handled_total` (messages of batches handled successfully, labels group).
 */
export function createMessageMetrics(registry: Registry): MessageMetrics {
  return {
    batchDuration: new Histogram({
      name: 'orderflow_message_batch_duration_seconds',
      help: 'Time to handle one batch delivered by the bus, by consumer group.',
      labelNames: ['group'] as const,
      buckets: durationBuckets,
      registers: [registry],
    }),
    handled: new Counter({
      name: 'orderflow_messages_handled_total',
      help: 'Messages in batches handled successfully, by consumer group.',
      labelNames: ['group'] as const,
      registers: [registry],
    }),
  };
}

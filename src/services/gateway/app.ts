/**
 * The gateway's HTTP app. It is built like every service's (coded errors, /metrics, its own
 * /health/live and /health/ready), but answers /health from the services' readiness, and keeps request bodies as bytes:
 * the services validate them, the gateway only carries them.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { errorServerOptions, installErrorHandling } from '#platform/http/errors.ts';
import { installHealthRoutes } from '#platform/http/health.ts';
import { serverTimeoutOptions, type HttpTimeouts } from '#platform/http/server-options.ts';
import { breakersOf } from '#platform/resilience/balanced-upstream.ts';
import { registerCircuitStates } from '#platform/telemetry/circuit-metrics.ts';
import { createMetricsRegistry, installRequestMetrics } from '#platform/http/metrics.ts';
import type { Logger } from '#platform/log.ts';
import type { Tracing } from '#platform/telemetry/tracing.ts';
import { registerRoutes, type Upstreams } from './http.ts';

export interface GatewayAppOptions {
  log: Logger;
  upstreams: Upstreams;
  healthTimeoutMs?: number;
  /** A server span per request, and the trace context carried on every call, when tracing is on. */
  tracing?: Tracing;
  /** The server's waits (platform/http/server-options.ts); the platform's defaults when absent. */
  timeouts?: Readonly<HttpTimeouts>;
}

export function buildGatewayApp(opts: GatewayAppOptions): FastifyInstance {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    ...serverTimeoutOptions(opts.timeouts),
    ...errorServerOptions,
  });
  opts.tracing?.instrumentHttp(app);
  installErrorHandling(app);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const registry = createMetricsRegistry('gateway');
  installRequestMetrics(app, registry);
  registerCircuitStates(registry, Object.values(opts.upstreams).flatMap(breakersOf));
  // The gateway's own readiness has no dependency: a service down turns its routes into
  // 503s, not the whole API. /health is the aggregate of the services' readiness (http.ts).
  installHealthRoutes(app, { service: 'gateway', readyPaths: ['/health/ready'] });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });

  registerRoutes(app, { upstreams: opts.upstreams, healthTimeoutMs: opts.healthTimeoutMs, passTraceparent: !opts.tracing?.enabled });
  return app;
}

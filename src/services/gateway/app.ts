/**
 * The gateway's HTTP app. It is built like every service's (coded errors, its own
 * /health/live and /health/ready), but answers /health from the services' readiness, and keeps request bodies as bytes:
 * the services validate them, the gateway only carries them. Its edge (edge.ts) limits and
 * guards the public port; its metrics are served on an internal port (metrics-server.ts),
 * from the registry on `app.metrics`.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { HttpApp } from '#platform/http/app.ts';
import { errorServerOptions, installErrorHandling } from '#platform/http/errors.ts';
import { installHealthRoutes } from '#platform/http/health.ts';
import { serverTimeoutOptions, type HttpTimeouts } from '#platform/http/server-options.ts';
import { breakersOf } from '#platform/resilience/balanced-upstream.ts';
import { registerCircuitStates } from '#platform/telemetry/circuit-metrics.ts';
import { createMetricsRegistry, installRequestMetrics } from '#platform/http/metrics.ts';
import type { Logger } from '#platform/log.ts';
import type { Tracing } from '#platform/telemetry/tracing.ts';
import type { EdgeConfig } from './config.ts';
import { defaultEdgeConfig, edgeServerOptions, installEdge } from './edge.ts';
import { registerRoutes, type Upstreams } from './http.ts';

export interface GatewayAppOptions {
  log: Logger;
  upstreams: Upstreams;
  healthTimeoutMs?: number;
  /** A server span per request, and the trace context carried on every call, when tracing is on. */
  tracing?: Tracing;
  /** The server's waits (platform/http/server-options.ts); the platform's defaults when absent. */
  timeouts?: Readonly<HttpTimeouts>;
  /** Rate limits, headers, CORS, bounds (edge.ts); config.ts's defaults when absent. */
  edge?: Readonly<EdgeConfig>;
}

export async function buildGatewayApp(opts: GatewayAppOptions): Promise<HttpApp> {
  const edge = opts.edge ?? defaultEdgeConfig;
  const server = serverTimeoutOptions(opts.timeouts);
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: 256 * 1024,
    ...server,
    ...edgeServerOptions(edge, server.http),
    ...errorServerOptions,
  });
  opts.tracing?.instrumentHttp(app);
  await installEdge(app, edge);
  installErrorHandling(app);
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'buffer' }, (_req, body, done) => done(null, body));

  const registry = createMetricsRegistry('gateway');
  installRequestMetrics(app, registry);
  registerCircuitStates(registry, Object.values(opts.upstreams).flatMap(breakersOf));
  // The gateway's own readiness has no dependency: a service down turns its routes into
  // 503s, not the whole API. /health is the aggregate of the services' readiness (http.ts).
  installHealthRoutes(app, { service: 'gateway', readyPaths: ['/health/ready'] });

  registerRoutes(app, { upstreams: opts.upstreams, healthTimeoutMs: opts.healthTimeoutMs, passTraceparent: !opts.tracing?.enabled });
  return app.decorate('metrics', registry) as HttpApp;
}

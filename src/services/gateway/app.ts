/**
 * The gateway's HTTP app. It is built like every service's (the platform's Fastify options,
 * coded errors, the JSON body parser, its own /health/live and /health/ready), but
 * answers /health from the services' readiness, checks who calls (auth.ts), and describes
 * the public API: OpenAPI 3.1 from the route schemas at /docs/openapi.json, Swagger UI at /docs.
 * Its edge (edge.ts) limits and guards the public port; its metrics are served on an
 * internal port (metrics-server.ts), from the registry on `app.metrics`. The web console
 * is served at `/` (console-files.ts).
 */
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { TokenVerifier } from '#platform/http/access-tokens.ts';
import { drainOnShutdown, fastifyOptions, type HttpApp } from '#platform/http/app.ts';
import { installErrorHandling } from '#platform/http/errors.ts';
import { installHealthRoutes } from '#platform/http/health.ts';
import { installJsonBodyParser } from '#platform/http/json-body.ts';
import { serverTimeoutOptions, type HttpTimeouts } from '#platform/http/server-options.ts';
import { breakersOf } from '#platform/resilience/balanced-upstream.ts';
import { registerCircuitStates } from '#platform/telemetry/circuit-metrics.ts';
import { createMetricsRegistry, installRequestMetrics } from '#platform/http/metrics.ts';
import type { Logger } from '#platform/log.ts';
import type { Upstream } from '#platform/resilience/upstream.ts';
import type { Tracing } from '#platform/telemetry/tracing.ts';
import { asyncApiDocument } from '#contracts/asyncapi.ts';
import { createAuth } from './auth.ts';
import { installConsole } from './console-files.ts';
import type { EdgeConfig } from './config.ts';
import { defaultEdgeConfig, edgeServerOptions, installEdge } from './edge.ts';
import type { EventTail } from './event-tail.ts';
import { openApiInfo } from './openapi.ts';
import { registerRoutes, type Upstreams } from './http.ts';

export interface GatewayAppOptions {
  log: Logger;
  upstreams: Upstreams;
  /** Verifies the access tokens the users service signs. */
  verifier: TokenVerifier;
  healthTimeoutMs?: number;
  /** A server span per request, and the trace context carried on every call, when tracing is on. */
  tracing?: Tracing;
  /** The server's waits (platform/http/server-options.ts); the platform's defaults when absent. */
  timeouts?: Readonly<HttpTimeouts>;
  /** Rate limits, headers, CORS, bounds (edge.ts); config.ts's defaults when absent. */
  edge?: Readonly<EdgeConfig>;
  /** The lab server of the `orderflow up` running this gateway (lab-routes.ts), when there is one. */
  lab?: Upstream;
  /** The built console (console-files.ts); the repository's dist/console when absent. */
  consoleDir?: string;
  /** The Zipkin UI the console links traces to (config.ts's zipkinUiUrl); none when absent. */
  zipkinUrl?: string | null;
  /** The live tail of every topic (event-tail.ts), closed with the app; its stream answers 503 without it. */
  eventTail?: EventTail;
}

export async function buildGatewayApp(opts: GatewayAppOptions): Promise<HttpApp> {
  const edge = opts.edge ?? defaultEdgeConfig;
  const app: FastifyInstance = Fastify({
    ...fastifyOptions({ log: opts.log, timeouts: opts.timeouts }),
    ...edgeServerOptions(edge, serverTimeoutOptions(opts.timeouts).http),
  });
  opts.tracing?.instrumentHttp(app);
  await installEdge(app, edge);
  installErrorHandling(app);
  installJsonBodyParser(app);

  const registry = createMetricsRegistry('gateway');
  installRequestMetrics(app, registry);
  registerCircuitStates(registry, Object.values(opts.upstreams).flatMap(breakersOf));
  // Collects the routes registered after it (plugins load in order): the API's routes below.
  void app.register(swagger, { openapi: openApiInfo, hideUntagged: true });
  void app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'list', persistAuthorization: true } });
  // The gateway's own readiness has no dependency: a service down turns its routes into
  // 503s, not the whole API. /health is the aggregate of the services' readiness (http.ts).
  const drainer = drainOnShutdown(app, opts.timeouts);
  installHealthRoutes(app, { service: 'gateway', readyPaths: ['/health/ready'], draining: drainer.draining });

  // Its streams end before the server closes (a close waits for every open connection).
  const { eventTail } = opts;
  if (eventTail) app.addHook('preClose', () => eventTail.close());
  void app.register(async (api) => {
    registerRoutes(api, { upstreams: opts.upstreams, auth: createAuth(opts.verifier), healthTimeoutMs: opts.healthTimeoutMs, passTraceparent: !opts.tracing?.enabled, lab: opts.lab, zipkinUrl: opts.zipkinUrl, eventTail });
    api.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
    const asyncApi = JSON.stringify(asyncApiDocument());
    api.get('/docs/asyncapi.json', { schema: { hide: true } }, async (_req, reply) => reply.type('application/json').send(asyncApi));
  });
  void app.register(async (site) => installConsole(site, opts.consoleDir));
  return app.decorate('metrics', registry).decorate('drain', drainer.drain) as HttpApp;
}

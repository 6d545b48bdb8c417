/**
 * The fastify app factory every service uses: coded error answers, GET /health/live and
 * GET /health/ready (= /health) with the service's own checks, GET /metrics (Prometheus,
 * with a request-duration histogram per route), bounded waits for slow clients
 * (server-options.ts) and a JSON parser that refuses what would fail later (json-body.ts). Building the app is apart from listening, so tests inject requests or listen on
 * port 0.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify';
import type { Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import type { Tracing } from '../telemetry/tracing.ts';
import { errorServerOptions, installErrorHandling } from './errors.ts';
import { installJsonBodyParser } from './json-body.ts';
import { installHealthRoutes, type HealthCheck } from './health.ts';
import { installDrain, type Drainer } from './drain.ts';
import { createMetricsRegistry, installRequestMetrics } from './metrics.ts';
import { defaultHttpTimeouts, serverTimeoutOptions, type HttpTimeouts } from './server-options.ts';

export type { HealthCheck };

export interface HttpAppOptions {
  name: string;
  log: Logger;
  /** Named readiness checks; /health/ready (and /health) answer 503 when one throws (health.ts). */
  checks?: Record<string, HealthCheck>;
  /** Served on /health/consumers (health.ts): the consumers' group membership, apart from readiness. */
  consumerChecks?: Record<string, HealthCheck>;
  /** Where /metrics reads from; a new one with Node's default metrics when absent. */
  metrics?: Registry;
  bodyLimit?: number;
  /** A server span per request when tracing is on. */
  tracing?: Tracing;
  /** The server's waits (server-options.ts); config.ts's defaults when absent. */
  timeouts?: Readonly<HttpTimeouts>;
}

/**
 * The fastify instance, with the registry its /metrics serves (for a service's own metrics),
 * and `drain` (drain.ts), to call before `close` on shutdown.
 */
export type HttpApp = FastifyInstance & { readonly metrics: Registry; drain(): Promise<void> };

/** Installs the drain on `app` (drain.ts), with its grace from `timeouts`. */
export function drainOnShutdown(app: FastifyInstance, timeouts: Readonly<HttpTimeouts> = defaultHttpTimeouts): Drainer {
  return installDrain(app, { graceMs: timeouts.drainGraceMs });
}

/**
 * The Fastify options every app of orderflow is built with (services and gateway): no
 * per-request log line, bounded waits, router errors in the envelope, request ids, strict
 * validation.
 */
// Ajv 8 calls `unicode` deprecated and warns at every compile, but still honours it
// (limitLength counts .length when it is false): the warning alone is dropped.
const ajvLogger = {
  log: (...args: unknown[]) => console.log(...args),
  warn: (...args: unknown[]) => {
    if (!String(args[0]).includes('option unicode')) console.warn(...args);
  },
  error: (...args: unknown[]) => console.error(...args),
};

export function fastifyOptions(opts: { log: Logger; bodyLimit?: number; timeouts?: Readonly<HttpTimeouts> }): FastifyServerOptions & { loggerInstance: FastifyBaseLogger } {
  return {
    loggerInstance: opts.log as FastifyBaseLogger,
    // One log line per request would cost more than the request at 1,000 orders/s.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 256 * 1024,
    ...serverTimeoutOptions(opts.timeouts),
    ...errorServerOptions,
    // Validation must not silently change a client's input: strict types, no coercion of bodies.
    // Lengths in UTF-16 code units (unicode: false), as JavaScript's String.length and the
    // contracts' TypeBox checks count them: with ajv's default (code points) a string of 101
    // to 200 emoji passed the route and failed the event it became, naming an internal message.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false, unicode: false, logger: ajvLogger } },
  };
}

export function buildHttpApp(opts: HttpAppOptions): HttpApp {
  const fastify: FastifyInstance = Fastify(fastifyOptions(opts));
  opts.tracing?.instrumentHttp(fastify);
  installErrorHandling(fastify);
  installJsonBodyParser(fastify);
  const registry = opts.metrics ?? createMetricsRegistry(opts.name);
  const drainer = drainOnShutdown(fastify, opts.timeouts);
  const app = fastify.decorate('metrics', registry).decorate('drain', drainer.drain) as HttpApp;
  installRequestMetrics(app, registry);

  installHealthRoutes(app, { service: opts.name, checks: opts.checks, consumerChecks: opts.consumerChecks, draining: drainer.draining });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}

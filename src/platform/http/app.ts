/**
 * The fastify app factory every service uses: coded error answers, GET /health with the
 * service's own checks, GET /metrics (Prometheus). Building the app is apart from
 * listening, so tests inject requests or listen on port 0.
 */
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import { collectDefaultMetrics, Registry } from 'prom-client';
import type { Logger } from '../log.ts';
import { installErrorHandling } from './errors.ts';

export type HealthCheck = () => Promise<void>;

export interface HttpAppOptions {
  name: string;
  log: Logger;
  /** Named checks; /health answers 503 when one throws. */
  checks?: Record<string, HealthCheck>;
  metrics?: Registry;
  bodyLimit?: number;
}

export type HttpApp = FastifyInstance;

export function buildHttpApp(opts: HttpAppOptions): HttpApp {
  const app: FastifyInstance = Fastify({
    loggerInstance: opts.log as FastifyBaseLogger,
    // One log line per request would cost more than the request at 1,000 orders/s.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: opts.bodyLimit ?? 256 * 1024,
    keepAliveTimeout: 72_000,
    // Validation must not silently change a client's input: strict types, no coercion of bodies.
    ajv: { customOptions: { removeAdditional: false, coerceTypes: false, allErrors: false } },
  });
  installErrorHandling(app);

  const registry = opts.metrics ?? new Registry();
  if (!opts.metrics) collectDefaultMetrics({ register: registry, labels: { service: opts.name } });

  app.get('/health', async (_req, reply) => {
    const checks: Record<string, string> = {};
    let ok = true;
    for (const [name, check] of Object.entries(opts.checks ?? {})) {
      try {
        await check();
        checks[name] = 'up';
      } catch {
        checks[name] = 'down';
        ok = false;
      }
    }
    return reply.code(ok ? 200 : 503).send({ status: ok ? 'ok' : 'degraded', service: opts.name, checks });
  });
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', registry.contentType);
    return registry.metrics();
  });
  return app;
}

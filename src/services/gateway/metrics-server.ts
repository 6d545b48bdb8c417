/**
 * The gateway's internal listener: GET /metrics for Prometheus, on a port of its own
 * (GATEWAY_METRICS_PORT, on the gateway's HOST), so that the public port, the one the
 * internet reaches, never serves it (it answers 404 there). Only the gateway needs this: the
 * services behind it are internal already and keep /metrics on their own port.
 * No rate limit and no security headers here: it is for a scraper inside the deployment.
 */
import Fastify from 'fastify';
import type { Registry } from 'prom-client';
import { fastifyOptions } from '#platform/http/app.ts';
import { installErrorHandling } from '#platform/http/errors.ts';
import type { Logger } from '#platform/log.ts';

export interface MetricsServer {
  /** http://host:port, the port the listener got (a free one for port 0). */
  url: string;
  port: number;
  close(): Promise<void>;
}

/** `fd`: an inherited listening socket to serve on instead of `port` (config.ts, listenFds). */
export async function startMetricsServer(opts: { registry: Registry; host: string; port: number; fd?: number; log: Logger }): Promise<MetricsServer> {
  const app = Fastify(fastifyOptions({ log: opts.log }));
  installErrorHandling(app);
  app.get('/metrics', async (_req, reply) => {
    reply.header('content-type', opts.registry.contentType);
    return opts.registry.metrics();
  });
  await app.listen(opts.fd === undefined ? { port: opts.port, host: opts.host } : ({ fd: opts.fd, host: opts.host } as { host: string }));
  const address = app.server.address();
  const port = typeof address === 'object' && address ? address.port : opts.port;
  const host = opts.host.includes(':') ? `[${opts.host}]` : opts.host;
  return { url: `http://${host}:${port}`, port, close: () => app.close() };
}

/**
 * The gateway process: the public API on :8080, in front of the four services.
 * No database, no bus.
 */
import { createLogger } from '#platform/log.ts';
import { exitWithParent } from '#platform/service/parent-watch.ts';
import { startTracing } from '#platform/telemetry/tracing.ts';
import { buildGatewayApp } from './app.ts';
import { loadConfig } from './config.ts';
import { closeUpstreams, createUpstreams, fetchJwks } from './upstreams.ts';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';

exitWithParent();
const config = loadConfig();
const log = createLogger('gateway', config.logLevel);
const tracing = await startTracing(config.tracing, 'gateway', log);
const upstreams = createUpstreams(config);
const verifier = createTokenVerifier({ jwks: () => fetchJwks(upstreams.users), ...config.tokens });
const app = buildGatewayApp({ log, upstreams, verifier, tracing, timeouts: config.http });

let stopping = false;
const stop = (signal: string) => {
  if (stopping) process.exit(1);
  stopping = true;
  log.info({ signal }, 'shutting down');
  setTimeout(() => process.exit(1), 20_000).unref();
  app.close()
    .then(() => closeUpstreams(upstreams))
    .then(() => tracing.shutdown())
    .then(() => process.exit(0), (err) => {
      log.error({ err }, 'shutdown failed');
      process.exit(1);
    });
};
process.once('SIGTERM', () => stop('SIGTERM'));
process.once('SIGINT', () => stop('SIGINT'));

await app.listen({ port: config.port, host: config.host });
const address = app.server.address();
log.info({ port: typeof address === 'object' && address ? address.port : config.port, upstreams: config.upstreams }, 'gateway listening');

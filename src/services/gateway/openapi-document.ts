/**
 * The OpenAPI document as the gateway serves it, drawn without a network: the app built
 * with upstreams nobody calls, made ready (so @fastify/swagger has seen every route), asked
 * for its document. `npm run api-docs` commits it (docs/openapi.json); a test says when the
 * committed one is stale.
 */
import type { FastifyInstance } from 'fastify';
import { silentLogger } from '#platform/log.ts';
import { createTokenVerifier } from '#platform/http/access-tokens.ts';
import { createUpstream } from '#platform/resilience/upstream.ts';
import { buildGatewayApp } from './app.ts';
import { upstreamNames } from './config.ts';
import type { Upstreams } from './http.ts';

export const OPENAPI_PATH = 'docs/openapi.json';

/**
 * The gateway with no service behind it (every upstream a closed port): enough to serve its
 * documents and pages. `close()` closes the app and its upstreams.
 */
export async function buildDetachedGateway(opts: { consoleDir?: string } = {}): Promise<{ app: FastifyInstance; close(): Promise<void> }> {
  const nowhere = 'http://127.0.0.1:9';
  const upstreams = Object.fromEntries(upstreamNames.map((name) => [name, createUpstream({ name, url: nowhere, timeoutMs: 100 })])) as Upstreams;
  const app = await buildGatewayApp({ log: silentLogger, upstreams, verifier: createTokenVerifier({ jwks: `${nowhere}/jwks`, issuer: 'i', audience: 'a' }), consoleDir: opts.consoleDir });
  return {
    app,
    async close() {
      await app.close();
      await Promise.all(Object.values(upstreams).map((u) => u.close()));
    },
  };
}

export async function openApiDocument(): Promise<Record<string, unknown>> {
  const gateway = await buildDetachedGateway();
  try {
    await gateway.app.ready();
    return gateway.app.swagger() as unknown as Record<string, unknown>;
  } finally {
    await gateway.close();
  }
}

/**
 * The OpenAPI document's frame: what the route schemas (http.ts, api.ts) do not say.
 * `npm run api-docs` writes the whole document to docs/openapi.json (openapi-write.ts).
 */
import type { SwaggerOptions } from '@fastify/swagger';

export const openApiInfo: NonNullable<Extract<SwaggerOptions, { openapi?: unknown }>['openapi']> = {
  openapi: '3.1.0',
  info: {
    title: 'orderflow public API',
    version: '1.0.0',
    description: [
      'The gateway of orderflow: accounts and tokens, the catalog, orders and their saga, and the admin\'s dead letters.',
      'Log in (POST /api/auth/login) and send the access token as `Authorization: Bearer <accessToken>`.',
      'Every error is `{"error":{"code","message"}}`; a 5xx names only a request id the gateway\'s log has.',
      'Events behind this API are described in AsyncAPI 3.0 at /docs/asyncapi.json.',
    ].join('\n\n'),
  },
  servers: [{ url: '/' }],
  components: {
    securitySchemes: {
      bearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'An access token from POST /api/auth/login (ES256, 15 minutes).' },
    },
  },
  tags: [
    { name: 'auth', description: 'Accounts, login, tokens' },
    { name: 'products', description: 'The catalog' },
    { name: 'orders', description: 'A customer\'s orders' },
    { name: 'admin', description: 'Operations, for admins' },
    { name: 'health', description: 'Readiness' },
  ],
};

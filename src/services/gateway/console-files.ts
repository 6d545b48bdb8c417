/**
 * The web console (src/console, built by Vite into dist/console) served at `/`.
 * - `/` is index.html, never cached: it names the current build's assets.
 * - `/assets/*` are those assets (@fastify/static), cached for a year as immutable: their
 *   names carry a hash of their content, so a new build is new names.
 * Only these two are taken: every other path, an unknown /api one included, is still the
 * envelope's 404. index.html is read at each request (it is asked for once per page load),
 * so a console built while the gateway runs is served without a restart; without a build,
 * `/` says how to make one (a 503 in plain text, not a failure). The console calls the
 * public API on this origin, so the edge's Content-Security-Policy (edge.ts: scripts, styles
 * and calls from 'self' only) covers it unchanged.
 */
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import fastifyStatic from '@fastify/static';
import type { FastifyInstance } from 'fastify';
import { errorBody } from '#platform/http/errors.ts';

/** Where `npm run console:build` writes, from this file's place in the repository. */
export const defaultConsoleDir = join(import.meta.dirname, '..', '..', '..', 'dist', 'console');

const notBuilt = [
  'The orderflow console is not built.',
  '',
  'Build it with `npm run console:build` (npm install and npm start do it for you),',
  'then reload this page. The API is served as usual under /api, its documentation at /docs.',
  '',
].join('\n');

export async function installConsole(app: FastifyInstance, dir: string = defaultConsoleDir): Promise<void> {
  const index = join(dir, 'index.html');
  app.get('/', { schema: { hide: true } }, async (_req, reply) => {
    let html: Buffer;
    try {
      html = await readFile(index);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      return reply.code(503).type('text/plain; charset=utf-8').header('cache-control', 'no-store').send(notBuilt);
    }
    return reply.type('text/html; charset=utf-8').header('cache-control', 'no-cache').send(html);
  });
  await app.register(async (assets) => {
    // A file that is not there is a 404 of its own: the app's answer would see the GET route
    // of /assets/* and call it a 405.
    assets.setNotFoundHandler((req, reply) => {
      const path = req.url.split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') {
        return reply.code(405).header('allow', 'GET, HEAD').send(errorBody('PLT_ERR_METHOD_NOT_ALLOWED', `${req.method} is not allowed on ${path}; allowed: GET, HEAD`));
      }
      return reply.code(404).send(errorBody('PLT_ERR_ROUTE_NOT_FOUND', `no file ${path}`));
    });
    // Registered even before a build exists (its root missing then, without a warning).
    await assets.register(fastifyStatic, {
      root: join(dir, 'assets'),
      prefix: '/',
      decorateReply: false,
      index: false,
      immutable: true,
      maxAge: '365d',
      suppressWarning: true,
    });
  }, { prefix: '/assets' });
}

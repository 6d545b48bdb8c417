/**
 * The gateway's edge: what the public port does to every request before a route runs.
 * - Rate limits (@fastify/rate-limit): a budget a minute per caller, the caller being the
 *   bearer token's hash when there is an Authorization header and the client address
 *   otherwise; a stricter budget per address shared by POST /api/auth/login and
 *   /api/auth/register, and on tokens the gateway refused (a 401); the /health probes are
 *   never limited. Each limit runs first among a route's hooks, before the token check. A
 *   refusal is a 429 in the envelope (PLT_ERR_RATE_LIMITED) with Retry-After and the
 *   RateLimit-* headers of the IETF draft, which every answer under a limit carries too.
 * - Security headers (helmet) for a JSON API, see helmetOptions; computed once (securityHeaders).
 * - CORS (@fastify/cors), only for the origins configured: others get no CORS header.
 * - The server's own bounds: header size (a 431 in the envelope, server-options.ts) and
 *   which proxies to believe about the client's address.
 * The limits are per gateway process, in memory: N gateways behind a balancer allow N times
 * the budget, which is what a per-process limit can promise (a shared store is the step
 * after, @fastify/rate-limit takes Redis).
 */
import { createHash } from 'node:crypto';
import type { ServerOptions } from 'node:http';
import cors, { type FastifyCorsOptions } from '@fastify/cors';
import type { IncomingMessage, ServerResponse } from 'node:http';
import helmet, { type HelmetOptions } from 'helmet';
import rateLimit, { normalizeIP, type RateLimitOptions } from '@fastify/rate-limit';
import type { FastifyInstance, FastifyReply, FastifyRequest, FastifyServerOptions, RouteOptions } from 'fastify';
import { RateLimited } from '#platform/errors.ts';
import { loadEdgeConfig, type EdgeConfig } from './config.ts';

/** The defaults of config.ts, for apps built without a config (tests, tools). */
export const defaultEdgeConfig = loadEdgeConfig({});

/** Where credentials are guessed or accounts flooded: limited per address, more strictly. */
export const authRoutes: readonly string[] = ['/api/auth/login', '/api/auth/register'];
const probes = /^\/health(\/|$)/;
const WINDOW_MS = 60_000;
// Buckets kept per store (least recently used dropped first): a flood of fresh keys (forged
// tokens) evicts old buckets rather than growing memory.
const BUCKETS = 100_000;

/** The client's address, IPv6 by its /64 (one host holds a whole /64). */
const addressOf = (req: FastifyRequest): string => normalizeIP(req.ip);

/**
 * Whose budget a request spends: a hash of its Authorization header when it has one (not
 * the token's claims, unverified here: a forged token naming a real user gets a bucket of
 * its own), its address otherwise.
 */
export function callerKey(req: FastifyRequest): string {
  const auth = req.headers.authorization;
  if (typeof auth === 'string' && auth !== '') return `token:${createHash('sha256').update(auth).digest('base64url')}`;
  return `ip:${addressOf(req)}`;
}

/** The Fastify options of the edge, with `http` merged into the server's own (timeouts). */
export function edgeServerOptions(edge: Readonly<EdgeConfig>, http: ServerOptions): Pick<FastifyServerOptions, 'trustProxy'> & { http: ServerOptions } {
  const { trustProxy } = edge;
  return {
    // A hop count trusts that many proxies nearest the gateway (Fastify's own reading of a number).
    trustProxy: typeof trustProxy === 'number' ? (_address: string, hop: number) => hop < trustProxy : trustProxy === false ? false : [...trustProxy],
    // The request line and the headers together; Node answers a 431 beyond (in the envelope:
    // server-options.ts). Node's default (16 KiB), made explicit: a bearer token is about 1 KiB.
    http: { ...http, maxHeaderSize: edge.maxHeaderBytes },
  };
}

/**
 * One Content-Security-Policy for every answer. JSON is never rendered, so for it the
 * policy only matters if a browser were made to render it: nothing loads, nothing frames it.
 * The API documentation (/docs, Swagger UI) is the one page: its scripts, styles, images
 * and calls come from this origin ('self'); styles may be inline (Swagger UI sets some: in
 * Chromium, opening an operation is refused without it; and a style runs no code). Checked
 * by loading /docs in headless Chromium: no violation. No upgrade-insecure-requests: on a plain-HTTP gateway (a laptop)
 * it would send the page's own assets to an https:// that does not exist.
 * HSTS only with GATEWAY_HSTS_MAX_AGE_S > 0: a browser ignores it over plain HTTP, and
 * whether clients reach the gateway through TLS is the deployment's to say.
 */
export function helmetOptions(edge: Readonly<EdgeConfig>): HelmetOptions {
  return {
    contentSecurityPolicy: {
      useDefaults: false,
      directives: {
        defaultSrc: ["'none'"],
        scriptSrc: ["'self'"],
        styleSrc: ["'self'", "'unsafe-inline'"],
        imgSrc: ["'self'", 'data:'],
        fontSrc: ["'self'", 'data:'],
        connectSrc: ["'self'"],
        baseUri: ["'none'"],
        formAction: ["'none'"],
        frameAncestors: ["'none'"],
      },
    },
    strictTransportSecurity: edge.hstsMaxAgeS > 0 ? { maxAge: edge.hstsMaxAgeS, includeSubDomains: true } : false,
    xFrameOptions: { action: 'deny' },
  };
}

/**
 * The headers helmet sets, computed once. @fastify/helmet runs helmet(options) afresh for
 * every request, parsing the policy each time: 15 % of the gateway's CPU on a catalog read
 * (measured with `npm run bench -- read --cpu-prof`). The headers do not depend on the
 * request, so helmet runs here once, against a recording response, and every answer gets
 * the recorded set.
 */
export function securityHeaders(edge: Readonly<EdgeConfig>): Record<string, string> {
  const headers: Record<string, string> = {};
  const recorder = {
    setHeader: (name: string, value: unknown) => void (headers[name.toLowerCase()] = String(value)),
    removeHeader: (name: string) => void delete headers[name.toLowerCase()],
  };
  let failed: unknown;
  helmet(helmetOptions(edge))({} as IncomingMessage, recorder as unknown as ServerResponse, (err?: unknown) => {
    failed = err;
  });
  if (failed) throw failed;
  return headers;
}

/**
 * CORS for exactly these origins. A request from another origin (or none) gets no CORS
 * header at all, and its preflight is answered as any OPTIONS the route lacks (405).
 * No credentials: the API takes bearer tokens, not cookies.
 */
export function corsOptions(origins: readonly string[]): FastifyCorsOptions {
  const allowed = new Set(origins);
  return {
    origin: (origin, cb) => cb(null, origin !== undefined && allowed.has(origin)),
    methods: ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE'],
    allowedHeaders: ['Authorization', 'Content-Type', 'Idempotency-Key', 'If-None-Match'],
    exposedHeaders: ['ETag', 'Location', 'Retry-After', 'RateLimit-Limit', 'RateLimit-Remaining', 'RateLimit-Reset'],
    maxAge: 600,
    // An OPTIONS from an allowed origin without Access-Control-Request-Method is still
    // answered as a preflight, rather than with the plugin's text/plain 400.
    strictPreflight: false,
  };
}

const refusal = (_req: FastifyRequest, ctx: { max: number; after: string }) =>
  RateLimited(`too many requests: at most ${ctx.max} a minute; retry in ${ctx.after}`);

type OnRequest = (req: FastifyRequest, reply: FastifyReply) => Promise<void>;

/** Puts `hook` first among a route's onRequest hooks: a limit runs before the token check it guards. */
function prepend(route: RouteOptions, hook: OnRequest): void {
  const own = route.onRequest;
  route.onRequest = [hook, ...(own === undefined ? [] : Array.isArray(own) ? own : [own])] as RouteOptions['onRequest'];
}

async function installRateLimits(app: FastifyInstance, edge: Readonly<EdgeConfig>): Promise<void> {
  const perCaller = edge.rateLimitPerMinute;
  const perAddress = edge.authRateLimitPerMinute;
  if (perCaller === 0 && perAddress === 0) return;
  // The plugin's limiters are attached here, per route, rather than by the plugin itself: it
  // would add them after a route's own hooks, after the token check (auth.ts) they must spare.
  await app.register(rateLimit, {
    global: false,
    max: perCaller,
    timeWindow: WINDOW_MS,
    keyGenerator: callerKey,
    cache: BUCKETS,
    enableDraftSpec: true,
    errorResponseBuilder: refusal,
  });
  const general = perCaller > 0 ? (app.rateLimit() as OnRequest) : undefined;
  // One budget per address for login and register together.
  const auth = perAddress > 0
    ? (app.rateLimit({ max: perAddress, timeWindow: WINDOW_MS, keyGenerator: (req: FastifyRequest) => `auth:${addressOf(req)}`, cache: BUCKETS } as RateLimitOptions) as OnRequest)
    : undefined;
  // By URL, so that routes added later (the API's, in http.ts) get theirs.
  app.addHook('onRoute', (route) => {
    if (probes.test(route.url)) return;
    const methods = Array.isArray(route.method) ? route.method : [route.method];
    const limiter = auth && authRoutes.includes(route.url) && methods.includes('POST') ? auth : general;
    if (limiter) prepend(route, limiter);
  });
  // A request no route matches spends the caller's budget too: probing for paths is no free lunch.
  if (general) {
    app.addHook('onRequest', async (req, reply) => {
      if (req.routeOptions.url === undefined) await general.call(app, req, reply);
    });
  }
  if (perAddress > 0) limitRefusedTokens(app, perAddress);
}

/**
 * Every forged token has a fresh bucket of its own (callerKey), so guessing tokens would
 * be limited by nothing; instead, each token the gateway refuses (a 401) counts against
 * its address, once per token (a client retrying its expired token counts once), and past
 * the auth budget that address's requests with a token are refused until the minute is over.
 */
function limitRefusedTokens(app: FastifyInstance, max: number): void {
  const refused = app.createRateLimit({ max, timeWindow: WINDOW_MS, keyGenerator: (req: FastifyRequest) => `refused-token:${addressOf(req)}`, cache: BUCKETS } as Parameters<FastifyInstance['createRateLimit']>[0]);
  // The tokens counted this minute, oldest first (a Map keeps its insertion order).
  const counted = new Map<string, number>();
  const firstRefusal = (key: string): boolean => {
    const now = Date.now();
    const at = counted.get(key);
    if (at !== undefined && now - at < WINDOW_MS) return false;
    counted.delete(key);
    counted.set(key, now);
    if (counted.size > BUCKETS) counted.delete(counted.keys().next().value!);
    return true;
  };
  const hasToken = (req: FastifyRequest) => typeof req.headers.authorization === 'string';
  app.addHook('onRequest', async (req: FastifyRequest, reply: FastifyReply) => {
    if (!hasToken(req) || probes.test(req.url)) return;
    const state = await refused(req, { increment: false });
    if (state.isAllowed || state.remaining > 0) return;
    reply.header('ratelimit-limit', state.max).header('ratelimit-remaining', 0).header('ratelimit-reset', state.ttlInSeconds).header('retry-after', state.ttlInSeconds);
    throw RateLimited(`too many refused tokens from this address: at most ${max} a minute; retry in ${state.ttlInSeconds} s`);
  });
  app.addHook('onResponse', async (req, reply) => {
    if (reply.statusCode === 401 && hasToken(req) && firstRefusal(`${addressOf(req)} ${callerKey(req)}`)) await refused(req);
  });
}

/**
 * Installs the edge on the gateway's app. Called before the error handling and every route:
 * the rate limits attach to the routes added after them, and the CORS preflight route
 * (OPTIONS *) must not be taken for a method of every path by the 405 answer's Allow list.
 */
export async function installEdge(app: FastifyInstance, edge: Readonly<EdgeConfig> = defaultEdgeConfig): Promise<void> {
  const headers = securityHeaders(edge);
  app.addHook('onRequest', (_req, reply, done) => {
    reply.headers(headers);
    done();
  });
  if (edge.corsOrigins.length > 0) await app.register(cors, corsOptions(edge.corsOrigins));
  await installRateLimits(app, edge);
}

/**
 * The gateway's settings: where it listens, where the internal services are, and its edge.
 */
import { isIP } from 'node:net';
import { loadHttpTimeouts, loadPlatformConfig, loadTracingConfig, originList, type HttpTimeouts, type TracingConfig } from '#platform/config.ts';
import type { BusConfig } from '#platform/bus/open.ts';
import { ConfigError } from '#platform/errors.ts';

type Env = Record<string, string | undefined>;

export const upstreamNames = ['orders', 'inventory', 'payments', 'shipping', 'users', 'notifications', 'ingestion', 'analytics', 'cart'] as const;
export type UpstreamName = (typeof upstreamNames)[number];

export interface GatewayConfig {
  port: number;
  host: string;
  logLevel: string;
  /** Each service's instances (ORDERS_URL=http://a,http://b): the gateway balances across them. */
  upstreams: Record<UpstreamName, readonly string[]>;
  /** Per-attempt timeout of a forwarded call. */
  timeoutMs: number;
  /** Keep-alive sockets per upstream. */
  connections: number;
  tracing: Readonly<TracingConfig>;
  /**
   * Where a browser finds the Zipkin UI, for the console's links to traces: GATEWAY_ZIPKIN_UI_URL,
   * or, when traces are exported to Zipkin, the origin of OTEL_EXPORTER_ZIPKIN_ENDPOINT (right
   * on a laptop; set it where the collector's address is not one a browser reaches). Null
   * when tracing does not export to Zipkin and nothing is set.
   */
  zipkinUiUrl: string | null;
  /** Its own server's waits for slow clients (ORDERFLOW_HTTP_*_TIMEOUT_MS, as every service). */
  http: Readonly<HttpTimeouts>;
  /**
   * What an access token must say to be taken (the users service signs them): the same
   * USERS_TOKEN_ISSUER / USERS_TOKEN_AUDIENCE settings as the users service reads, so one
   * setting changes both.
   */
  tokens: Readonly<{ issuer: string; audience: string }>;
  /** What the public port refuses or adds before any route runs (edge.ts, metrics-server.ts). */
  edge: Readonly<EdgeConfig>;
  /**
   * GATEWAY_LISTEN_FD, GATEWAY_METRICS_LISTEN_FD: listen on these inherited sockets, not on
   * PORT and GATEWAY_METRICS_PORT. The supervisor of `orderflow up` holds the gateway's two
   * sockets and hands them to each gateway process it starts, so that a new gateway and the
   * old one it replaces accept from one queue and a rollout refuses no connection
   * (runtime/listen-sockets.ts).
   */
  listenFds?: Readonly<{ public: number; metrics: number }>;
  /**
   * GATEWAY_LAB_URL: the lab server of the `orderflow up` that runs this gateway
   * (runtime/lab-server.ts), behind /api/admin/lab; unset elsewhere, where there is no lab.
   */
  labUrl?: string;
  /**
   * The live tail of every topic (GET /api/admin/events/stream, event-tail.ts): the bus it
   * reads, the platform's (ORDERFLOW_BUS, KAFKA_*, ORDERFLOW_NAMESPACE, ORDERFLOW_DATA_DIR),
   * and GATEWAY_EVENT_TAIL_RECORDS (2000), the recent records it keeps for a stream that
   * opens; 0 turns the tail off (the gateway then opens no bus, and the stream answers 503).
   */
  eventTail: Readonly<{ records: number; bus: Readonly<BusConfig> }>;
}

/**
 * The edge: limits, security headers, CORS, and where /metrics is served.
 * - GATEWAY_RATE_LIMIT_PER_MINUTE (1200): requests a minute per caller, the caller being the
 *   bearer token when the request has an Authorization header (its hash: a forged token gets
 *   a bucket of its own, never a real user's) and the client address otherwise; 0 = off.
 * - GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE (10): the stricter limit per client address on
 *   POST /api/auth/login and /api/auth/register together (password guessing, sign-up
 *   floods), and on tokens the gateway refused (401s, each token once: token guessing); 0 = off.
 *   The lab, bench, chaos and e2e runs set both to 0: they drive thousands of orders a second
 *   through one token from one address.
 * - GATEWAY_TRUST_PROXY (off): the client address is the socket's peer unless this names the
 *   proxies in front whose X-Forwarded-For to believe: a hop count (1) or addresses and CIDRs
 *   (10.0.0.0/8,127.0.0.1). Behind an ingress without it, every client is the ingress.
 * - GATEWAY_CORS_ORIGINS (none): browser origins allowed to call the API from another origin,
 *   exact (https://shop.example.com), comma-separated; none = no CORS headers at all.
 * - GATEWAY_HSTS_MAX_AGE_S (0 = off): Strict-Transport-Security's max-age. The gateway speaks
 *   plain HTTP; turn it on only when every client reaches it through TLS (an ingress that
 *   terminates TLS and does not add the header itself).
 * - GATEWAY_MAX_HEADER_BYTES (16384): request line and headers together, larger is a 431.
 * - GATEWAY_METRICS_PORT (9080; 0 = a free port): the internal listener serving /metrics on
 *   HOST, for Prometheus; the public port answers 404 there.
 */
export interface EdgeConfig {
  rateLimitPerMinute: number;
  authRateLimitPerMinute: number;
  trustProxy: false | number | readonly string[];
  corsOrigins: readonly string[];
  hstsMaxAgeS: number;
  maxHeaderBytes: number;
  metricsPort: number;
}

function int(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw ConfigError(`${name} must be an integer >= ${min}; got "${value}"`);
  return n;
}

function corsOrigins(value: string): string[] {
  return value.split(',').map((s) => s.trim()).filter(Boolean).map((origin) => {
    let parsed: URL | undefined;
    try {
      parsed = new URL(origin);
    } catch {
      // reported below
    }
    // Exact origins only: a browser sends scheme://host[:port], never a path, and no wildcard.
    if (!parsed || parsed.origin !== origin || !/^https?:$/.test(parsed.protocol)) {
      throw ConfigError(`GATEWAY_CORS_ORIGINS must be exact origins like https://shop.example.com, separated by commas; got "${origin}"`);
    }
    return origin;
  });
}

function trustProxy(value: string): EdgeConfig['trustProxy'] {
  if (value.trim() === '') return false;
  if (/^\d+$/.test(value.trim())) return int('GATEWAY_TRUST_PROXY', value.trim(), 1);
  const list = value.split(',').map((s) => s.trim()).filter(Boolean);
  for (const entry of list) {
    const [address, prefix, extra] = entry.split('/');
    const family = isIP(address);
    const bits = family === 4 ? 32 : 128;
    if (family === 0 || extra !== undefined || (prefix !== undefined && !(/^\d+$/.test(prefix) && Number(prefix) <= bits))) {
      throw ConfigError(`GATEWAY_TRUST_PROXY must be a hop count or addresses and CIDRs separated by commas; got "${entry}"`);
    }
  }
  return Object.freeze(list);
}

export function loadEdgeConfig(env: Env = process.env): Readonly<EdgeConfig> {
  return Object.freeze({
    rateLimitPerMinute: int('GATEWAY_RATE_LIMIT_PER_MINUTE', env.GATEWAY_RATE_LIMIT_PER_MINUTE ?? '1200', 0),
    authRateLimitPerMinute: int('GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE', env.GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE ?? '10', 0),
    trustProxy: trustProxy(env.GATEWAY_TRUST_PROXY ?? ''),
    corsOrigins: Object.freeze(corsOrigins(env.GATEWAY_CORS_ORIGINS ?? '')),
    hstsMaxAgeS: int('GATEWAY_HSTS_MAX_AGE_S', env.GATEWAY_HSTS_MAX_AGE_S ?? '0', 0),
    maxHeaderBytes: int('GATEWAY_MAX_HEADER_BYTES', env.GATEWAY_MAX_HEADER_BYTES ?? '16384', 1024),
    metricsPort: int('GATEWAY_METRICS_PORT', env.GATEWAY_METRICS_PORT ?? '9080', 0),
  });
}

function zipkinUiUrl(env: Env): string | null {
  const set = env.GATEWAY_ZIPKIN_UI_URL?.trim();
  if (set) {
    if (!/^https?:\/\/[^\s]+$/.test(set) || !URL.canParse(set)) throw ConfigError(`GATEWAY_ZIPKIN_UI_URL must be an http(s) URL like http://localhost:9411; got "${set}"`);
    return set.replace(/\/+$/, '');
  }
  const tracing = loadTracingConfig(env);
  return tracing.exporter === 'zipkin' && URL.canParse(tracing.zipkinEndpoint) ? new URL(tracing.zipkinEndpoint).origin : null;
}

/** The tail's settings; the bus's are the platform's, as every service reads them. */
function loadEventTail(env: Env): GatewayConfig['eventTail'] {
  const platform = loadPlatformConfig(env);
  return Object.freeze({
    records: int('GATEWAY_EVENT_TAIL_RECORDS', env.GATEWAY_EVENT_TAIL_RECORDS ?? '2000', 0),
    bus: Object.freeze({
      bus: platform.bus,
      dataDir: platform.dataDir,
      kafkaBrokers: platform.kafkaBrokers,
      kafkaSecurity: platform.kafkaSecurity,
      namespace: platform.namespace,
      replicationFactor: platform.replicationFactor,
      kafkaLingerMs: platform.kafkaLingerMs,
    }),
  });
}

export function loadConfig(env: Env = process.env): Readonly<GatewayConfig> {
  return Object.freeze({
    port: int('PORT', env.PORT ?? '8080', 0),
    host: env.HOST ?? '127.0.0.1',
    logLevel: env.LOG_LEVEL ?? 'info',
    upstreams: Object.freeze({
      orders: Object.freeze(originList('ORDERS_URL', env.ORDERS_URL ?? 'http://127.0.0.1:8081')),
      inventory: Object.freeze(originList('INVENTORY_URL', env.INVENTORY_URL ?? 'http://127.0.0.1:8082')),
      payments: Object.freeze(originList('PAYMENTS_URL', env.PAYMENTS_URL ?? 'http://127.0.0.1:8083')),
      shipping: Object.freeze(originList('SHIPPING_URL', env.SHIPPING_URL ?? 'http://127.0.0.1:8084')),
      users: Object.freeze(originList('USERS_URL', env.USERS_URL ?? 'http://127.0.0.1:8085')),
      notifications: Object.freeze(originList('NOTIFICATIONS_URL', env.NOTIFICATIONS_URL ?? 'http://127.0.0.1:8087')),
      ingestion: Object.freeze(originList('INGESTION_URL', env.INGESTION_URL ?? 'http://127.0.0.1:8088')),
      analytics: Object.freeze(originList('ANALYTICS_URL', env.ANALYTICS_URL ?? 'http://127.0.0.1:8089')),
      cart: Object.freeze(originList('CART_URL', env.CART_URL ?? 'http://127.0.0.1:8086')),
    }),
    timeoutMs: int('GATEWAY_TIMEOUT_MS', env.GATEWAY_TIMEOUT_MS ?? '5000', 1),
    connections: int('GATEWAY_CONNECTIONS', env.GATEWAY_CONNECTIONS ?? '256', 1),
    tracing: loadTracingConfig(env),
    zipkinUiUrl: zipkinUiUrl(env),
    http: loadHttpTimeouts(env),
    edge: loadEdgeConfig(env),
    tokens: Object.freeze({ issuer: env.USERS_TOKEN_ISSUER ?? 'orderflow-users', audience: env.USERS_TOKEN_AUDIENCE ?? 'orderflow-api' }),
    ...(env.GATEWAY_LAB_URL ? { labUrl: originList('GATEWAY_LAB_URL', env.GATEWAY_LAB_URL)[0] } : {}),
    eventTail: loadEventTail(env),
    ...(env.GATEWAY_LISTEN_FD === undefined ? {} : {
      listenFds: Object.freeze({ public: int('GATEWAY_LISTEN_FD', env.GATEWAY_LISTEN_FD, 3), metrics: int('GATEWAY_METRICS_LISTEN_FD', env.GATEWAY_METRICS_LISTEN_FD ?? '', 3) }),
    }),
  });
}

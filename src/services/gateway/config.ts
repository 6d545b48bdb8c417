/**
 * The gateway's settings: where it listens and where the internal services are.
 */
import { loadHttpTimeouts, loadTracingConfig, originList, type HttpTimeouts, type TracingConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';

type Env = Record<string, string | undefined>;

export const upstreamNames = ['orders', 'inventory', 'payments', 'shipping', 'users'] as const;
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
  /** Its own server's waits for slow clients (ORDERFLOW_HTTP_*_TIMEOUT_MS, as every service). */
  http: Readonly<HttpTimeouts>;
  /**
   * What an access token must say to be taken (the users service signs them): the same
   * USERS_TOKEN_ISSUER / USERS_TOKEN_AUDIENCE settings as the users service reads, so one
   * setting changes both.
   */
  tokens: Readonly<{ issuer: string; audience: string }>;
}

function int(name: string, value: string, min: number): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) throw ConfigError(`${name} must be an integer >= ${min}; got "${value}"`);
  return n;
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
    }),
    timeoutMs: int('GATEWAY_TIMEOUT_MS', env.GATEWAY_TIMEOUT_MS ?? '5000', 1),
    connections: int('GATEWAY_CONNECTIONS', env.GATEWAY_CONNECTIONS ?? '256', 1),
    tracing: loadTracingConfig(env),
    http: loadHttpTimeouts(env),
    tokens: Object.freeze({ issuer: env.USERS_TOKEN_ISSUER ?? 'orderflow-users', audience: env.USERS_TOKEN_AUDIENCE ?? 'orderflow-api' }),
  });
}

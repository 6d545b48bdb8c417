import { loadServiceConfig, originList, type ServiceConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';

type Env = Record<string, string | undefined>;

/** How orders calls the other services in the rest architecture. */
export interface RestConfig {
  /** Each service's instances (INVENTORY_URL=http://a,http://b); the calls balance across them. */
  urls: { inventory: readonly string[]; payments: readonly string[]; shipping: readonly string[] };
  /** Per attempt of one call. */
  callTimeoutMs: number;
  /** Extra attempts of a call (all of them are idempotent PUT/DELETE). */
  retries: number;
  /** The whole chain of calls of one POST /orders; kept under the gateway's timeout (5 s). */
  requestDeadlineMs: number;
  /** Keep-alive sockets per service. */
  connections: number;
  /** An unfinished saga older than this is driven by recovery. */
  recoverAfterMs: number;
}

/** Saga deadlines (deadlines.ts), in every architecture. */
export interface DeadlineConfig {
  /** How long one saga step may wait for its answer before the order is cancelled as TIMEOUT. */
  stepDeadlineMs: number;
  /** How often the sweeper looks for orders past their deadline. */
  sweepIntervalMs: number;
}

/** Idempotency-Key expiry (place-order.ts, idempotency-expiry.ts). */
export interface IdempotencyConfig {
  /** A key answers with its order this long; a replay after it makes a new order. */
  ttlHours: number;
  /** How often the expired keys are purged. */
  purgeIntervalMs: number;
}

export interface OrdersConfig extends ServiceConfig {
  rest: RestConfig;
  deadlines: DeadlineConfig;
  /**
   * events and choreography: orders still PENDING past which POST /orders answers 503 with
   * Retry-After and takes nothing (admission.ts); 0 turns it off.
   */
  maxPending: number;
  idempotency: IdempotencyConfig;
}

function int(env: Env, name: string, fallback: number, min: number): number {
  const raw = env[name];
  const n = raw === undefined ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min) throw ConfigError(`${name} must be an integer >= ${min}; got "${raw}"`);
  return n;
}

function origins(env: Env, name: string, fallback: string): readonly string[] {
  return Object.freeze(originList(name, env[name] ?? fallback));
}

export function loadConfig(env: Env = process.env): Readonly<OrdersConfig> {
  const rest: RestConfig = {
    urls: {
      inventory: origins(env, 'INVENTORY_URL', 'http://127.0.0.1:8082'),
      payments: origins(env, 'PAYMENTS_URL', 'http://127.0.0.1:8083'),
      shipping: origins(env, 'SHIPPING_URL', 'http://127.0.0.1:8084'),
    },
    callTimeoutMs: int(env, 'ORDERS_CALL_TIMEOUT_MS', 1_500, 1),
    retries: int(env, 'ORDERS_CALL_RETRIES', 2, 0),
    requestDeadlineMs: int(env, 'ORDERS_REQUEST_DEADLINE_MS', 4_000, 1),
    connections: int(env, 'ORDERS_CALL_CONNECTIONS', 256, 1),
    recoverAfterMs: int(env, 'ORDERS_RECOVER_AFTER_MS', 10_000, 0),
  };
  const deadlines: DeadlineConfig = {
    stepDeadlineMs: int(env, 'ORDERS_STEP_DEADLINE_MS', 30_000, 1),
    sweepIntervalMs: int(env, 'ORDERS_DEADLINE_SWEEP_MS', 1_000, 1),
  };
  // rest: the request's own chain of calls must be allowed to finish before the step's
  // deadline, or every slow request would be timed out under its feet.
  if (deadlines.stepDeadlineMs <= rest.requestDeadlineMs) {
    throw ConfigError(`ORDERS_STEP_DEADLINE_MS (${deadlines.stepDeadlineMs}) must be greater than ORDERS_REQUEST_DEADLINE_MS (${rest.requestDeadlineMs})`);
  }
  return Object.freeze({
    ...loadServiceConfig(env, 8081),
    rest: Object.freeze(rest),
    deadlines: Object.freeze(deadlines),
    maxPending: int(env, 'ORDERS_MAX_PENDING', 5_000, 0),
    idempotency: Object.freeze({
      ttlHours: int(env, 'ORDERS_IDEMPOTENCY_TTL_HOURS', 24, 1),
      purgeIntervalMs: int(env, 'ORDERS_IDEMPOTENCY_PURGE_INTERVAL_MS', 600_000, 1),
    }),
  });
}

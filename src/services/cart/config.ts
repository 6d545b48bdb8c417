import { loadServiceConfig, originList, type ServiceConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';

export interface CartConfig extends ServiceConfig {
  /** The orders service's instances, for checkout (ORDERS_URL, comma-separated). */
  ordersUrls: string[];
  /** Inventory's instances (INVENTORY_URL), read once to fill an empty catalog copy (bootstrap.ts). */
  inventoryUrls: string[];
  /**
   * Timeout of a checkout's call to orders (CART_ORDERS_TIMEOUT_MS, default 4.5 s): past orders'
   * rest deadline (4 s), under the gateway's own timeout (5 s), so the cart answers first.
   */
  ordersTimeoutMs: number;
  /** A cart with lines untouched this long is announced as abandoned (CART_ABANDONED_AFTER_MS, default 1 h). */
  abandonedAfterMs: number;
  /** How often idle carts are looked for (CART_ABANDONED_CHECK_MS; by default a quarter of the idle time, 100 ms to 1 min). */
  abandonedCheckMs: number;
  /** How long a client's Idempotency-Key on checkout answers with its order (CART_IDEMPOTENCY_TTL_MS, default 24 h, as orders'). */
  idempotencyTtlMs: number;
}

function positiveInt(name: string, value: string): number {
  const n = Number(value);
  if (!Number.isInteger(n) || n < 1) throw ConfigError(`${name} must be a positive integer; got "${value}"`);
  return n;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<CartConfig> {
  const abandonedAfterMs = positiveInt('CART_ABANDONED_AFTER_MS', env.CART_ABANDONED_AFTER_MS ?? '3600000');
  const defaultCheck = Math.min(60_000, Math.max(100, Math.floor(abandonedAfterMs / 4)));
  return Object.freeze({
    ...loadServiceConfig(env, 8086),
    ordersUrls: originList('ORDERS_URL', env.ORDERS_URL ?? 'http://127.0.0.1:8081'),
    inventoryUrls: originList('INVENTORY_URL', env.INVENTORY_URL ?? 'http://127.0.0.1:8082'),
    ordersTimeoutMs: positiveInt('CART_ORDERS_TIMEOUT_MS', env.CART_ORDERS_TIMEOUT_MS ?? '4500'),
    abandonedAfterMs,
    abandonedCheckMs: positiveInt('CART_ABANDONED_CHECK_MS', env.CART_ABANDONED_CHECK_MS ?? String(defaultCheck)),
    idempotencyTtlMs: positiveInt('CART_IDEMPOTENCY_TTL_MS', env.CART_IDEMPOTENCY_TTL_MS ?? '86400000'),
  });
}

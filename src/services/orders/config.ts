import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';

export type OrdersConfig = ServiceConfig;

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<OrdersConfig> {
  return Object.freeze(loadServiceConfig(env, 8081));
}

import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';

export type ShippingConfig = ServiceConfig;

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<ShippingConfig> {
  return Object.freeze(loadServiceConfig(env, 8084));
}

import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';

export type PaymentsConfig = ServiceConfig;

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<PaymentsConfig> {
  return Object.freeze(loadServiceConfig(env, 8083));
}

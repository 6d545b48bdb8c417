import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';

export interface InventoryConfig extends ServiceConfig {
  /** Seed the demo catalog into an empty products table (ORDERFLOW_SEED=1). */
  seed: boolean;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<InventoryConfig> {
  return Object.freeze({
    ...loadServiceConfig(env, 8082),
    seed: env.ORDERFLOW_SEED === '1' || env.ORDERFLOW_SEED === 'true',
  });
}

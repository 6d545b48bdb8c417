import { loadPlatformConfig, type PlatformConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';

export interface InventoryConfig {
  port: number;
  host: string;
  /** Seed the demo catalog into an empty products table (ORDERFLOW_SEED=1). */
  seed: boolean;
  platform: Readonly<PlatformConfig>;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<InventoryConfig> {
  const port = Number(env.PORT ?? 8082);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw ConfigError(`PORT must be a port number; got "${env.PORT}"`);
  return Object.freeze({
    port,
    host: env.HOST ?? '127.0.0.1',
    seed: env.ORDERFLOW_SEED === '1' || env.ORDERFLOW_SEED === 'true',
    platform: loadPlatformConfig(env),
  });
}

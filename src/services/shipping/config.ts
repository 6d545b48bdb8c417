import { loadPlatformConfig, type PlatformConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';

export interface ShippingConfig {
  port: number;
  host: string;
  platform: Readonly<PlatformConfig>;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<ShippingConfig> {
  const port = Number(env.PORT ?? 8084);
  if (!Number.isInteger(port) || port < 0 || port > 65535) throw ConfigError(`PORT must be a port number; got "${env.PORT}"`);
  return Object.freeze({ port, host: env.HOST ?? '127.0.0.1', platform: loadPlatformConfig(env) });
}

import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';
import { defaultTimeBounds, type TimeBounds } from './domain/client-events.ts';

export interface IngestionConfig extends ServiceConfig {
  /** How far from the server's clock a client's timestamp may be (INGESTION_MAX_AHEAD_MS, INGESTION_MAX_AGE_MS). */
  timeBounds: Readonly<TimeBounds>;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<IngestionConfig> {
  return Object.freeze({
    ...loadServiceConfig(env, 8088),
    timeBounds: Object.freeze({
      maxAheadMs: positive(env, 'INGESTION_MAX_AHEAD_MS', defaultTimeBounds.maxAheadMs),
      maxAgeMs: positive(env, 'INGESTION_MAX_AGE_MS', defaultTimeBounds.maxAgeMs),
    }),
  });
}

function positive(env: Record<string, string | undefined>, name: string, fallback: number): number {
  const raw = env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw ConfigError(`${name} must be a positive number of milliseconds; got "${raw}"`);
  return n;
}

import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';

export interface AnalyticsConfig extends ServiceConfig {
  /** How late (event time) a fact may arrive and still count in its window (ANALYTICS_GRACE_MS, 30 s). */
  graceMs: number;
}

export function loadConfig(env: Record<string, string | undefined> = process.env): Readonly<AnalyticsConfig> {
  const raw = env.ANALYTICS_GRACE_MS ?? '30000';
  const graceMs = Number(raw);
  if (!Number.isSafeInteger(graceMs) || graceMs < 0) throw ConfigError(`ANALYTICS_GRACE_MS must be a whole number of ms >= 0; got "${raw}"`);
  return Object.freeze({ ...loadServiceConfig(env, 8089), graceMs });
}

import { createBalancedUpstream } from '#platform/resilience/balanced-upstream.ts';
import { upstreamNames, type GatewayConfig } from './config.ts';
import type { Upstreams } from './http.ts';

/**
 * One upstream per service, built once and shared by every request: a keep-alive pool and
 * breaker per instance, balanced across the service's instances (balanced-upstream.ts).
 */
export function createUpstreams(config: Pick<GatewayConfig, 'upstreams' | 'timeoutMs' | 'connections'>): Upstreams {
  const entries = upstreamNames.map((name) => [name, createBalancedUpstream({ name, urls: config.upstreams[name], timeoutMs: config.timeoutMs, connections: config.connections })]);
  return Object.fromEntries(entries) as Upstreams;
}

export async function closeUpstreams(upstreams: Upstreams): Promise<void> {
  await Promise.allSettled(Object.values(upstreams).map((u) => u.close()));
}

import { createUpstream } from '#platform/resilience/upstream.ts';
import { upstreamNames, type GatewayConfig } from './config.ts';
import type { Upstreams } from './http.ts';

/** One keep-alive pool and breaker per service, built once and shared by every request. */
export function createUpstreams(config: Pick<GatewayConfig, 'upstreams' | 'timeoutMs' | 'connections'>): Upstreams {
  const entries = upstreamNames.map((name) => [name, createUpstream({ name, url: config.upstreams[name], timeoutMs: config.timeoutMs, connections: config.connections })]);
  return Object.fromEntries(entries) as Upstreams;
}

export async function closeUpstreams(upstreams: Upstreams): Promise<void> {
  await Promise.allSettled(Object.values(upstreams).map((u) => u.close()));
}

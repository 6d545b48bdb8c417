import type { JSONWebKeySet } from 'jose';
import { createBalancedUpstream } from '#platform/resilience/balanced-upstream.ts';
import type { Upstream } from '#platform/resilience/upstream.ts';
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

/** The users service's public keys, asked of whichever of its instances answers. */
export async function fetchJwks(users: Upstream): Promise<JSONWebKeySet> {
  const res = await users.request({ method: 'GET', path: '/.well-known/jwks.json', headers: {} });
  if (res.statusCode !== 200) throw new Error(`users answered ${res.statusCode} for its keys`);
  const set = JSON.parse(res.body.toString('utf8')) as JSONWebKeySet;
  if (!Array.isArray(set?.keys)) throw new Error('users answered keys that are not a JWKS');
  return set;
}

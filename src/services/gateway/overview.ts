/**
 * GET /api/admin/overview: the system as the console's topology draws it. Every service is
 * asked for its /_admin/status at once (platform/service/status-route.ts: its consumer
 * groups with their lag and handled totals, its outbox backlog, how it is deployed); one
 * that does not answer in time is `down`, and the overview is still answered: it is what an
 * operator looks at when something is wrong. The gateway adds what it knows itself: its
 * circuit to each service, and the topics with their owners from the contracts.
 *
 * A topic's consumer groups are those the services report, and those a service reported
 * before it went down (kept in memory): a group does not vanish from the diagram because its
 * service is away, which is when its lag matters. The consumer groups are not in the
 * contracts, which say who publishes, not who listens, and they change with the architecture.
 */
import { TypeCompiler } from '@sinclair/typebox/compiler';
import { allTopics, contracts, streamRecords } from '#contracts/index.ts';
import { DependencyUnavailable } from '#platform/errors.ts';
import type { BalancedUpstream } from '#platform/resilience/balanced-upstream.ts';
import { ServiceStatus, type ServiceStatusBody } from '#platform/service/status-route.ts';
import { upstreamNames } from './config.ts';
import type { Upstreams } from './http.ts';

/** How long a service has to answer: its status may wait up to 2 s for the bus's positions. */
export const OVERVIEW_TIMEOUT_MS = 3_000;

export interface Overview {
  architecture: ServiceStatusBody['architecture'];
  deployment: ServiceStatusBody['deployment'];
  tracing: { zipkinUrl: string } | null;
  services: Array<{ name: string; status: 'up' | 'down'; instances: number; consumers: Array<{ groupId: string; topic: string; lag: number; handled: number }>; outboxBacklog: number | null }>;
  topics: Array<{ name: string; owner: string; consumers: string[] }>;
  circuits: Array<{ from: 'gateway'; to: string; state: 'closed' | 'open' | 'half-open' }>;
  at: string;
}

// Each topic's owner: the service whose events it carries, or whose commands.
const owners = new Map<string, string>([...contracts.map((c) => [c.topic, c.owner] as const), ...streamRecords.map((r) => [r.topic, r.owner] as const)]);
const topicNames = [...new Set([...allTopics, ...streamRecords.map((r) => r.topic)])].sort();
// An answer of another shape (a service of another version, or not one of ours) counts as no answer.
const statusShape = TypeCompiler.Compile(ServiceStatus);

export function createOverview(opts: { upstreams: Upstreams; zipkinUrl?: string | null; timeoutMs?: number }): () => Promise<Overview> {
  const timeoutMs = opts.timeoutMs ?? OVERVIEW_TIMEOUT_MS;
  const tracing = opts.zipkinUrl ? { zipkinUrl: opts.zipkinUrl } : null;
  // Per service, the (group, topic) pairs it last reported.
  const seen = new Map<string, Array<{ groupId: string; topic: string }>>();

  async function statusOf(name: (typeof upstreamNames)[number]): Promise<ServiceStatusBody | undefined> {
    try {
      const res = await opts.upstreams[name].probe('/_admin/status', timeoutMs);
      if (res.statusCode !== 200) return undefined;
      const body: unknown = JSON.parse(res.body.toString('utf8'));
      return statusShape.Check(body) ? body : undefined;
    } catch {
      return undefined;
    }
  }

  return async () => {
    const statuses = await Promise.all(upstreamNames.map(statusOf));
    const first = statuses.find((s) => s !== undefined);
    if (first === undefined) throw DependencyUnavailable('no service answered: the overview has nothing to show');
    const services = upstreamNames.map((name, i) => {
      const status = statuses[i];
      const instances = (opts.upstreams[name] as Partial<BalancedUpstream>).instances?.length ?? 1;
      if (status === undefined) return { name, status: 'down' as const, instances, consumers: [], outboxBacklog: null };
      seen.set(name, status.consumers.map((c) => ({ groupId: c.groupId, topic: c.topic })));
      return { name, status: 'up' as const, instances, consumers: status.consumers, outboxBacklog: status.outboxBacklog };
    });
    const groupsOf = new Map<string, Set<string>>();
    for (const pairs of seen.values()) {
      for (const { groupId, topic } of pairs) {
        if (!groupsOf.has(topic)) groupsOf.set(topic, new Set());
        groupsOf.get(topic)!.add(groupId);
      }
    }
    const names = [...new Set([...topicNames, ...groupsOf.keys()])].sort();
    return {
      architecture: first.architecture,
      deployment: first.deployment,
      tracing,
      services,
      topics: names.map((name) => ({ name, owner: owners.get(name) ?? ownerByPrefix(name), consumers: [...(groupsOf.get(name) ?? [])].sort() })),
      circuits: upstreamNames.map((name) => {
        const state = opts.upstreams[name].breakerState();
        return { from: 'gateway' as const, to: name, state: state === 'isolated' ? 'open' : state };
      }),
      at: new Date().toISOString(),
    };
  };
}

// A topic no contract names (a stream processor's repartition topic, analytics-windows.x.repartition):
// the service its name starts with, as the processors name them after their app.
function ownerByPrefix(topic: string): string {
  return topic.split(/[.-]/)[0];
}

/**
 * GET /_admin/status: what one service process tells the gateway's admin overview (the
 * console's topology): how it is deployed, its consumer groups with their lag and handled
 * totals, and its outbox backlog. Every host installs it (host.ts, stateless-host.ts), as it
 * does its dead letters; an internal route, like those (its port is not public, the gateway's
 * public route checks the admin role).
 *
 * It asks nothing new of the bus or the database: the consumers are the host's bus metrics
 * (refreshed at most every few seconds, as a scrape of /metrics would), the backlog the
 * outbox gauge's query. A bus or database that does not answer leaves their last values:
 * readiness is what says a dependency is gone, not this.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { architectures, type PlatformConfig } from '../config.ts';
import type { ConsumerPosition } from '../telemetry/bus-metrics.ts';

// Literals, not an enum: the gateway compiles this schema to check the answers it gets.
const OneOf = <T extends string>(values: readonly T[]) => Type.Union(values.map((v) => Type.Literal(v)));

export const ServiceStatus = Type.Object(
  {
    service: Type.String(),
    architecture: OneOf(architectures),
    deployment: Type.Object({ bus: OneOf(['embedded', 'kafka'] as const), store: OneOf(['sqlite', 'postgres'] as const) }),
    consumers: Type.Array(Type.Object({
      groupId: Type.String(),
      topic: Type.String(),
      lag: Type.Integer({ minimum: 0, description: 'Records of the topic the group has not committed yet.' }),
      handled: Type.Integer({ minimum: 0, description: 'A running total: the sum of the group\'s committed offsets on the topic (every instance\'s, across restarts).' }),
    })),
    outboxBacklog: Type.Union([Type.Integer({ minimum: 0 }), Type.Null()], { description: 'Outbox rows not yet published; null for a service without an outbox.' }),
  },
  { additionalProperties: false },
);

export type ServiceStatusBody = Static<typeof ServiceStatus>;

export interface StatusSources {
  service: string;
  platform: Pick<PlatformConfig, 'arch' | 'bus' | 'store'>;
  consumers?: () => Promise<ConsumerPosition[]>;
  /** Rows waiting in the outbox; absent for a service that has none. */
  outboxBacklog?: () => Promise<number>;
}

export function installStatusRoute(app: FastifyInstance, sources: StatusSources): void {
  let lastBacklog: number | null = null;
  app.get('/_admin/status', { schema: { response: { 200: ServiceStatus } } }, async (): Promise<ServiceStatusBody> => {
    const [consumers, backlog] = await Promise.all([
      sources.consumers?.() ?? [],
      sources.outboxBacklog === undefined ? null : sources.outboxBacklog().then((n) => (lastBacklog = n), () => lastBacklog),
    ]);
    return {
      service: sources.service,
      architecture: sources.platform.arch,
      deployment: { bus: sources.platform.bus, store: sources.platform.store },
      consumers: consumers.map((c) => ({ groupId: c.groupId, topic: c.topic, lag: c.lag, handled: c.committed })),
      outboxBacklog: backlog,
    };
  });
}

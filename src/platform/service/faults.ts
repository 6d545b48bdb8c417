/**
 * Fault injection for the lab: a latency a running service can be told to add, so the lab
 * can watch the system around one slow service. Off unless ORDERFLOW_FAULTS=1; when off,
 * nothing here is installed and nothing is delayed.
 *
 * While latencyMs > 0, every HTTP request (except the /health probes, /metrics, /_faults) and every
 * batch delivered to the service's consumers waits latencyMs before it is handled. The wait
 * is before the handler and outside its transaction: it models a slow service, not a lock
 * held for longer.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';

/** The most latency one may add: a minute is already far past any timeout. */
export const MAX_LATENCY_MS = 60_000;

/** Mutable fault state of one service process. */
export interface Faults {
  latencyMs: number;
}

export function createFaults(): Faults {
  return { latencyMs: 0 };
}

const FaultsBody = Type.Object(
  { latencyMs: Type.Integer({ minimum: 0, maximum: MAX_LATENCY_MS }) },
  { additionalProperties: false },
);

// Never slowed: the supervisor's health probe, the lab's scrape, and the way to undo the fault.
const exempt = new Set(['/health', '/health/live', '/health/ready', '/health/consumers', '/metrics', '/_faults']);

/**
 * Installs GET/PUT /_faults and the onRequest hook that delays requests while latencyMs > 0.
 * Call before the service registers its routes.
 */
export function installFaultRoutes(app: FastifyInstance, faults: Faults): void {
  app.addHook('onRequest', (req, _reply, done) => {
    const ms = faults.latencyMs;
    if (ms === 0 || exempt.has(req.routeOptions.url ?? '')) return done();
    setTimeout(done, ms);
  });
  app.get('/_faults', async () => ({ latencyMs: faults.latencyMs }));
  app.put<{ Body: Static<typeof FaultsBody> }>('/_faults', { schema: { body: FaultsBody } }, async (req) => {
    faults.latencyMs = req.body.latencyMs;
    req.log.warn({ latencyMs: faults.latencyMs }, 'fault injection: latency set');
    return { latencyMs: faults.latencyMs };
  });
}

/** Resolves after the current latency; undefined (no promise, no timer) when there is none. */
export function faultDelay(faults: Faults): Promise<void> | undefined {
  const ms = faults.latencyMs;
  if (ms === 0) return undefined;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

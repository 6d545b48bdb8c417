/**
 * Fault injection for the lab and the tests: a latency a running service can be told to add,
 * so the lab can watch the system around one slow service, and message types whose handlers
 * fail, so a test can dead-letter a message in the middle of a saga. Off unless
 * ORDERFLOW_FAULTS=1; when off, nothing here is installed, delayed or failed.
 *
 * While latencyMs > 0, every HTTP request (except the /health probes, /metrics, /_faults) and every
 * batch delivered to the service's consumers waits latencyMs before it is handled. The wait
 * is before the handler and outside its transaction: it models a slow service, not a lock
 * held for longer.
 */
import { Type, type Static } from '@sinclair/typebox';
import type { FastifyInstance } from 'fastify';
import { defineError } from '../errors.ts';

/** The most latency one may add: a minute is already far past any timeout. */
export const MAX_LATENCY_MS = 60_000;

/** Mutable fault state of one service process. */
export interface Faults {
  latencyMs: number;
  /** Message types whose handlers throw (each attempt), so the consumer retries and dead-letters them. */
  failTypes: string[];
}

export function createFaults(): Faults {
  return { latencyMs: 0, failTypes: [] };
}

export const InjectedFailure = defineError('PLT_ERR_INJECTED_FAILURE', 500);

// Either or both; a field left out keeps its value.
const FaultsBody = Type.Object(
  {
    latencyMs: Type.Optional(Type.Integer({ minimum: 0, maximum: MAX_LATENCY_MS })),
    failTypes: Type.Optional(Type.Array(Type.String({ minLength: 1, maxLength: 100 }), { maxItems: 50, uniqueItems: true })),
  },
  { additionalProperties: false, minProperties: 1 },
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
  const state = () => ({ latencyMs: faults.latencyMs, failTypes: faults.failTypes });
  app.get('/_faults', async () => state());
  app.put<{ Body: Static<typeof FaultsBody> }>('/_faults', { schema: { body: FaultsBody } }, async (req) => {
    if (req.body.latencyMs !== undefined) faults.latencyMs = req.body.latencyMs;
    if (req.body.failTypes !== undefined) faults.failTypes = req.body.failTypes;
    req.log.warn(state(), 'fault injection set');
    return state();
  });
}

/**
 * The handlers with the injected failure in front: a message whose type is in failTypes
 * throws before its handler runs, inside the consumer's retries, as a handler bug would.
 */
export function failingHandlers<H extends (...args: never[]) => Promise<void>>(faults: Faults, handlers: Record<string, H>): Record<string, H> {
  const out: Record<string, H> = {};
  for (const [type, handler] of Object.entries(handlers)) {
    out[type] = (async (...args: Parameters<H>) => {
      if (faults.failTypes.includes(type)) throw InjectedFailure(`fault injection: handlers of ${type} fail`);
      return handler(...args);
    }) as H;
  }
  return out;
}

/** Resolves after the current latency; undefined (no promise, no timer) when there is none. */
export function faultDelay(faults: Faults): Promise<void> | undefined {
  const ms = faults.latencyMs;
  if (ms === 0) return undefined;
  return new Promise((resolve) => setTimeout(resolve, ms));
}

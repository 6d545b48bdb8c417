/**
 * `orderflow_circuit_state{upstream}` (the metric set of issue 8): the breaker of each
 * upstream a service calls, read at scrape time: 0 closed, 1 half-open, 2 open (an isolated
 * circuit, held open by hand, reads as open).
 */
import { Gauge, type Registry } from 'prom-client';
import type { BreakerState } from '../resilience/http-policy.ts';

const value: Record<BreakerState, number> = { closed: 0, 'half-open': 1, open: 2, isolated: 2 };

export function registerCircuitStates(registry: Registry, upstreams: ReadonlyArray<{ readonly name: string; breakerState(): BreakerState }>): void {
  new Gauge({
    name: 'orderflow_circuit_state',
    help: 'Circuit breaker of each upstream: 0 closed, 1 half-open, 2 open.',
    labelNames: ['upstream'] as const,
    registers: [registry],
    collect() {
      for (const u of upstreams) this.set({ upstream: u.name }, value[u.breakerState()]);
    },
  });
}

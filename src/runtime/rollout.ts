/**
 * A rolling restart of a running system, one instance at a time, none of its callers'
 * requests failing:
 * - a backend instance (orders-1...) is drained and stopped first (SIGTERM: it stops
 *   accepting, answers what its callers have sent on their open connections with
 *   `connection: close`, then closes: platform/http/drain.ts), then started again, awaited
 *   healthy and its consumers in their groups. Meanwhile its callers' balancers send
 *   everything to the service's other instances;
 * - the gateway, of which there is one, is surged: a new process starts beside the old one
 *   on the same listening sockets (listen-sockets.ts), and the old one drains once the new
 *   one listens.
 * Between two steps the rollout waits `settleMs` (Kubernetes' minReadySeconds): the callers'
 * breakers of an instance just back must have left their open state (1 s) before its sibling
 * drains, or a caller sees every instance of the service open at once, and the rest saga
 * then refuses orders fast (it happened: 13 orders of 1,393 in the lab, without it).
 * Kubernetes does the same with a Deployment's rolling update (maxSurge 1, maxUnavailable 0),
 * the Service's endpoints instead of the balancer moving the traffic (docs/deploy.md).
 */
import { defineError } from '#platform/errors.ts';
import type { Replaced } from './supervisor.ts';

export const RolloutRefused = defineError('PLT_ERR_ROLLOUT_REFUSED', 409);

export const DEFAULT_SETTLE_MS = 2_000;

export interface RolloutStep {
  instance: string;
  /** surge: started beside the old process; restart: stopped, then started. */
  how: 'surge' | 'restart';
  /** The old process's drain and exit. */
  stopMs: number;
  /** Until the new process was healthy (ready). */
  startMs: number;
  /** Then until its consumers were members of their groups. */
  joinMs: number;
  totalMs: number;
}

export interface RolloutReport {
  steps: RolloutStep[];
  durationMs: number;
}

export interface RolloutTarget {
  name: string;
  service: string;
}

export interface RolloutDeps {
  /** Every instance, the gateway first (System.instances' order). */
  instances: RolloutTarget[];
  /** Only these services' instances (default every service). */
  services?: readonly string[];
  /** The wait after each step before the next (default 2 s, longer than the balancer's breakers stay open). */
  settleMs?: number;
  /**
   * The gateway surged on sockets the supervisor holds (default); false (containers, whose
   * gateway binds its own port): restarted in place, refusing connections until it is back.
   */
  surgeGateway?: boolean;
  replace(name: string, opts: { surge: boolean }): Promise<Replaced>;
  /** Resolves once the instance's consumers joined their groups. */
  joined(name: string): Promise<void>;
  say(line: string): void;
}

/** The backends service by service, each instance in turn, then the gateway. */
export async function rollOut(deps: RolloutDeps): Promise<RolloutReport> {
  const known = [...new Set(deps.instances.map((i) => i.service))];
  const unknown = (deps.services ?? []).filter((s) => !known.includes(s));
  if (unknown.length > 0) throw RolloutRefused(`no service named ${unknown.join(', ')}; there are ${known.join(', ')}`);
  const chosen = deps.instances.filter((i) => deps.services === undefined || deps.services.includes(i.service));
  const single = chosen.filter((i) => i.service !== 'gateway' && !deps.instances.some((o) => o !== i && o.service === i.service));
  if (single.length > 0) {
    throw RolloutRefused(`${single.map((i) => i.name).join(', ')} run${single.length === 1 ? 's' : ''} as one instance: restarting it would refuse its callers; start the system with --replicas 2 (or more) for a rollout without downtime`);
  }
  const order = [...chosen.filter((i) => i.service !== 'gateway'), ...chosen.filter((i) => i.service === 'gateway')];
  const started = Date.now();
  const steps: RolloutStep[] = [];
  for (const [n, target] of order.entries()) {
    const surge = target.service === 'gateway' && deps.surgeGateway !== false;
    const t0 = Date.now();
    const inPlace = target.service === 'gateway' && !surge ? ' (in place: it refuses connections until it is back)' : '';
    deps.say(`[${n + 1}/${order.length}] ${target.name}: ${surge ? 'starting a new process beside the old one' : `draining and stopping${inPlace}`}`);
    const { stopMs, startMs } = await deps.replace(target.name, { surge });
    const t1 = Date.now();
    await deps.joined(target.name);
    const joinMs = Date.now() - t1;
    const step: RolloutStep = { instance: target.name, how: surge ? 'surge' : 'restart', stopMs, startMs, joinMs, totalMs: Date.now() - t0 };
    steps.push(step);
    deps.say(`[${n + 1}/${order.length}] ${target.name}: ${surge ? `new process ready in ${ms(startMs)}, old one drained and stopped in ${ms(stopMs)}` : `stopped in ${ms(stopMs)}, ready in ${ms(startMs)}, consumers joined in ${ms(joinMs)}`}`);
    if (n < order.length - 1) await new Promise((resolve) => setTimeout(resolve, deps.settleMs ?? DEFAULT_SETTLE_MS));
  }
  return { steps, durationMs: Date.now() - started };
}

/** The lines a person reads at the end of a rollout. */
export function rolloutSummary(report: RolloutReport): string {
  const slowest = [...report.steps].sort((a, b) => b.totalMs - a.totalMs)[0];
  const sum = (f: (s: RolloutStep) => number) => report.steps.reduce((n, s) => n + f(s), 0);
  return [
    `rolled out ${report.steps.length} instances in ${ms(report.durationMs)}`,
    `  drains and stops ${ms(sum((s) => s.stopMs))}, starts ${ms(sum((s) => s.startMs))}, consumer joins ${ms(sum((s) => s.joinMs))} in all`,
    slowest ? `  slowest: ${slowest.instance}, ${ms(slowest.totalMs)}` : '',
  ].filter(Boolean).join('\n');
}

const ms = (n: number) => (n < 1000 ? `${n} ms` : `${(n / 1000).toFixed(1)} s`);

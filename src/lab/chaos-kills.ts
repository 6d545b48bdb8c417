/**
 * The kills of `orderflow chaos`: SIGKILL of a random running service instance at random
 * moments (seeded), the supervisor restarting each. A kill does not wait for the previous
 * victim to be back: two instances down at once, or one killed again while it recovers
 * (replaying its inbox, relaying its outbox), is the harsher case and the one worth finding.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { defineError } from '#platform/errors.ts';
import type { ServiceName, System } from '#runtime/system.ts';

export const NoTargetUp = defineError('PLT_ERR_CHAOS_NO_TARGET', 500);

/** One process chaos may kill. */
export interface KillTarget {
  /** The instance's name: the service's, or with replicas the instance's (orders-2). */
  name: string;
  service: ServiceName;
  /** Its process id while it runs, undefined while it is down. */
  pid(): number | undefined;
  kill(): void;
}

/**
 * The services whose instances chaos kills by default: every backend. The gateway is left
 * out: it holds no state (nothing of an order can be lost in it) and has no second
 * instance to fail over to, so killing it measures only how fast a client reconnects and
 * drags the first-attempt share down with it; --services gateway,... adds it.
 */
export const defaultVictims: readonly ServiceName[] = ['orders', 'inventory', 'payments', 'shipping'];

/**
 * The instances of `services` in `system`: data, so that chaos picks among whatever runs.
 * Today one instance per service, named after it.
 */
export function killTargets(system: System, services: readonly ServiceName[]): KillTarget[] {
  // TODO(replicas): once System lists its instances (orders-1, orders-2, ...; branch
  // s16-replicas), return one target per instance here, killing that instance alone, e.g.
  //   services.flatMap((service) => system.instances(service).map((i) => ({ name: i.name, service, pid: () => i.pid(), kill: () => i.kill('SIGKILL') })))
  // Nothing else in chaos needs to change: it picks among what this returns.
  return services.map((service) => ({ name: service, service, pid: () => system.pid(service), kill: () => system.kill(service, 'SIGKILL') }));
}

export interface Kill {
  /** Seconds since the kills started. */
  t: number;
  name: string;
  pid: number;
}

/**
 * `count` kills, each `gap` seconds (uniform in [min, max], seeded) after the previous one,
 * of a target picked at random among those running. A target killed and not yet restarted
 * is not picked again (its pid is known dead). Resolves with the kills done; a signal ends
 * them early.
 */
export async function runKills(o: { targets: KillTarget[]; count: number; gap: readonly [number, number]; rnd: () => number; signal?: AbortSignal; onKill?: (k: Kill) => void; upTimeoutMs?: number }): Promise<Kill[]> {
  const start = performance.now();
  const dead = new Set<number>();
  const kills: Kill[] = [];
  const [min, max] = o.gap;
  while (kills.length < o.count && !o.signal?.aborted) {
    await sleep((min + o.rnd() * (max - min)) * 1000, undefined, { signal: o.signal }).catch(() => undefined);
    if (o.signal?.aborted) break;
    const until = performance.now() + (o.upTimeoutMs ?? 60_000);
    let up = running(o.targets, dead);
    // Every target down at once (possible with few of them): the next kill waits for one.
    while (up.length === 0) {
      if (performance.now() > until) throw NoTargetUp(`no instance of ${o.targets.map((t) => t.name).join(', ')} came back within ${o.upTimeoutMs ?? 60_000} ms`);
      await sleep(50);
      up = running(o.targets, dead);
    }
    const victim = up[Math.floor(o.rnd() * up.length)];
    victim.target.kill();
    dead.add(victim.pid);
    const k = { t: Math.round((performance.now() - start) / 100) / 10, name: victim.target.name, pid: victim.pid };
    kills.push(k);
    o.onKill?.(k);
  }
  return kills;
}

function running(targets: KillTarget[], dead: Set<number>): Array<{ target: KillTarget; pid: number }> {
  return targets.flatMap((target) => {
    const pid = target.pid();
    return pid === undefined || dead.has(pid) ? [] : [{ target, pid }];
  });
}

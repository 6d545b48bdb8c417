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
  /** Whether it serves (its /health/ready); a target without it counts as ready while it runs. */
  ready?(): Promise<boolean>;
}

/**
 * The services whose instances chaos kills by default: every backend. The gateway is left
 * out: it holds no state (nothing of an order can be lost in it) and has no second
 * instance to fail over to, so killing it measures only how fast a client reconnects and
 * drags the first-attempt share down with it; --services gateway,... adds it.
 */
export const defaultVictims: readonly ServiceName[] = ['orders', 'inventory', 'payments', 'shipping'];

/**
 * The instances of `services` in `system` (orders-1, orders-2... with replicas; the service's
 * own name when it runs alone): data, so that chaos picks among whatever runs.
 */
export function killTargets(system: System, services: readonly ServiceName[]): KillTarget[] {
  return system.instances()
    .filter((i) => services.includes(i.service))
    .map((i) => ({ name: i.name, service: i.service, pid: () => system.pid(i.name), kill: () => system.kill(i.name, 'SIGKILL'), ready: () => serves(i.url) }));
}

/** True when the instance at `url` answers its readiness with 200 within a second. */
async function serves(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/health/ready`, { signal: AbortSignal.timeout(1_000) });
    await res.body?.cancel();
    return res.status === 200;
  } catch {
    return false;
  }
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
export async function runKills(o: {
  targets: KillTarget[];
  count: number;
  gap: readonly [number, number];
  rnd: () => number;
  signal?: AbortSignal;
  onKill?: (k: Kill) => void;
  upTimeoutMs?: number;
  /**
   * With replicas: never take down a service's last instance. An instance is picked only
   * while every other instance of its service runs and none of them was killed within
   * this many ms (a restarted process needs a moment before it serves). 0: any instance.
   */
  spareMs?: number;
}): Promise<Kill[]> {
  const start = performance.now();
  const dead = new Set<number>();
  const lastKill = new Map<string, number>();
  const kills: Kill[] = [];
  const [min, max] = o.gap;
  while (kills.length < o.count && !o.signal?.aborted) {
    await sleep((min + o.rnd() * (max - min)) * 1000, undefined, { signal: o.signal }).catch(() => undefined);
    if (o.signal?.aborted) break;
    const until = performance.now() + (o.upTimeoutMs ?? 60_000);
    const eligible = async () => {
      const up = running(o.targets, dead);
      if (!o.spareMs) return up;
      const now = performance.now();
      const candidates = up.filter(({ target }) => {
        const siblings = o.targets.filter((t) => t.service === target.service);
        const upSiblings = up.filter((u) => u.target.service === target.service);
        return siblings.length > 1 && upSiblings.length === siblings.length && now - (lastKill.get(target.service) ?? -Infinity) >= o.spareMs!;
      });
      // And every sibling serves again: a restarted process needs a moment (more on a busy box) before it does.
      const ready = await Promise.all(candidates.map(async ({ target }) => {
        const siblings = o.targets.filter((t) => t.service === target.service && t !== target);
        return (await Promise.all(siblings.map((s) => (s.ready ? s.ready() : Promise.resolve(true))))).every(Boolean);
      }));
      return candidates.filter((_, i) => ready[i]);
    };
    let up = await eligible();
    // Every target down at once (possible with few of them), or none spare: the next kill waits for one.
    while (up.length === 0) {
      if (performance.now() > until) throw NoTargetUp(`no instance of ${o.targets.map((t) => t.name).join(', ')} came back within ${o.upTimeoutMs ?? 60_000} ms`);
      await sleep(50);
      up = await eligible();
    }
    const victim = up[Math.floor(o.rnd() * up.length)];
    victim.target.kill();
    dead.add(victim.pid);
    lastKill.set(victim.target.service, performance.now());
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

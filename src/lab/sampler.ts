/**
 * Once a second while load runs: CPU and memory of every process of the system (the five
 * services, the lab itself, Kafka and PostgreSQL when they serve the run) and the consumer
 * lag of the services' groups.
 */
import { readdirSync, readFileSync } from 'node:fs';
import pidusage from 'pidusage';
import type { Architecture, ProcessUsage } from './lab-result.ts';
import type { Bus } from '#platform/bus/bus.ts';

/** What each service's group consumes, per architecture; rest has no bus in the order path. */
export const consumerGroups: Record<Architecture, Array<{ group: string; topics: string[] }>> = {
  events: [
    { group: 'orders', topics: ['inventory.events', 'payments.events', 'shipping.events'] },
    { group: 'inventory', topics: ['inventory.commands'] },
    { group: 'payments', topics: ['payments.commands'] },
    { group: 'shipping', topics: ['shipping.commands'] },
  ],
  choreography: [
    { group: 'orders', topics: ['inventory.events', 'payments.events', 'shipping.events'] },
    { group: 'inventory', topics: ['orders.events', 'payments.events', 'shipping.events'] },
    { group: 'payments', topics: ['inventory.events', 'shipping.events'] },
    { group: 'shipping', topics: ['payments.events'] },
  ],
  rest: [],
};

/** Summed lag of the architecture's groups; a group the bus does not know yet counts 0. */
export async function totalLag(bus: Bus, arch: Architecture): Promise<number> {
  const lags = await Promise.all(consumerGroups[arch].map((g) => bus.lag(g.group, g.topics).catch(() => 0)));
  return lags.reduce((a, b) => a + b, 0);
}

export interface Watched {
  name: string;
  /** The process ids whose usage adds up to this one (PostgreSQL: the postmaster and its backends). */
  pids(): number[];
}

export interface Sampler {
  /** The latest lag seen, or null without a bus. */
  lag(): number | null;
  stop(): Promise<{ processes: ProcessUsage[]; lag: { max: number; end: number } | null }>;
}

export function startSampler(o: { watched: Watched[]; bus: Bus | null; arch: Architecture; intervalMs?: number }): Sampler {
  const cpu = new Map<string, number[]>();
  const rss = new Map<string, number[]>();
  const lags: number[] = [];
  let first = true;
  let busy: Promise<void> = Promise.resolve();
  const tick = async () => {
    // pidusage reports CPU since its previous look at a pid: the first look only sets the baseline.
    const baseline = first;
    first = false;
    await Promise.all([
      ...o.watched.map(async (w) => {
        const stats = await Promise.allSettled(w.pids().map((pid) => pidusage(pid)));
        const ok = stats.flatMap((s) => (s.status === 'fulfilled' ? [s.value] : []));
        if (ok.length === 0 || baseline) return;
        push(cpu, w.name, ok.reduce((a, s) => a + s.cpu, 0));
        push(rss, w.name, ok.reduce((a, s) => a + s.memory, 0) / 2 ** 20);
      }),
      o.bus && o.arch !== 'rest' ? totalLag(o.bus, o.arch).then((l) => { lags.push(l); }, () => undefined) : undefined,
    ]);
  };
  const timer = setInterval(() => { busy = busy.then(tick); }, o.intervalMs ?? 1000);
  busy = tick();
  return {
    lag: () => (lags.length ? lags[lags.length - 1] : null),
    async stop() {
      clearInterval(timer);
      await busy.catch(() => undefined);
      const processes = o.watched.filter((w) => cpu.has(w.name)).map((w) => ({
        name: w.name,
        cpuPercent: meanMax(cpu.get(w.name)!),
        rssMb: meanMax(rss.get(w.name)!),
      }));
      const lag = o.bus && o.arch !== 'rest' && lags.length ? { max: Math.max(...lags), end: lags[lags.length - 1] } : o.arch === 'rest' ? null : { max: 0, end: 0 };
      return { processes, lag };
    },
  };
}

function push(m: Map<string, number[]>, k: string, v: number) {
  const a = m.get(k);
  if (a) a.push(v);
  else m.set(k, [v]);
}

const round1 = (n: number) => Math.round(n * 10) / 10;
function meanMax(xs: number[]) {
  return { mean: round1(xs.reduce((a, b) => a + b, 0) / xs.length), max: round1(Math.max(...xs)) };
}

/** Kafka and PostgreSQL on this machine, found by their command lines (the dev infra or a system install). */
export function infraProcesses(want: { kafka: boolean; postgres: boolean; postgresPort?: number; connect?: boolean }): Watched[] {
  const out: Watched[] = [];
  let kafka: number | undefined;
  let postmaster: number | undefined;
  let connect: number | undefined;
  for (const entry of safeReaddir('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid)) continue;
    const argv = cmdline(pid);
    if (want.kafka && kafka === undefined && argv.includes('kafka.Kafka')) kafka = pid;
    if (want.postgres && postmaster === undefined && /(^|\/)postgres$/.test(argv[0] ?? '') && argv.includes('-D')) {
      // With two clusters on the machine (one at wal_level=logical for Debezium), the one on the lab's port.
      if (want.postgresPort === undefined || portOfCluster(argv[argv.indexOf('-D') + 1]) === want.postgresPort) postmaster = pid;
    }
    if (want.connect && connect === undefined && argv.some((a) => a.startsWith('org.apache.kafka.connect.cli.'))) connect = pid;
  }
  if (kafka !== undefined) out.push({ name: 'kafka', pids: () => [kafka] });
  if (postmaster !== undefined) out.push({ name: 'postgres', pids: () => [postmaster, ...childrenOf(postmaster)] });
  if (connect !== undefined) out.push({ name: 'connect', pids: () => [connect] });
  return out;
}

/** The port in a data directory's postmaster.pid (its fourth line). */
function portOfCluster(dataDir: string | undefined): number | undefined {
  try {
    return Number(readFileSync(`${dataDir}/postmaster.pid`, 'utf8').split('\n')[3]);
  } catch {
    return undefined;
  }
}

function cmdline(pid: number): string[] {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').split('\0').filter(Boolean);
  } catch {
    return [];
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function safeReaddir(dir: string): string[] {
  try {
    return readdirSync(dir);
  } catch {
    return [];
  }
}

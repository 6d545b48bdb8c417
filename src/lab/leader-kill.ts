/**
 * The leader kill on a replicated cluster: find the partition of the order saga's topics
 * that carried the most records, SIGKILL the broker that leads it, and measure how long the
 * orders whose saga runs through that partition take to flow again; then start the broker
 * again and measure how long until it is back in the in-sync replicas of every partition it
 * holds. The orders are keyed by their id, so an order's commands and events all use the
 * partition partitionFor(id) of each topic: the orders of the killed leader's partition
 * cannot complete before another replica leads it.
 */
import { Admin } from '@platformatic/kafka';
import { partitionFor } from '#platform/bus/bus.ts';
import { Topics } from '#contracts/topics.ts';
import type { Client, OrderView } from './client.ts';
import { fetchAll, type PlacedOrder } from './invariants.ts';

/** The saga's topics, for the replicas and the ISR. */
export const SAGA_TOPICS = [Topics.ordersEvents, Topics.inventoryCommands, Topics.inventoryEvents, Topics.paymentsCommands, Topics.paymentsEvents, Topics.shippingCommands, Topics.shippingEvents] as const;
/**
 * Those every order goes through, whatever its outcome (an order out of stock never reaches
 * payments or shipping): the busiest partition is chosen among them, so no order of it can
 * end without its new leader.
 */
export const EVERY_ORDER_TOPICS = [Topics.ordersEvents, Topics.inventoryCommands, Topics.inventoryEvents] as const;

export interface BusiestPartition {
  /** Without the namespace. */
  topic: string;
  partition: number;
  /** The node id of its leader. */
  leader: number;
  /** Its replicas and in-sync replicas when it was chosen. */
  replicas: number[];
  isr: number[];
  records: number;
}

export interface LeaderKill extends BusiestPartition {
  /**
   * Seconds from the kill until the first order accepted after it, in the killed leader's
   * partition, was terminal: when orders through that partition flowed again; null when none
   * did within the wait.
   */
  recoverySeconds: number | null;
  /** Seconds from the broker's start until it was in sync again on every partition it holds; null when not within the wait. */
  rejoinSeconds: number | null;
}

const admin = (brokers: string) => new Admin({ clientId: 'orderflow-lab-leader-kill', bootstrapBrokers: brokers.split(','), retries: 2, retryDelay: 250, timeout: 5000 });

/** The partition of the topics every order goes through, in `namespace`, with the most records, and its leader. */
export async function busiestPartition(brokers: string, namespace: string): Promise<BusiestPartition> {
  const a = admin(brokers);
  try {
    const names = EVERY_ORDER_TOPICS.map((t) => `${namespace}.${t}`);
    const md = await a.metadata({ topics: names, forceUpdate: true });
    // A topic the architecture does not use (choreography has no inventory commands) may be absent.
    for (const name of [...names]) if (!md.topics.has(name)) names.splice(names.indexOf(name), 1);
    const latest = await a.listOffsets({
      topics: names.map((name) => ({ name, partitions: md.topics.get(name)!.partitions.map((_, partitionIndex) => ({ partitionIndex, timestamp: -1n })) })),
    });
    let best: BusiestPartition | undefined;
    for (const t of latest) {
      for (const p of t.partitions) {
        const records = Number(p.offset);
        if (best !== undefined && records <= best.records) continue;
        const meta = md.topics.get(t.name)!.partitions[p.partitionIndex];
        best = { topic: t.name.slice(namespace.length + 1), partition: p.partitionIndex, leader: meta.leader, replicas: [...meta.replicas], isr: [...meta.isr], records };
      }
    }
    if (best === undefined) throw new Error(`no partitions in the saga's topics of ${namespace}`);
    return best;
  } finally {
    await a.close().catch(() => undefined);
  }
}

/** Every partition of the namespace's saga topics: its replicas, in-sync replicas and leader. */
export async function replicasOf(brokers: string, namespace: string): Promise<Array<{ topic: string; partition: number; leader: number; replicas: number[]; isr: number[] }>> {
  const a = admin(brokers);
  try {
    const names = SAGA_TOPICS.map((t) => `${namespace}.${t}`);
    const md = await a.metadata({ topics: names, forceUpdate: true });
    return names.flatMap((name) => (md.topics.get(name)?.partitions ?? []).map((p, partition) => ({ topic: name, partition, leader: p.leader, replicas: [...p.replicas], isr: [...p.isr] })));
  } finally {
    await a.close().catch(() => undefined);
  }
}

/**
 * Polls the orders accepted from `fromIndex` of `placed` on (a list the load keeps growing)
 * whose id falls in `partition`, until one is terminal; resolves with that moment
 * (performance.now()), or null after `timeoutMs`.
 */
export async function firstTerminalIn(o: { client: Client; placed: readonly PlacedOrder[]; fromIndex: number; partition: number; partitions: number; timeoutMs: number; signal?: AbortSignal }): Promise<number | null> {
  const until = performance.now() + o.timeoutMs;
  while (performance.now() < until && !o.signal?.aborted) {
    const ids = o.placed.slice(o.fromIndex).map((p) => p.id).filter((id) => partitionFor(id, o.partitions) === o.partition);
    if (ids.length > 0) {
      const views = await fetchAll(ids, (id) => o.client.order(id).then((r) => (r.status === 200 ? (r.body as OrderView) : undefined), () => undefined));
      const now = performance.now();
      if (views.some((v) => v?.status === 'CONFIRMED' || v?.status === 'CANCELLED')) return now;
    }
    await new Promise((r) => setTimeout(r, 200));
  }
  return null;
}

/** Waits until `node` is in the ISR of every partition of the saga's topics it is a replica of; the moment it was, or null. */
export async function untilInSync(brokers: string, namespace: string, node: number, timeoutMs: number): Promise<number | null> {
  const until = performance.now() + timeoutMs;
  while (performance.now() < until) {
    const parts = await replicasOf(brokers, namespace).catch(() => []);
    const held = parts.filter((p) => p.replicas.includes(node));
    if (held.length > 0 && held.every((p) => p.isr.includes(node))) return performance.now();
    await new Promise((r) => setTimeout(r, 250));
  }
  return null;
}

export interface KillableCluster {
  address: string;
  kill(id: number): Promise<void>;
  start(): Promise<void>;
}

/**
 * Kills the leader of the busiest partition under the running load, measures how long until
 * orders flow through that partition again, starts the broker again and measures how long
 * until it is back in sync. The load is the caller's: `placed` grows while this runs.
 */
export async function killLeader(o: {
  cluster: KillableCluster; namespace: string; client: Client; placed: readonly PlacedOrder[]; partitions: number;
  recoverWithinMs: number; say: (line: string) => void; signal?: AbortSignal;
}): Promise<LeaderKill> {
  const busiest = await busiestPartition(o.cluster.address, o.namespace);
  o.say(`leader kill: ${busiest.topic}[${busiest.partition}] carried the most records (${busiest.records}); its leader is node ${busiest.leader} (replicas ${busiest.replicas.join(',')}, in sync ${busiest.isr.join(',')}); kill -9 node ${busiest.leader}`);
  const fromIndex = o.placed.length;
  const killedAt = performance.now();
  await o.cluster.kill(busiest.leader);
  const back = await firstTerminalIn({ client: o.client, placed: o.placed, fromIndex, partition: busiest.partition, partitions: o.partitions, timeoutMs: o.recoverWithinMs, signal: o.signal });
  const recoverySeconds = back === null ? null : round(back - killedAt);
  o.say(`leader kill: orders through partition ${busiest.partition} flow again ${recoverySeconds === null ? 'never (within the wait)' : `${recoverySeconds} s after the kill`}; starting node ${busiest.leader} again`);
  const startedAt = performance.now();
  await o.cluster.start();
  const inSync = await untilInSync(o.cluster.address, o.namespace, busiest.leader, 120_000);
  const rejoinSeconds = inSync === null ? null : round(inSync - startedAt);
  o.say(`leader kill: node ${busiest.leader} ${rejoinSeconds === null ? 'not back in sync within 120 s' : `back in sync on all its partitions ${rejoinSeconds} s after its start`}`);
  return { ...busiest, recoverySeconds, rejoinSeconds };
}

const round = (ms: number) => Math.round(ms / 100) / 10;

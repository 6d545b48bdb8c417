/**
 * One chaos run: a fresh system of one architecture (throwaway data directory and
 * namespace), a catalog with scarce products, the steady load, the kills, then the load
 * stopped, every accepted order followed to its terminal status (the drain, timed) and every
 * invariant checked through the public API: nothing lost, nothing twice, nothing wrong.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Architecture } from '#platform/config.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { databaseServices, freePortsForAll, startSystem, type ServiceName, type System } from '#runtime/system.ts';
import { deploymentName, labSystemEnv, type DeploymentName } from './system-env.ts';
import { createClient, type Client, type OrderView } from './client.ts';
import { startOwnInfra, type OwnInfra } from './chaos-infra.ts';
import { killTargets, runKills, type Kill } from './chaos-kills.ts';
import { killLeader, type LeaderKill } from './leader-kill.ts';
import { placedOf, planOrder, startChaosLoad, type ChaosLoadCounts, type ChaosMix } from './chaos-load.ts';
import { checkInvariants, fetchAll, settledInvariants, UnexpectedAnswer, type PlacedOrder } from './invariants.ts';
import { createCatalog, random, replayPlaced } from './scenario.ts';

export interface ChaosRunOptions {
  kills: number;
  /** Orders per second. */
  rate: number;
  seed: number;
  /** Seconds between two kills: uniform in [min, max]. */
  gap: readonly [number, number];
  /** Services whose instances may be killed. */
  services: readonly ServiceName[];
  /** Instances of each backend service (startSystem's replicas). */
  replicas: number;
  kafka?: { brokers: string };
  postgres?: { url: string };
  /**
   * Restart a Kafka broker and/or a PostgreSQL server of the run's own (never the shared
   * ones) under load, after the kills, each down for `downSeconds`. Needs `cacheDir`, the
   * infra cache holding Kafka's jars.
   */
  infraRestarts?: { broker: boolean; postgres: boolean; downSeconds: number; cacheDir: string };
  /**
   * Kafka is a cluster of three KRaft nodes of the run's own (replication factor 3,
   * min.insync.replicas 2); after the kills, once the load has run `atSeconds`, the leader of
   * the busiest partition is SIGKILLed, the time until orders through it flow again measured,
   * and the node started again (leader-kill.ts). Needs `cacheDir` for Kafka's jars.
   */
  leaderKill?: { atSeconds: number; cacheDir: string };
  /** Seconds the load goes on after the last kill. */
  tailSeconds: number;
  /** Most seconds to wait, once the load stopped, for every accepted order to be terminal. */
  drainSeconds: number;
  /** Service output lines; dropped by default. */
  serviceLog?: (line: string) => void;
  say: (line: string) => void;
  signal?: AbortSignal;
  /** Told of the system once started (and undefined once stopped), so Ctrl-C can stop it. */
  onSystem?: (system: System | undefined) => void;
}

export interface ChaosResult extends Omit<ChaosLoadCounts, 'errors'> {
  arch: Architecture;
  deployment: DeploymentName;
  seed: number;
  rate: number;
  kills: Kill[];
  /** accepted at the first attempt / accepted; null when none was accepted. */
  firstAttemptShare: number | null;
  /** Out of retries during the load, accepted when sent once more after it (the system healthy). */
  acceptedLate: number;
  notAccepted: number;
  /** Failed attempts by kind. */
  errors: Record<string, number>;
  /** CONFIRMED, or CANCELLED and its reason, with their counts. */
  outcomes: Record<string, number>;
  /** Accepted orders never seen terminal (or unknown to the API) by the end of the drain. */
  lost: string[];
  /** Requests whose replay (same key) names another order than the one first answered, or two keys answered with one order. */
  duplicated: string[];
  violations: string[];
  /** Each infra restart: how long the server was away, and how long after it answered again every order accepted by then was terminal (null: not within the drain). */
  infraRestarts: Array<{ what: 'broker' | 'postgres'; downSeconds: number; backlog: number; backlogSeconds: number | null }>;
  /** The leader kill (--kill-leader): what was killed, the recovery and the rejoin. */
  leaderKill?: LeaderKill;
  /** From the load's end until every accepted order was terminal; null when some never were. */
  drainSeconds: number | null;
  loadSeconds: number;
  durationSeconds: number;
}

/** Scarce products run out early in a run; releases (declined, unserved) make them flicker. */
const PLENTIFUL = 5;
const SCARCE = 3;
const SCARCE_STOCK = 50;
const MIX = { declineRatio: 0.1, unservedRatio: 0.1 };
// A client gives an order this long (with the same key) before it stops trying.
const RETRY_FOR_MS = 60_000;

const seconds = (ms: number) => Math.round(ms / 100) / 10;
// Said, not inherited from the environment: the leader kill computes the orders' partition.
const PARTITIONS = 8;

export async function runChaos(arch: Architecture, o: ChaosRunOptions): Promise<ChaosResult> {
  const began = performance.now();
  // First, so that nothing below can fail before the try that stops them.
  let own: OwnInfra | undefined;
  if (o.infraRestarts?.broker || o.infraRestarts?.postgres || o.leaderKill) {
    const cacheDir = o.leaderKill?.cacheDir ?? o.infraRestarts!.cacheDir;
    own = await startOwnInfra({ kafka: !o.leaderKill && !!o.infraRestarts?.broker, cluster: o.leaderKill ? 3 : undefined, postgres: !!o.infraRestarts?.postgres, cacheDir, say: o.say });
    if (own.kafka) o = { ...o, kafka: { brokers: own.kafka.address } };
    if (own.cluster) o = { ...o, kafka: { brokers: own.cluster.address } };
    if (own.postgres) o = { ...o, postgres: { url: own.postgres.address } };
  }
  const dataDir = mkdtempSync(join(tmpdir(), `orderflow-chaos-${arch}-`));
  const namespace = `chaos_${arch}_${randomUUID().slice(0, 8)}`;
  const deployment = deploymentName(!!o.kafka, !!o.postgres);
  const env: Record<string, string> = { ...labSystemEnv({ arch, namespace, kafka: o.kafka, postgres: o.postgres }), ORDERFLOW_PARTITIONS: String(PARTITIONS) };
  let system: System | undefined;
  let client: Client | undefined;
  try {
    o.say(`chaos ${arch}: starting the system (${o.kafka ? 'Kafka' : 'embedded log'}, ${o.postgres ? 'PostgreSQL' : 'SQLite'})`);
    system = await startSystem({
      dataDir,
      replicas: o.replicas,
      env,
      ports: freePortsForAll,
      restart: true,
      stdio: o.serviceLog ? 'pipe' : 'ignore',
      log: o.serviceLog,
    });
    o.onSystem?.(system);
    client = createClient(system.gatewayUrl, 64, system.demoUsers);
    const stock = new Map([...await createCatalog(client, PLENTIFUL, 1_000_000), ...await createCatalog(client, SCARCE, SCARCE_STOCK)]);
    const mix: ChaosMix = { productIds: [...stock.keys()], ...MIX };
    const probe = await untilPriced(client, mix);

    const rnd = random(o.seed);
    const load = startChaosLoad({ client, mix, rate: o.rate, rnd, retryForMs: RETRY_FOR_MS });
    const loadStart = performance.now();
    o.say(`chaos ${arch}: load at ${o.rate}/s; ${o.kills} kills of ${o.services.join(', ')}, ${o.gap[0]}–${o.gap[1]} s apart (seed ${o.seed})`);
    let kills: Kill[] = [];
    const restarts: ChaosResult['infraRestarts'] = [];
    let leaderKill: LeaderKill | undefined;
    let n = 0;
    let loadEnd = loadStart;
    try {
      kills = await runKills({
        targets: killTargets(system, o.services),
        count: o.kills,
        gap: o.gap,
        // Its own sequence: the orders' mix does not shift with the kills.
        rnd: random(o.seed ^ 0x5bd1e995),
        signal: o.signal,
        // With replicas a service keeps one instance serving (the point of the second is that a
        // kill of one fails nothing): the next kill of it waits until the other serves again and
        // 3 s have passed since the last.
        spareMs: o.replicas > 1 ? 3_000 : 0,
        onKill: (k) => o.say(`chaos ${arch}: kill ${++n}/${o.kills} at ${k.t} s: ${k.name} (pid ${k.pid})`),
      });
      for (const what of ['broker', 'postgres'] as const) {
        const server = what === 'broker' ? own?.kafka : own?.postgres;
        if (!server || o.signal?.aborted) continue;
        o.say(`chaos ${arch}: restarting the ${what === 'broker' ? 'Kafka broker' : 'PostgreSQL server'} under load (down ${o.infraRestarts!.downSeconds} s)`);
        const down = performance.now();
        await server.restart(o.infraRestarts!.downSeconds * 1000);
        const back = performance.now();
        // The backlog: every order accepted by the time it is back; the load goes on meanwhile.
        const backlog = [...load.placed];
        const drained = await drain(client, backlog, back, o.drainSeconds * 1000);
        const r = { what, downSeconds: seconds(back - down), backlog: backlog.length, backlogSeconds: drained.pending.length > 0 ? null : seconds(drained.lastAt - back) };
        restarts.push(r);
        o.say(`chaos ${arch}: ${what} back after ${r.downSeconds} s; its backlog of ${r.backlog} orders terminal ${r.backlogSeconds ?? 'never'} s later`);
      }
      if (own?.cluster && o.leaderKill && !o.signal?.aborted) {
        // Traffic first: the busiest partition is the one that carried the most records.
        await sleep(o.leaderKill.atSeconds * 1000 - (performance.now() - loadStart), undefined, { signal: o.signal }).catch(() => undefined);
        leaderKill = await killLeader({ cluster: own.cluster, namespace, client, placed: load.placed, partitions: PARTITIONS, recoverWithinMs: 120_000, say: (line) => o.say(`chaos ${arch}: ${line}`), signal: o.signal });
      }
      await sleep(o.tailSeconds * 1000, undefined, { signal: o.signal }).catch(() => undefined);
    } finally {
      // The drain counts from here: orders still being retried are part of the backlog.
      loadEnd = performance.now();
      await load.stop();
    }
    const counts = load.counts();
    o.say(`chaos ${arch}: load stopped after ${seconds(loadEnd - loadStart)} s; ${counts.accepted} of ${counts.attempted} orders accepted ${seconds(performance.now() - loadEnd)} s later; waiting for the system and the orders to settle`);

    // Every instance back before the checks: details asks orders, payments and shipping.
    await system.waitHealthy(120_000);
    const placed = [probe, ...load.placed];
    const refused = load.unaccepted.filter((u) => u.refusal !== undefined);
    let acceptedLate = 0;
    // Out of retries while services were down: once more now. Answered, it is an order
    // (perhaps made by a lost earlier attempt) and counts; refused, it never existed.
    for (const u of load.unaccepted.filter((u) => u.refusal === undefined)) {
      const r = await client.placeOrder(u.plan.body, u.plan.key).catch(() => undefined);
      if ((r?.status === 201 || r?.status === 202) && typeof r.body?.id === 'string') {
        acceptedLate++;
        placed.push(placedOf(u.plan, r.body.id));
      }
    }
    const drained = await drain(client, placed, loadEnd, o.drainSeconds * 1000);
    const lost = new Set(drained.pending);
    const problems = lost.size > 0 ? await checkInvariants(client, { initialStock: stock, orders: placed }) : await settledInvariants(client, { initialStock: stock, orders: placed });
    // A lost order is counted as lost, not again as a violation ("not terminal").
    const violations = [
      ...problems.filter((p) => ![...lost].some((id) => p.startsWith(`order ${id} `))),
      ...refused.map((u) => `order ${u.plan.key} refused: ${u.refusal}`),
    ];
    const duplicated = lost.size > 0 ? [] : await replayPlaced(client, placed);
    if (new Set(placed.map((p) => p.id)).size !== placed.length) duplicated.push('two Idempotency-Keys were answered with the same order');
    return {
      arch,
      deployment,
      seed: o.seed,
      rate: o.rate,
      kills,
      ...counts,
      firstAttemptShare: counts.accepted > 0 ? counts.acceptedFirstAttempt / counts.accepted : null,
      acceptedLate,
      notAccepted: load.unaccepted.length - acceptedLate,
      outcomes: drained.outcomes,
      lost: [...lost],
      duplicated,
      violations,
      infraRestarts: restarts,
      ...(leaderKill ? { leaderKill } : {}),
      drainSeconds: lost.size > 0 ? null : seconds(drained.lastAt - loadEnd),
      loadSeconds: seconds(loadEnd - loadStart),
      durationSeconds: seconds(performance.now() - began),
    };
  } finally {
    await client?.close().catch(() => undefined);
    await system?.stop();
    o.onSystem?.(undefined);
    rmSync(dataDir, { recursive: true, force: true });
    // A server of the run's own goes with all it holds.
    if (own) await own.stop();
    if (o.postgres && !own?.postgres) {
      for (const service of databaseServices) await dropPostgresDatabase(o.postgres.url, serviceDatabaseName(namespace, service)).catch(() => undefined);
    }
  }
}

/**
 * Orders learns the catalog from inventory's events: one order of every product, retried
 * until it is priced, tells when the load can start without its first orders refused. The
 * probe is a real order: it is checked with the others.
 */
export async function untilPriced(client: Client, mix: ChaosMix): Promise<PlacedOrder> {
  const plan = planOrder(() => 0, mix, 0);
  plan.body.items = mix.productIds.map((productId) => ({ productId, quantity: 1 }));
  for (let tries = 0; ; tries++) {
    const r = await client.placeOrder(plan.body, plan.key);
    if ((r.status === 201 || r.status === 202) && typeof r.body?.id === 'string') return placedOf(plan, r.body.id);
    if (tries > 600) throw UnexpectedAnswer(`the catalog never reached orders: ${r.status} ${JSON.stringify(r.body)}`);
    await sleep(100);
  }
}

/**
 * Polls the orders not yet terminal until none is left or `timeoutMs` passed since
 * `from`; an order the API cannot answer for stays pending. Returns the outcomes, what is
 * still pending, and when the last order was seen terminal.
 */
async function drain(client: Client, placed: PlacedOrder[], from: number, timeoutMs: number): Promise<{ outcomes: Record<string, number>; pending: string[]; lastAt: number }> {
  const outcomes: Record<string, number> = {};
  let pending = placed.map((p) => p.id);
  let lastAt = from;
  while (pending.length > 0) {
    const views = await fetchAll(pending, (id) => client.order(id).then((r) => (r.status === 200 ? (r.body as OrderView) : undefined), () => undefined));
    const now = performance.now();
    const still: string[] = [];
    views.forEach((v, i) => {
      if (v && (v.status === 'CONFIRMED' || v.status === 'CANCELLED')) {
        const outcome = v.status === 'CANCELLED' ? `CANCELLED ${v.reason ?? '-'}` : v.status;
        outcomes[outcome] = (outcomes[outcome] ?? 0) + 1;
        lastAt = now;
      } else still.push(pending[i]);
    });
    pending = still;
    if (pending.length === 0 || now - from > timeoutMs) break;
    await sleep(250);
  }
  return { outcomes, pending, lastAt };
}

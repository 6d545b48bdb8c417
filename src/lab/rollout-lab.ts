/**
 * `orderflow lab rollout`: is a rollout really without downtime? Starts the system with two
 * instances of every backend service, loads it at a fixed rate (the open model: arrivals do
 * not wait for answers), rolls out every instance one by one (System.rollout), and counts
 * every request that failed, at its first and only attempt: the load never retries, so a
 * failure the system hid from nobody is counted. Half the orders carry an Idempotency-Key
 * (which lets the gateway send one to another instance when the first could not answer),
 * half do not (the gateway may then resend one only when it surely never arrived: it must
 * reach an instance that serves it); reads are the catalog and an order by id.
 * Then it waits for every accepted order to be terminal and checks the invariants: nothing
 * lost, nothing made twice (replayPlaced), every invariant of DESIGN.md holding. Latency is
 * counted from each request's due time, before, during and after the rollout.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Architecture } from '#platform/config.ts';
import type { RolloutReport } from '#runtime/rollout.ts';
import { freePortsForAll, startSystem, type System } from '#runtime/system.ts';
import { deploymentName, labSystemEnv, type DeploymentName } from './system-env.ts';
import { planOrder, placedOf, type ChaosMix } from './chaos-load.ts';
import { untilPriced } from './chaos-run.ts';
import { createClient, type Client, type OrderView } from './client.ts';
import { checkInvariants, fetchAll, type PlacedOrder } from './invariants.ts';
import { errorKind, networkErrorKind } from './order-run.ts';
import { pace } from './pacer.ts';
import { createCatalog, random, replayPlaced } from './scenario.ts';
import { summarize, type Summary } from './stats.ts';

export interface RolloutLabOptions {
  arch: Architecture;
  /** Requests a second: half orders, half reads. */
  rate: number;
  /** Seconds of load to warm the system up (a fresh system is slower: JIT, caches, groups settling), not in the baseline. */
  warmupSeconds?: number;
  /** Seconds of load before the rollout (the baseline) and after it. */
  beforeSeconds: number;
  afterSeconds: number;
  replicas: number;
  /** Only these services' instances are rolled out (default all). */
  services?: readonly string[];
  /** Most seconds to wait for the accepted orders to be terminal once the load stopped. */
  drainSeconds: number;
  kafka?: { brokers: string };
  postgres?: { url: string };
  say(line: string): void;
  /** The services' own lines (--verbose); dropped when absent. */
  serviceLog?: (line: string) => void;
}

export interface RolloutLabResult {
  arch: Architecture;
  deployment: DeploymentName;
  rate: number;
  replicas: number;
  requests: { sent: number; failed: number; byKind: Record<string, number>; firstFailures: string[] };
  orders: { accepted: number; lost: string[]; duplicated: string[]; violations: string[] };
  /** Milliseconds from each request's due time to its answer, by when it was due (the warm-up in none). */
  latency: { before: Summary; during: Summary; after: Summary };
  rollout: RolloutReport;
  durationSeconds: number;
}

const MIX = { declineRatio: 0.1, unservedRatio: 0.1 };
const seconds = (ms: number) => Math.round(ms / 100) / 10;

export async function runRolloutLab(o: RolloutLabOptions): Promise<RolloutLabResult> {
  const began = performance.now();
  const dataDir = mkdtempSync(join(tmpdir(), `orderflow-rollout-${o.arch}-`));
  const deployment = deploymentName(!!o.kafka, !!o.postgres);
  const env = labSystemEnv({ arch: o.arch, namespace: `rollout_${o.arch}_${randomUUID().slice(0, 8)}`, kafka: o.kafka, postgres: o.postgres });
  let system: System | undefined;
  let client: Client | undefined;
  try {
    o.say(`rollout lab: starting the system, ${o.replicas} instances of each service (${o.kafka ? 'Kafka' : 'embedded log'}, ${o.postgres ? 'PostgreSQL' : 'SQLite'})`);
    system = await startSystem({ dataDir, replicas: o.replicas, env, ports: freePortsForAll, restart: true, stdio: o.serviceLog ? 'pipe' : 'ignore', log: o.serviceLog });
    client = createClient(system.gatewayUrl, 64, system.demoUsers);
    const stock = await createCatalog(client, 5, 1_000_000);
    const mix: ChaosMix = { productIds: [...stock.keys()], ...MIX };
    const placed: PlacedOrder[] = [await untilPriced(client, mix)];
    const load = startLoad(client, mix, o.rate, placed);

    o.say(`rollout lab: load at ${o.rate} requests/s (half orders, half reads), ${o.warmupSeconds ?? 0} s of warm-up, then ${o.beforeSeconds} s before the rollout`);
    await sleep((o.warmupSeconds ?? 0) * 1000);
    const baselineStart = performance.now();
    await sleep(o.beforeSeconds * 1000);
    const rolloutStart = performance.now();
    const rollout = await system.rollout({ log: (line) => o.say(`rollout lab: ${line}`), services: o.services });
    const rolloutEnd = performance.now();
    o.say(`rollout lab: rolled out in ${seconds(rolloutEnd - rolloutStart)} s; ${o.afterSeconds} s more load`);
    await sleep(o.afterSeconds * 1000);
    await load.stop();

    const terminal = await untilTerminal(client, placed, o.drainSeconds * 1000);
    const lost = placed.filter((p) => !terminal.has(p.id)).map((p) => `order ${p.id}: not terminal ${o.drainSeconds} s after the load`);
    const violations = lost.length > 0 ? [] : await checkInvariants(client, { initialStock: stock, orders: placed });
    const duplicated = await replayPlaced(client, placed.filter((p) => p.request !== undefined));
    if (new Set(placed.map((p) => p.id)).size !== placed.length) duplicated.push('two Idempotency-Keys were answered with the same order');
    const phase = (from: number, to: number) => summarize(load.samples.filter((s) => s.due >= from && s.due < to).map((s) => s.ms));
    return {
      arch: o.arch,
      deployment,
      rate: o.rate,
      replicas: o.replicas,
      requests: { sent: load.samples.length, failed: load.failures.length, byKind: tally(load.failures.map((f) => f.kind)), firstFailures: load.failures.slice(0, 20).map((f) => `${f.what}: ${f.kind}${f.message ? ` (${f.message})` : ''}`) },
      orders: { accepted: placed.length, lost, duplicated, violations },
      latency: { before: phase(baselineStart, rolloutStart), during: phase(rolloutStart, rolloutEnd), after: phase(rolloutEnd, Infinity) },
      rollout,
      durationSeconds: seconds(performance.now() - began),
    };
  } finally {
    await client?.close();
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

interface Sample { due: number; ms: number }
interface Failure { what: string; kind: string; message?: string }

/** The fixed-rate load: even arrivals place an order (every other one without a key), odd ones read; nothing is retried. */
function startLoad(client: Client, mix: ChaosMix, rate: number, placed: PlacedOrder[]) {
  const samples: Sample[] = [];
  const failures: Failure[] = [];
  const rnd = random(7);
  const abort = new AbortController();
  let n = 0;
  async function send(due: number): Promise<void> {
    const i = n++;
    let what: string;
    let ok = false;
    let kind = '';
    let message: string | undefined;
    try {
      if (i % 2 === 0) {
        const plan = planOrder(rnd, mix, i);
        const keyed = i % 4 === 0;
        what = `POST /api/orders${keyed ? '' : ' (no Idempotency-Key)'}`;
        const r = await client.placeOrder(plan.body, keyed ? plan.key : undefined);
        ok = (r.status === 201 || r.status === 202) && typeof r.body?.id === 'string';
        message = (r.body as { error?: { message?: string } } | undefined)?.error?.message;
        // An order without a key has no request to replay (replayPlaced): a replay would make another.
        if (ok) placed.push(keyed ? placedOf(plan, r.body.id) : { ...placedOf(plan, r.body.id), request: undefined });
        else kind = errorKind(r.status, r.body);
      } else if (i % 4 === 1 || placed.length === 0) {
        what = 'GET /api/products';
        const r = await client.products();
        ok = r.status === 200;
        if (!ok) kind = errorKind(r.status, r.body);
      } else {
        const id = placed[Math.floor(rnd() * placed.length)].id;
        what = `GET /api/orders/${id}`;
        const r = await client.order(id);
        ok = r.status === 200;
        if (!ok) kind = errorKind(r.status, r.body);
      }
    } catch (err) {
      what ??= 'request';
      kind = networkErrorKind(err);
      message = (err as Error).message;
    }
    samples.push({ due, ms: performance.now() - due });
    if (!ok) failures.push({ what: what!, kind, message });
  }
  const paced = pace({ rate, seconds: Infinity, send, overload: (due) => failures.push({ what: `request due at ${Math.round(due)}`, kind: 'not sent: too many in flight' }), signal: abort.signal });
  return {
    samples,
    failures,
    async stop() {
      abort.abort();
      await paced;
      // The pacer does not hold its sends: give the last ones the time of a slow answer.
      const deadline = performance.now() + 35_000;
      while (samples.length < n && performance.now() < deadline) await sleep(50);
    },
  };
}


/** Polls until every order is CONFIRMED or CANCELLED or the time is up; returns the terminal ones' ids. */
async function untilTerminal(client: Client, placed: PlacedOrder[], timeoutMs: number): Promise<Set<string>> {
  const done = new Set<string>();
  const deadline = performance.now() + timeoutMs;
  while (done.size < placed.length && performance.now() < deadline) {
    const pending = placed.filter((p) => !done.has(p.id)).map((p) => p.id);
    const views = await fetchAll(pending, (id) => client.order(id).then((r) => (r.status === 200 ? (r.body as OrderView) : undefined), () => undefined));
    for (const v of views) if (v && v.status !== 'PENDING') done.add(v.id);
    if (done.size < placed.length) await sleep(250);
  }
  return done;
}

const tally = (xs: string[]) => xs.reduce<Record<string, number>>((t, x) => ({ ...t, [x]: (t[x] ?? 0) + 1 }), {});

/** Nothing failed, nothing lost or made twice, every invariant held. */
export const rolloutPassed = (r: RolloutLabResult): boolean =>
  r.requests.failed === 0 && r.orders.lost.length === 0 && r.orders.duplicated.length === 0 && r.orders.violations.length === 0;

const lat = (s: Summary) => (s.count === 0 ? '-' : `p50 ${s.p50.toFixed(1)} ms, p99 ${s.p99.toFixed(1)} ms, max ${s.max.toFixed(0)} ms (${s.count} requests)`);

export function formatRolloutLab(r: RolloutLabResult): string {
  const sample = (title: string, xs: string[]) => (xs.length === 0 ? [] : [`  ${title}:`, ...xs.slice(0, 10).map((x) => `    ${x}`)]);
  return [
    `rollout ${r.arch} on the ${r.deployment} deployment, ${r.replicas} instances a service: ${rolloutPassed(r) ? 'PASSED' : 'FAILED'}`,
    `  rollout     ${r.rollout.steps.length} instances in ${seconds(r.rollout.durationMs)} s`,
    `  requests    ${r.requests.sent} at ${r.rate}/s, failed ${r.requests.failed}${r.requests.failed ? ` (${Object.entries(r.requests.byKind).map(([k, n]) => `${k} ${n}`).join(', ')})` : ''}`,
    `  orders      accepted ${r.orders.accepted}, lost ${r.orders.lost.length}, duplicated ${r.orders.duplicated.length}, violations ${r.orders.violations.length}`,
    `  before      ${lat(r.latency.before)}`,
    `  during      ${lat(r.latency.during)}`,
    `  after       ${lat(r.latency.after)}`,
    `  duration    ${r.durationSeconds} s`,
    ...sample('failed requests', r.requests.firstFailures),
    ...sample('lost', r.orders.lost),
    ...sample('duplicated', r.orders.duplicated),
    ...sample('violations', r.orders.violations),
  ].join('\n');
}

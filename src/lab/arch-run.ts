/**
 * One architecture in the lab: a fresh system of its own, a catalog, a warm-up, the rate
 * ladder up to saturation, the knee, the fault scenarios, and everything stopped again.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { openBus } from '#platform/bus/open.ts';
import type { Bus } from '#platform/bus/bus.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { defineError } from '#platform/errors.ts';
import { silentLogger } from '#platform/log.ts';
import { databaseServices, freePortsForAll, startSystem, type System } from '#runtime/system.ts';
import { archLabel, type Architecture, type ArchResult, type StepResult } from './lab-result.ts';
import { createClient, type Client } from './client.ts';
import { runFault, type FaultTiming, type Scenario } from './faults.ts';
import { knee, shouldStop } from './knee.ts';
import { trackCompletions, type CompletionTracker, type OrderMix } from './load.ts';
import type { Progress } from './progress.ts';
import { openPgStats, type PgStatsReader } from './pg-stats.ts';
import { infraProcesses } from './infra-processes.ts';
import { runStep, type LabTarget } from './step.ts';
import { labSystemEnv } from './system-env.ts';

export interface ArchRunOptions {
  rates: number[];
  stepSeconds: number;
  warmupSeconds: number;
  stepDrainSeconds: number;
  faults: Scenario[];
  /** Fixed fault rate; by default half the knee, at least 20/s. */
  faultRate?: number;
  faultSeconds: number;
  faultTiming: FaultTiming;
  kafka?: { brokers: string };
  postgres?: { url: string };
  /** The Kafka Connect worker relaying the outbox (ORDERFLOW_RELAY=debezium), whose CPU is the system's too. */
  connectUrl?: string;
  /**
   * Tracing on: every service exports its spans to the Zipkin at `url` (its base URL), and
   * Zipkin's CPU is the system's too. Absent: tracing off, whatever the environment says.
   */
  zipkin?: { url: string };
  partitions: number;
  /** Products a shopper views before each order (client events, for analytics); 0 for orders alone. */
  viewsPerOrder: number;
  /** Instances of each backend service (the system's replicas); default 1. */
  replicas?: number;
  progress: Progress;
  /** Where to say what happens (stderr). */
  say: (line: string) => void;
  /** Service output lines; dropped by default. */
  serviceLog?: (line: string) => void;
  signal?: AbortSignal;
  /** Told of each system started, so Ctrl-C can stop it. */
  onSystem?: (system: System | undefined) => void;
}

export const PRODUCTS = 20;

const CatalogFailed = defineError('PLT_ERR_LAB_CATALOG', 500);

export function faultRateFor(kneeRate: number | null, fixed?: number): number {
  if (fixed !== undefined) return fixed;
  return Math.max(20, Math.round((kneeRate ?? 0) / 2));
}

export async function runArch(arch: Architecture, o: ArchRunOptions): Promise<ArchResult> {
  const variant = o.zipkin ? ('tracing' as const) : undefined;
  const name = archLabel({ arch, variant });
  const dataDir = mkdtempSync(join(tmpdir(), `orderflow-lab-${arch}-`));
  const namespace = `lab_${arch}_${randomUUID().slice(0, 8)}`;
  const env: Record<string, string> = {
    ...labSystemEnv({ arch, namespace, kafka: o.kafka, postgres: o.postgres, zipkin: o.zipkin }),
    ORDERFLOW_FAULTS: '1',
    ORDERFLOW_PARTITIONS: String(o.partitions),
    // The deadline the outage-past-deadline scenario outlasts (the orders default in a full run).
    ORDERS_STEP_DEADLINE_MS: String(o.faultTiming.deadline * 1000),
  };

  let system: System | undefined;
  let client: Client | undefined;
  let bus: Bus | undefined;
  let tracker: CompletionTracker | undefined;
  let pgStats: PgStatsReader | undefined;
  try {
    o.say(`${name}: starting the system (${o.kafka ? 'Kafka' : 'embedded log'}, ${o.postgres ? 'PostgreSQL' : 'SQLite'}${o.zipkin ? `, spans to Zipkin at ${o.zipkin.url}` : ''})`);
    system = await startSystem({
      dataDir,
      env,
      ports: freePortsForAll,
      replicas: o.replicas,
      restart: true,
      stdio: o.serviceLog ? 'pipe' : 'ignore',
      log: o.serviceLog,
    });
    o.onSystem?.(system);
    client = createClient(system.gatewayUrl, 512, system.demoUsers);
    if (arch !== 'rest') {
      bus = await openBus(loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir }), 'lab', silentLogger);
      tracker = await trackCompletions(bus, 'orders.events');
    }
    const mix = { ...(await createCatalog(client)), viewsPerOrder: o.viewsPerOrder };
    const extra = [{ name: 'lab', pids: () => [process.pid] }, ...(await infraProcesses({ kafkaBrokers: o.kafka?.brokers, postgresUrl: o.postgres?.url, connectUrl: o.connectUrl, zipkinUrl: o.zipkin?.url }))];
    if (o.zipkin && !extra.some((p) => p.name === 'zipkin')) o.say(`${name}: Zipkin at ${o.zipkin.url} is not a process of this machine: its CPU is not counted`);
    if (o.postgres) {
      const databases = databaseServices.map((s) => serviceDatabaseName(namespace, s));
      pgStats = await openPgStats(o.postgres.url, databases);
    }
    const target: LabTarget = { arch, system, client, tracker: tracker ?? null, bus: bus ?? null, mix, extraProcesses: extra, progress: o.progress, pgStats: pgStats ?? null };

    if (o.warmupSeconds > 0) {
      o.say(`${name}: warm-up, ${o.warmupSeconds} s at ${o.rates[0]}/s`);
      await runStep(target, o.rates[0], o.warmupSeconds, { label: `${name} warm-up`, drainMs: o.stepDrainSeconds * 1000, signal: o.signal });
    }
    const steps: StepResult[] = [];
    for (const rate of o.rates) {
      if (o.signal?.aborted) break;
      const step = await runStep(target, rate, o.stepSeconds, { label: `${name} ${rate}/s`, drainMs: o.stepDrainSeconds * 1000, signal: o.signal });
      // A step cut short by Ctrl-C measured a rate it did not hold: left out.
      if (o.signal?.aborted) break;
      steps.push(step);
      o.say(`${name} ${rate}/s: ${describe(step)}`);
      if (shouldStop(steps)) break;
    }
    const found = knee(steps);
    o.say(`${name}: knee ${found ? `${found.rate}/s` : 'none (no healthy step)'}`);

    const faults = [];
    const faultRate = faultRateFor(found?.rate ?? null, o.faultRate);
    for (const scenario of o.faults) {
      if (o.signal?.aborted) break;
      o.say(`${name}: fault ${scenario} on payments at ${faultRate}/s for ${o.faultSeconds} s`);
      const f = await runFault(target, scenario, faultRate, o.faultSeconds, o.faultTiming, o.signal);
      if (o.signal?.aborted) break;
      o.say(`${name} ${scenario}: accepted ${f.accepted}, completed ${f.completed} (timed out ${f.timedOut ?? 0}), lost ${f.lost}, failed ${f.failed}, recover ${f.recoverSeconds ?? '-'} s, drain ${f.drainSeconds ?? '-'} s`);
      faults.push(f);
    }
    return { arch, ...(variant ? { variant } : {}), steps, knee: found?.rate ?? null, kneeStep: found?.step ?? null, faults };
  } finally {
    await pgStats?.close();
    await tracker?.close().catch(() => undefined);
    await bus?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await system?.stop();
    o.onSystem?.(undefined);
    rmSync(dataDir, { recursive: true, force: true });
    if (o.postgres) {
      for (const service of databaseServices) await dropPostgresDatabase(o.postgres.url, serviceDatabaseName(namespace, service)).catch(() => undefined);
    }
  }
}

function describe(s: StepResult): string {
  const errors = Object.entries(s.errors).map(([k, v]) => `${k} ${v}`).join(', ');
  return `offered ${s.offeredRate}/s, completed ${s.completedRate}/s, completion p50 ${s.completion.p50.toFixed(0)} p99 ${s.completion.p99.toFixed(0)} ms, errors ${(s.errorRatio * 100).toFixed(2)} %${errors ? ` (${errors})` : ''}${s.healthy ? '' : ', unhealthy'}`;
}

/** Products with stock enough that OUT_OF_STOCK stays rare; resolves once orders prices them. */
export async function createCatalog(client: Client): Promise<OrderMix> {
  const productIds: string[] = [];
  const run = randomUUID().slice(0, 6);
  for (let i = 0; i < PRODUCTS; i++) {
    const r = await client.createProduct({ sku: `LAB-${run}-${i}`, name: `Lab product ${i}`, priceCents: 500 + i, stock: 1_000_000_000 });
    if (r.status !== 201) throw CatalogFailed(`creating a product answered ${r.status} ${JSON.stringify(r.body)}`);
    productIds.push(r.body.id);
  }
  // The orders service learns the catalog from inventory's events: wait until it prices orders.
  for (let tries = 0; ; tries++) {
    const r = await client.placeOrder({ items: [{ productId: productIds[PRODUCTS - 1], quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } });
    if (r.status === 202 || r.status === 201) break;
    if (tries > 300) throw CatalogFailed(`the catalog never reached orders: ${r.status} ${JSON.stringify(r.body)}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { productIds, declineRatio: 0.05, unservedRatio: 0.05 };
}

/**
 * `npm run bench`: end-to-end saga throughput and latency on both deployments, written to
 * BENCHMARKS.md. Per deployment: a warm-up, a fixed arrival rate (open model) for the
 * completion latency, and a closed loop at saturation for the completed orders/s.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { randomUUID } from 'node:crypto';
import { openBus } from '#platform/bus/open.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { silentLogger } from '#platform/log.ts';
import { databaseServices, freePortsForAll, serviceNames, startSystem, unlimitedGateway, type System } from '#runtime/system.ts';
import { createClient } from './client.ts';
import { benchDeploymentEnv, loadLabEnv } from './config.ts';
import { medianCost } from './cost.ts';
import { openCostWindow } from './cost-window.ts';
import type { StepCost } from './lab-result.ts';
import { runClosed, runOpen, trackCompletions, type RunResult } from './load.ts';
import { openPgStats, type PgStatsReader } from './pg-stats.ts';
import { COST_NOTE, EMBEDDED_COST_NOTE, cpuTable, tripsTable, type CostRow } from './report/cost-tables.ts';
import { markdownTable } from './report/markdown.ts';
import { infraProcesses } from './infra-processes.ts';
import type { Watched } from './sampler.ts';
import { median, summarize } from './stats.ts';
import { scrapeAll } from './step.ts';

interface DeploymentResult {
  deployment: string;
  rate: number;
  concurrency: number;
  /** One entry per repetition; the report shows the median of each figure over them. */
  fixed: CostedRun[];
  saturation: CostedRun[];
}

/** A run with what one of its orders cost, counted from its start until its orders were done. */
type CostedRun = RunResult & { cost: StepCost | null };

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '-');

export async function benchCommand(argv: string[]): Promise<void> {
  const { values } = parseArgs({
    args: argv,
    options: {
      deployments: { type: 'string', default: 'embedded,distributed' },
      rate: { type: 'string', default: '300' },
      seconds: { type: 'string', default: '20' },
      concurrency: { type: 'string', default: '128' },
      warmup: { type: 'string', default: '5' },
      out: { type: 'string', default: 'BENCHMARKS.md' },
      partitions: { type: 'string', default: '8' },
      runs: { type: 'string', default: '3' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: orderflow bench [--deployments embedded,distributed] [--rate 300] [--seconds 20]
       [--concurrency 128] [--warmup 5] [--partitions 8] [--runs 3] [--out BENCHMARKS.md]
  Starts the whole system on each deployment (distributed needs KAFKA_BROKERS and DATABASE_URL),
  runs a warm-up, then --runs times a fixed arrival rate (open model) and a closed loop at
  saturation, and writes the medians into --out, keeping the text around it.`);
    return;
  }
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  const warmup = Number(values.warmup);
  const runs = Number(values.runs);
  const labEnv = loadLabEnv();
  const results: DeploymentResult[] = [];
  for (const deployment of values.deployments!.split(',')) {
    // The gateway's rate limits off: the load comes from one address (and soon one token).
    const env = benchDeploymentEnv(deployment, labEnv, { LOG_LEVEL: 'warn', ORDERFLOW_PARTITIONS: values.partitions!, ...unlimitedGateway }, `bench_${randomUUID().slice(0, 8)}`);
    if (!env) {
      console.log('skipping distributed: set KAFKA_BROKERS and DATABASE_URL (npm run infra:kafka, npm run infra:postgres)');
      continue;
    }
    console.log(`\n== ${deployment} ==`);
    results.push(await benchDeployment(deployment, env, { rate, seconds, concurrency, warmup, runs }));
  }
  const md = report(results, { seconds, runs, argv });
  writeFileSync(values.out!, mergeInto(existsSync(values.out!) ? readFileSync(values.out!, 'utf8') : undefined, md));
  console.log(`\n${md}\nwritten to ${values.out}`);
}

async function benchDeployment(deployment: string, env: Record<string, string>, o: { rate: number; seconds: number; concurrency: number; warmup: number; runs: number }): Promise<DeploymentResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-bench-'));
  const system = await startSystem({ dataDir, env, ports: freePortsForAll, stdio: 'pipe' });
  const client = createClient(system.gatewayUrl, 256, system.demoUsers);
  const bus = await openBus(loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir }), 'bench', silentLogger);
  const distributed = env.ORDERFLOW_STORE === 'postgres';
  let pgStats: PgStatsReader | undefined;
  try {
    if (distributed) pgStats = await openPgStats(env.DATABASE_URL, databaseServices.map((s) => serviceDatabaseName(env.ORDERFLOW_NAMESPACE, s)));
    const watched = await benchProcesses(system, distributed ? env : undefined);
    const costed = async (run: () => Promise<RunResult>): Promise<CostedRun> => {
      const window = await openCostWindow({ watched, scrape: () => scrapeAll(system), pgStats });
      const r = await run();
      return { ...r, cost: await window.close(r.completed) };
    };
    const productIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await client.createProduct({ sku: `BENCH-${i}`, name: `Bench product ${i}`, priceCents: 500 + i, stock: 100_000_000 });
      if (r.status !== 201) throw new Error(`create product: ${r.status} ${JSON.stringify(r.body)}`);
      productIds.push(r.body.id);
    }
    const tracker = await trackCompletions(bus, 'orders.events');
    // The orders service learns the catalog from inventory's events: wait until it prices orders.
    for (let tries = 0; ; tries++) {
      const r = await client.placeOrder({ items: [{ productId: productIds[productIds.length - 1], quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } });
      if (r.status === 202) break;
      if (tries > 200) throw new Error(`catalog never reached orders: ${JSON.stringify(r.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const mix = { productIds, declineRatio: 0.05, unservedRatio: 0.05 };
    console.log(`warm-up: ${o.warmup} s at 100 orders/s`);
    await runOpen(client, tracker, mix, 100, o.warmup);
    const result: DeploymentResult = { deployment, rate: o.rate, concurrency: o.concurrency, fixed: [], saturation: [] };
    for (let run = 1; run <= o.runs; run++) {
      console.log(`run ${run}/${o.runs}: fixed rate ${o.rate} orders/s for ${o.seconds} s`);
      result.fixed.push(await costed(() => runOpen(client, tracker, mix, o.rate, o.seconds)));
      line(result.fixed.at(-1)!);
      console.log(`run ${run}/${o.runs}: saturation, ${o.concurrency} concurrent clients for ${o.seconds} s`);
      result.saturation.push(await costed(() => runClosed(client, tracker, mix, o.concurrency, o.seconds)));
      line(result.saturation.at(-1)!);
    }
    await tracker.close();
    return result;
  } finally {
    await pgStats?.close();
    await bus.close().catch(() => undefined);
    await client.close().catch(() => undefined);
    await system.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (env.ORDERFLOW_STORE === 'postgres') {
      for (const service of databaseServices) {
        await dropPostgresDatabase(env.DATABASE_URL, serviceDatabaseName(env.ORDERFLOW_NAMESPACE, service)).catch(() => undefined);
      }
    }
  }
}

/** The five services, the bench itself (apart from the system's total) and, distributed, Kafka and PostgreSQL. */
async function benchProcesses(system: System, distributed: Record<string, string> | undefined): Promise<Watched[]> {
  return [
    ...serviceNames.map((name) => ({ name, pids: () => { const pid = system.pid(name); return pid === undefined ? [] : [pid]; } })),
    { name: 'lab', pids: () => [process.pid] },
    ...(await infraProcesses({ kafkaBrokers: distributed?.KAFKA_BROKERS, postgresUrl: distributed?.DATABASE_URL })),
  ];
}

/** The per-order cost tables: one row per deployment and load, each figure the median over the runs. */
export function costTables(results: Array<{ deployment: string; rate: number; concurrency: number; fixed: Array<{ cost?: StepCost | null }>; saturation: Array<{ cost?: StepCost | null }> }>): string {
  const rows: CostRow[] = results.flatMap((d) => [
    { labels: [d.deployment, `fixed ${d.rate}/s`], cost: medianCost(d.fixed.map((r) => r.cost)) },
    { labels: [d.deployment, `saturation, ${d.concurrency} clients`], cost: medianCost(d.saturation.map((r) => r.cost)) },
  ]).filter((r): r is CostRow => r.cost !== null);
  if (!rows.length) return '';
  return [
    'Per-order cost, CPU ms by process (median over the runs):',
    '',
    markdownTable(cpuTable({ headers: ['deployment', 'load'], numeric: false }, rows)),
    '',
    'Per-order cost, database statements and commits, Kafka requests by API (median over the runs):',
    '',
    markdownTable(tripsTable({ headers: ['deployment', 'load'], numeric: false }, rows)),
    '',
    `${COST_NOTE} ${EMBEDDED_COST_NOTE}`,
    '',
  ].join('\n');
}

function line(r: RunResult) {
  const c = summarize(r.completion);
  console.log(`  offered ${r.offered}, accepted ${r.accepted}, completed ${r.completed} (${fmt(r.completed / r.seconds)}/s), completion p50 ${fmt(c.p50)} ms p99 ${fmt(c.p99)} ms, errors ${JSON.stringify(r.errors)}`);
}

/** The figures of one run, and their medians over the runs. */
function figures(r: RunResult) {
  const a = summarize(r.accept);
  const c = summarize(r.completion);
  return { rate: r.completed / r.seconds, acceptP50: a.p50, acceptP99: a.p99, p50: c.p50, p99: c.p99, max: c.max };
}

function medianFigures(runs: RunResult[]) {
  const all = runs.map(figures);
  const pick = (k: keyof ReturnType<typeof figures>) => median(all.map((f) => f[k]));
  return { rate: pick('rate'), acceptP50: pick('acceptP50'), acceptP99: pick('acceptP99'), p50: pick('p50'), p99: pick('p99'), max: pick('max'), rates: all.map((f) => fmt(f.rate)).join(', ') };
}

function report(results: DeploymentResult[], o: { seconds: number; runs: number; argv: string[] }): string {
  const cpu = cpus();
  const row = (deployment: string, load: string, runs: RunResult[], bold: boolean) => {
    const m = medianFigures(runs);
    const rate = bold ? `**${fmt(m.rate)}**` : fmt(m.rate);
    const errors = runs.map(errorsOf).filter((e) => e !== '0');
    return `| ${deployment} | ${load} | ${rate} (${m.rates}) | ${fmt(m.acceptP50)} / ${fmt(m.acceptP99)} | ${fmt(m.p50)} / ${fmt(m.p99)} | ${fmt(m.max)} | ${errors.length ? errors.join('; ') : '0'} |`;
  };
  const rows = results.flatMap((d) => [
    row(d.deployment, `fixed ${d.rate}/s (open)`, d.fixed, false),
    row(d.deployment, `saturation, ${d.concurrency} clients (closed)`, d.saturation, true),
  ]);
  return [
    'End-to-end order saga (events architecture): POST /api/orders through the gateway until the',
    "order's terminal event (OrderConfirmed or OrderCancelled) is on the bus. 90% of orders are",
    'confirmed, 5% declined, 5% unserved (both compensated). Everything on one machine: the five',
    'service processes, the load generator, and on the distributed deployment Kafka and PostgreSQL.',
    '',
    `Command: \`npm run bench${o.argv.length ? ' -- ' + o.argv.join(' ') : ''}\`  `,
    `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}, Node ${process.version}  `,
    `Date: ${new Date().toISOString().slice(0, 10)}; ${o.runs} runs of ${o.seconds} s per load after a warm-up; each figure is the median over the runs`,
    '(completed orders/s of every run in brackets). Latencies in ms, from the time a request was due (open model) or sent (closed).',
    '',
    '| deployment | load | completed orders/s (runs) | HTTP answer p50 / p99 | completion p50 / p99 | completion max | errors |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
    costTables(results),
  ].join('\n');
}

const START = '<!-- bench:start (written by npm run bench) -->';
const END = '<!-- bench:end -->';

/** Replaces the measured part of an existing report and keeps the prose written around it. */
export function mergeInto(existing: string | undefined, measured: string): string {
  const block = `${START}\n${measured.trim()}\n${END}`;
  const from = existing?.indexOf(START) ?? -1;
  const to = existing?.indexOf(END) ?? -1;
  if (existing === undefined || from < 0 || to < from) return `# Benchmarks\n\n${block}\n`;
  return existing.slice(0, from) + block + existing.slice(to + END.length);
}

function errorsOf(r: RunResult): string {
  const e = Object.entries(r.errors);
  return e.length ? e.map(([k, v]) => `${k}: ${v}`).join(', ') : '0';
}

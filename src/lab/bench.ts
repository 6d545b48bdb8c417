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
import { startSystem } from '#runtime/system.ts';
import { createClient } from './client.ts';
import { loadLabEnv } from './config.ts';
import { runClosed, runOpen, trackCompletions, type RunResult } from './load.ts';
import { summarize } from './stats.ts';

interface DeploymentResult {
  deployment: string;
  fixed: { rate: number; result: RunResult };
  saturation: { concurrency: number; result: RunResult };
}

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
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: orderflow bench [--deployments embedded,distributed] [--rate 300] [--seconds 20]
       [--concurrency 128] [--warmup 5] [--partitions 8] [--out BENCHMARKS.md]
  Starts the whole system on each deployment (distributed needs KAFKA_BROKERS and DATABASE_URL),
  runs a warm-up, a fixed arrival rate (open model) and a closed loop at saturation, and writes
  the measured table into --out, keeping the text around it.`);
    return;
  }
  const rate = Number(values.rate);
  const seconds = Number(values.seconds);
  const concurrency = Number(values.concurrency);
  const warmup = Number(values.warmup);
  const labEnv = loadLabEnv();
  const results: DeploymentResult[] = [];
  for (const deployment of values.deployments!.split(',')) {
    const env: Record<string, string> = { LOG_LEVEL: 'warn', ORDERFLOW_PARTITIONS: values.partitions! };
    if (deployment === 'distributed') {
      if (!labEnv.kafkaBrokers || !labEnv.databaseUrl) {
        console.log('skipping distributed: set KAFKA_BROKERS and DATABASE_URL (npm run infra:kafka, npm run infra:postgres)');
        continue;
      }
      Object.assign(env, { ORDERFLOW_BUS: 'kafka', ORDERFLOW_STORE: 'postgres', KAFKA_BROKERS: labEnv.kafkaBrokers, DATABASE_URL: labEnv.databaseUrl, ORDERFLOW_NAMESPACE: `bench_${randomUUID().slice(0, 8)}` });
    } else if (deployment !== 'embedded') {
      throw new Error(`unknown deployment ${deployment}: use embedded or distributed`);
    }
    console.log(`\n== ${deployment} ==`);
    results.push(await benchDeployment(deployment, env, { rate, seconds, concurrency, warmup }));
  }
  const md = report(results, { rate, seconds, concurrency, argv });
  writeFileSync(values.out!, mergeInto(existsSync(values.out!) ? readFileSync(values.out!, 'utf8') : undefined, md));
  console.log(`\n${md}\nwritten to ${values.out}`);
}

async function benchDeployment(deployment: string, env: Record<string, string>, o: { rate: number; seconds: number; concurrency: number; warmup: number }): Promise<DeploymentResult> {
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-bench-'));
  const system = await startSystem({ dataDir, env, ports: { gateway: 0, orders: 0, inventory: 0, payments: 0, shipping: 0 }, stdio: 'pipe' });
  const client = createClient(system.gatewayUrl, 256);
  const bus = await openBus(loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir }), 'bench', silentLogger);
  try {
    const productIds: string[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await client.createProduct({ sku: `BENCH-${i}`, name: `Bench product ${i}`, priceCents: 500 + i, stock: 100_000_000 });
      if (r.status !== 201) throw new Error(`create product: ${r.status} ${JSON.stringify(r.body)}`);
      productIds.push(r.body.id);
    }
    const tracker = await trackCompletions(bus, 'orders.events');
    // The orders service learns the catalog from inventory's events: wait until it prices orders.
    for (let tries = 0; ; tries++) {
      const r = await client.placeOrder({ customerId: 'probe', items: [{ productId: productIds[productIds.length - 1], quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'DE' } });
      if (r.status === 202) break;
      if (tries > 200) throw new Error(`catalog never reached orders: ${JSON.stringify(r.body)}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const mix = { productIds, declineRatio: 0.05, unservedRatio: 0.05 };
    console.log(`warm-up: ${o.warmup} s at 100 orders/s`);
    await runOpen(client, tracker, mix, 100, o.warmup);
    console.log(`fixed rate: ${o.rate} orders/s for ${o.seconds} s`);
    const fixed = await runOpen(client, tracker, mix, o.rate, o.seconds);
    line(fixed);
    console.log(`saturation: ${o.concurrency} concurrent clients for ${o.seconds} s`);
    const saturation = await runClosed(client, tracker, mix, o.concurrency, o.seconds);
    line(saturation);
    await tracker.close();
    return { deployment, fixed: { rate: o.rate, result: fixed }, saturation: { concurrency: o.concurrency, result: saturation } };
  } finally {
    await bus.close().catch(() => undefined);
    await client.close().catch(() => undefined);
    await system.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (env.ORDERFLOW_STORE === 'postgres') {
      for (const service of ['orders', 'inventory', 'payments', 'shipping']) {
        await dropPostgresDatabase(env.DATABASE_URL, serviceDatabaseName(env.ORDERFLOW_NAMESPACE, service)).catch(() => undefined);
      }
    }
  }
}

function line(r: RunResult) {
  const c = summarize(r.completion);
  console.log(`  offered ${r.offered}, accepted ${r.accepted}, completed ${r.completed} (${fmt(r.completed / r.seconds)}/s), completion p50 ${fmt(c.p50)} ms p99 ${fmt(c.p99)} ms, errors ${JSON.stringify(r.errors)}`);
}

function report(results: DeploymentResult[], o: { rate: number; seconds: number; concurrency: number; argv: string[] }): string {
  const cpu = cpus();
  const rows = results.flatMap((d) => {
    const f = d.fixed.result;
    const s = d.saturation.result;
    const fc = summarize(f.completion);
    const fa = summarize(f.accept);
    const sc = summarize(s.completion);
    return [
      `| ${d.deployment} | fixed ${d.fixed.rate}/s (open) | ${fmt(f.completed / f.seconds)} | ${fmt(fa.p50)} / ${fmt(fa.p99)} | ${fmt(fc.p50)} / ${fmt(fc.p99)} | ${fmt(fc.max)} | ${errorsOf(f)} |`,
      `| ${d.deployment} | saturation, ${d.saturation.concurrency} clients (closed) | **${fmt(s.completed / s.seconds)}** | ${fmt(summarize(s.accept).p50)} / ${fmt(summarize(s.accept).p99)} | ${fmt(sc.p50)} / ${fmt(sc.p99)} | ${fmt(sc.max)} | ${errorsOf(s)} |`,
    ];
  });
  return [
    'End-to-end order saga (events architecture): POST /api/orders through the gateway until the',
    "order's terminal event (OrderConfirmed or OrderCancelled) is on the bus. 90% of orders are",
    'confirmed, 5% declined, 5% unserved (both compensated). Everything on one machine: the five',
    'service processes, the load generator, and on the distributed deployment Kafka and PostgreSQL.',
    '',
    `Command: \`npm run bench${o.argv.length ? ' -- ' + o.argv.join(' ') : ''}\`  `,
    `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, ${process.platform}, Node ${process.version}  `,
    `Date: ${new Date().toISOString().slice(0, 10)}; ${o.seconds} s per phase after a warm-up. Latencies in ms, from the time a request was due (open model) or sent (closed).`,
    '',
    '| deployment | load | completed orders/s | HTTP answer p50 / p99 | completion p50 / p99 | completion max | errors |',
    '|---|---|---|---|---|---|---|',
    ...rows,
    '',
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

/**
 * `npm run bench -- ingest`: client events through the gateway into the log, on each
 * deployment. It starts the whole system, then sends batches of events at a fixed rate of
 * events/s (the open model of pacer.ts: requests due at even intervals whatever the answers
 * do, latency counted from the due time), --runs times, and once more closed-loop at
 * saturation with autocannon for the capacity. (autocannon's own overallRate sends each
 * second's requests in a burst, which measures the burst, not the rate.) Each run's 202s times the batch size must equal what the log gained: a run
 * that lost an event fails the bench. The target: ≥ 10,000 events/s with p99 ≤ 35 ms.
 */
import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { Pool } from 'undici';
import { openBus } from '#platform/bus/open.ts';
import type { Bus } from '#platform/bus/bus.ts';
import { loadPlatformConfig } from '#platform/config.ts';
import { silentLogger } from '#platform/log.ts';
import { Topics } from '#contracts/index.ts';
import { freePortsForAll, startSystem, unlimitedGateway, type System } from '#runtime/system.ts';
import { infraProcesses } from './infra-processes.ts';
import { benchDeploymentEnv, loadLabEnv } from './config.ts';
import { cpuDelta, cpuSnapshot } from './cpu-time.ts';
import type { Watched } from './sampler.ts';
import { median } from './stats.ts';
import { createLatencyHistogram } from './histogram.ts';
import { pace } from './pacer.ts';

interface Run {
  eventsPerS: number;
  p50: number;
  p99: number;
  non2xx: number;
  errors: number;
  /** CPU during the run, % of one core, per process. */
  cpu: Record<string, number>;
}

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '-');

/** Bodies of `batch` events each, over many sessions and products, as browsers would send them. */
function bodies(count: number, batch: number, products: string[]): string[] {
  const types = ['product.viewed', 'product.viewed', 'product.viewed', 'product.searched', 'cart.updated'];
  return Array.from({ length: count }, () => {
    const sessionId = `bench-${randomUUID()}`;
    const at = new Date().toISOString();
    const events = Array.from({ length: batch }, (_, i) => {
      const type = types[i % types.length];
      const productId = products[(i * 7) % products.length];
      if (type === 'product.searched') return { type, sessionId, query: `query ${i % 13}`, resultCount: i % 20, at };
      if (type === 'cart.updated') return { type, sessionId, productId, quantity: 1 + (i % 3), at };
      return { type, sessionId, productId, at };
    });
    return JSON.stringify({ events });
  });
}

/** Events in the log once no request is in flight any more (the count holds still for 300 ms). */
async function logged(bus: Bus): Promise<number> {
  const count = async () => (await bus.positions([Topics.clientEvents])).reduce((n, p) => n + p.end, 0);
  let last = await count();
  for (;;) {
    await new Promise((r) => setTimeout(r, 300));
    const now = await count();
    if (now === last) return now;
    last = now;
  }
}

async function measure(system: System, bus: Bus, watched: Watched[], o: { bodies: string[]; batch: number; connections: number; seconds: number; rate?: number }): Promise<Run> {
  const before = cpuSnapshot(watched);
  const loggedBefore = await logged(bus);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const load = o.rate ? await paced(system.gatewayUrl, { ...o, rate: o.rate }) : await saturated(system.gatewayUrl, o);
  const wallMs = performance.now() - t0;
  const self = process.cpuUsage(self0);
  const cpu: Record<string, number> = { 'load tool': ((self.user + self.system) / 1000 / wallMs) * 100 };
  for (const [name, ms] of Object.entries(cpuDelta(before, cpuSnapshot(watched), new Set()))) cpu[name] = (ms / wallMs) * 100;
  const accepted = load.ok * o.batch;
  const gained = (await logged(bus)) - loggedBefore;
  // autocannon stops at the deadline with requests in flight: those were stored but never
  // counted, at most one per connection. Fewer than answered accepted would be a loss.
  if (gained < accepted || gained > accepted + o.connections * o.batch) throw new Error(`the log gained ${gained} events for ${accepted} answered accepted`);
  return { eventsPerS: accepted / (wallMs / 1000), p50: load.p50, p99: load.p99, non2xx: load.non2xx, errors: load.errors, cpu };
}

interface Load {
  ok: number;
  non2xx: number;
  errors: number;
  p50: number;
  p99: number;
}

/** rate/batch requests a second, each due at its time; latency from the due time. */
async function paced(gatewayUrl: string, o: { bodies: string[]; batch: number; connections: number; seconds: number; rate: number }): Promise<Load> {
  const pool = new Pool(gatewayUrl, { connections: o.connections, pipelining: 1 });
  const latency = createLatencyHistogram();
  const out: Load = { ok: 0, non2xx: 0, errors: 0, p50: 0, p99: 0 };
  const pending = new Set<Promise<void>>();
  let next = 0;
  await pace({
    rate: o.rate / o.batch,
    seconds: o.seconds,
    send(due) {
      const p = pool.request({ method: 'POST', path: '/api/events', headers: { 'content-type': 'application/json' }, body: o.bodies[next++ % o.bodies.length] })
        .then(async (res) => {
          await res.body.dump();
          latency.record(performance.now() - due);
          if (res.statusCode === 202) out.ok++;
          else out.non2xx++;
        }, () => void out.errors++)
        .finally(() => pending.delete(p));
      pending.add(p);
      return p;
    },
    overload: () => void out.errors++,
  });
  await Promise.all(pending);
  await pool.close();
  return { ...out, p50: latency.percentile(50), p99: latency.percentile(99) };
}

/** As fast as `connections` clients can go, each sending its next batch once answered. */
async function saturated(gatewayUrl: string, o: { bodies: string[]; connections: number; seconds: number }): Promise<Load> {
  let next = 0;
  const result = await autocannon({
    url: `${gatewayUrl}/api/events`,
    connections: o.connections,
    duration: o.seconds,
    requests: [{ method: 'POST', headers: { 'content-type': 'application/json' }, setupRequest: (req) => ({ ...req, body: o.bodies[next++ % o.bodies.length] }) }],
  });
  return { ok: result['2xx'], non2xx: result.non2xx, errors: result.errors + result.timeouts, p50: result.latency.p50, p99: result.latency.p99 };
}

export async function ingestBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      deployments: { type: 'string', default: 'embedded,distributed' },
      rate: { type: 'string', default: '10000' },
      batch: { type: 'string', default: '25' },
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '32' },
      runs: { type: 'string', default: '3' },
      partitions: { type: 'string', default: '8' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: orderflow bench ingest [--deployments embedded,distributed] [--rate 10000] [--batch 25]
       [--seconds 10] [--connections 32] [--runs 3] [--partitions 8]
  POST /api/events through the gateway at --rate events/s in batches of --batch, --runs times,
  then once at saturation; prints events/s, latency p50/p99, CPU per process and per event.`);
    return 0;
  }
  const o = { rate: Number(values.rate), batch: Number(values.batch), seconds: Number(values.seconds), connections: Number(values.connections), runs: Number(values.runs) };
  const labEnv = loadLabEnv();
  const lines: string[] = [];
  for (const deployment of values.deployments!.split(',')) {
    // The gateway's rate limits off: the load comes from one address.
    const env = benchDeploymentEnv(deployment, labEnv, { LOG_LEVEL: 'warn', ORDERFLOW_PARTITIONS: values.partitions!, ...unlimitedGateway }, `bench_${randomUUID().slice(0, 8)}`);
    if (!env) {
      console.log('skipping distributed: set KAFKA_BROKERS and DATABASE_URL (npm run infra:kafka, npm run infra:postgres)');
      continue;
    }
    console.log(`\n== ${deployment} ==`);
    const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-ingest-bench-'));
    const system = await startSystem({ dataDir, env, ports: freePortsForAll, stdio: 'pipe' });
    const bus = await openBus(loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir }), 'ingest-bench', silentLogger);
    try {
      const infra = deployment === 'distributed' ? await infraProcesses({ kafkaBrokers: env.KAFKA_BROKERS }) : [];
      const pidOf = (name: string) => () => [system.pid(name)].filter((pid): pid is number => pid !== undefined);
      // Analytics consumes every event (its pipeline): its CPU is part of what an event costs.
      const watched: Watched[] = [{ name: 'gateway', pids: pidOf('gateway') }, { name: 'ingestion', pids: pidOf('ingestion') }, { name: 'analytics', pids: pidOf('analytics') }, ...infra.filter((p) => p.name === 'kafka')];
      const products = Array.from({ length: 50 }, () => randomUUID());
      const all = bodies(500, o.batch, products);
      // Warm-up: connections, JIT, the first segment of each partition.
      await measure(system, bus, watched, { ...o, bodies: all, seconds: 3 });
      const runs: Run[] = [];
      for (let run = 1; run <= o.runs; run++) {
        runs.push(await measure(system, bus, watched, { ...o, bodies: all }));
        const r = runs.at(-1)!;
        console.log(`run ${run}/${o.runs} at ${o.rate} events/s: ${fmt(r.eventsPerS)} events/s, p50 ${r.p50} ms, p99 ${r.p99} ms, non-2xx ${r.non2xx}, errors ${r.errors}, cpu % ${JSON.stringify(Object.fromEntries(Object.entries(r.cpu).map(([k, v]) => [k, Math.round(v)])))}`);
      }
      const max = await measure(system, bus, watched, { ...o, rate: undefined, bodies: all });
      console.log(`saturation: ${fmt(max.eventsPerS)} events/s, p50 ${max.p50} ms, p99 ${max.p99} ms`);
      const m = (f: (r: Run) => number) => median(runs.map(f));
      const services = (r: Run) => Object.entries(r.cpu).filter(([k]) => k !== 'load tool').reduce((a, [, v]) => a + v, 0);
      const usPerEvent = (r: Run) => (services(r) * 10_000) / r.eventsPerS;
      const cpu = Object.keys(runs[0].cpu).map((k) => `${k} ${fmt(m((r) => r.cpu[k]))}`).join(', ');
      const met = m((r) => r.eventsPerS) >= o.rate * 0.98 && m((r) => r.p99) <= 35 ? 'yes' : 'no';
      lines.push(`| ${deployment} | ${o.rate} | **${fmt(m((r) => r.eventsPerS))}** (${runs.map((r) => fmt(r.eventsPerS)).join(', ')}) | ${fmt(m((r) => r.p50))} / **${fmt(m((r) => r.p99))}** | ${runs.reduce((a, r) => a + r.non2xx + r.errors, 0)} | ${met} | ${fmt(max.eventsPerS)} (p99 ${max.p99} ms) | ${fmt(m(usPerEvent))} | ${cpu} |`);
    } finally {
      await bus.close().catch(() => undefined);
      await system.stop();
      rmSync(dataDir, { recursive: true, force: true });
    }
  }
  const cpu = cpus();
  console.log([
    '',
    `Command: \`npm run bench -- ingest${argv.length ? ' ' + argv.join(' ') : ''}\`  `,
    `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; up to ${o.connections} connections, batches of ${o.batch} events, anonymous, ${o.runs} runs of ${o.seconds} s at a fixed rate, medians; then one closed-loop run at saturation (autocannon)`,
    '',
    '| deployment | target events/s | events/s (runs) | latency p50 / p99 ms | failed requests | target met (≥ rate, p99 ≤ 35 ms) | saturation events/s | CPU µs per event (services) | CPU % of one core (median) |',
    '|---|---|---|---|---|---|---|---|---|',
    ...lines,
  ].join('\n'));
  return 0;
}

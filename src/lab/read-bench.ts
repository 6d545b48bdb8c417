/**
 * `npm run bench -- read`: the read path through the gateway on the embedded default, with
 * autocannon at a fixed number of connections. It starts the whole system (every service
 * its own process, as `npm start` runs it), seeds products and orders, lets the sagas
 * finish, then measures GET /api/orders/:id, GET /api/orders/:id/details and GET
 * /api/products with and without If-None-Match. The load tool shares the machine's cores
 * with the services, so its own CPU is reported beside theirs.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import autocannon from 'autocannon';
import { freePortsForAll, serviceNames, startSystem, unlimitedGateway, type ServiceName, type System } from '#runtime/system.ts';
import { createClient, type Client } from './client.ts';
import { median } from './stats.ts';
import { cpuDelta, cpuSnapshot } from './cpu-time.ts';
import type { Watched } from './sampler.ts';

interface Target {
  name: string;
  paths: () => string;
  headers?: Record<string, string>;
}

interface Run {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  statuses: Record<string, number>;
  /** CPU used during the run, in % of one core, per process ('load tool' is this process). */
  cpu: Record<string, number>;
}

const fmt = (n: number) => (Number.isFinite(n) ? (n >= 100 ? n.toFixed(0) : n.toFixed(1)) : '-');

async function seed(client: Client, products: number, orders: number): Promise<string[]> {
  const productIds: string[] = [];
  for (let i = 0; i < products; i++) {
    const r = await client.createProduct({ sku: `READ-${i}`, name: `Read bench product ${i}`, priceCents: 500 + i, stock: 100_000_000 });
    if (r.status !== 201) throw new Error(`create product: ${r.status} ${JSON.stringify(r.body)}`);
    productIds.push(r.body.id);
  }
  const ids: string[] = [];
  for (let tries = 0; ids.length < orders; ) {
    const country = ids.length % 10 === 9 ? 'XX' : 'DE'; // some cancelled orders too
    const r = await client.placeOrder({ items: [{ productId: productIds[ids.length % products], quantity: 1 }], paymentMethod: 'card', shippingAddress: { country } });
    if (r.status === 202) ids.push(r.body.id);
    else if (++tries > 200) throw new Error(`catalog never reached orders: ${r.status} ${JSON.stringify(r.body)}`);
    else await new Promise((res) => setTimeout(res, 100));
  }
  // Reads of finished orders: the sagas must be quiet while the read path is measured.
  const deadline = Date.now() + 120_000;
  for (const id of ids) {
    while ((await client.order(id)).body?.status === 'PENDING') {
      if (Date.now() > deadline) throw new Error(`order ${id} still PENDING after 120 s`);
      await new Promise((res) => setTimeout(res, 50));
    }
  }
  return ids;
}

async function measure(system: System, target: Target, o: { connections: number; seconds: number }): Promise<Run> {
  const watched: Watched[] = serviceNames.map((n) => ({ name: n, pids: () => [system.pid(n)].filter((pid): pid is number => pid !== undefined) }));
  const before = cpuSnapshot(watched);
  const self0 = process.cpuUsage();
  const t0 = performance.now();
  const result = await autocannon({
    url: system.gatewayUrl,
    connections: o.connections,
    pipelining: 1,
    duration: o.seconds,
    headers: target.headers,
    requests: [{ method: 'GET', setupRequest: (req) => ({ ...req, path: target.paths() }) }],
  });
  const wallMs = performance.now() - t0;
  const self = process.cpuUsage(self0);
  const cpu: Record<string, number> = { 'load tool': ((self.user + self.system) / 1000 / wallMs) * 100 };
  for (const [name, ms] of Object.entries(cpuDelta(before, cpuSnapshot(watched), new Set()))) cpu[name] = (ms / wallMs) * 100;
  const statuses: Record<string, number> = {};
  for (const [code, v] of Object.entries(result.statusCodeStats ?? {})) statuses[code] = (v as { count: number }).count;
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, errors: result.errors + result.timeouts, statuses, cpu };
}

export async function readBenchCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: {
      seconds: { type: 'string', default: '10' },
      connections: { type: 'string', default: '64' },
      runs: { type: 'string', default: '3' },
      orders: { type: 'string', default: '500' },
      products: { type: 'string', default: '20' },
      only: { type: 'string' },
      'cpu-prof': { type: 'string' },
      help: { type: 'boolean', default: false },
    },
  });
  if (values.help) {
    console.log(`usage: orderflow bench read [--seconds 10] [--connections 64] [--runs 3] [--orders 500]
       [--products 20] [--only order,details,products,products-304] [--cpu-prof DIR]
  Starts the embedded system, seeds products and orders, waits for every saga to finish, then
  runs autocannon --runs times per target and prints the medians. --cpu-prof writes a V8 CPU
  profile of every service into DIR (on stop).`);
    return 0;
  }
  const o = { seconds: Number(values.seconds), connections: Number(values.connections) };
  const runs = Number(values.runs);
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-read-bench-'));
  // The gateway's rate limits off: autocannon reads from one address, thousands a second.
  const env: Record<string, string> = { LOG_LEVEL: 'warn', ...unlimitedGateway };
  if (values['cpu-prof']) env.NODE_OPTIONS = `--cpu-prof --cpu-prof-dir=${values['cpu-prof']}`;
  const system = await startSystem({ dataDir, env, ports: freePortsForAll, stdio: 'pipe' });
  const client = createClient(system.gatewayUrl, 16, system.demoUsers);
  try {
    console.log(`seeding ${values.products} products and ${values.orders} orders`);
    const ids = await seed(client, Number(values.products), Number(values.orders));
    const etag = await productsEtag(system.gatewayUrl);
    let i = 0;
    const nextId = () => ids[i++ % ids.length];
    // The reads are the demo customer's own orders, with its token, as its browser would send them.
    const auth = { authorization: `Bearer ${await client.token('customer')}` };
    const targets: Target[] = [
      { name: 'order', paths: () => `/api/orders/${nextId()}`, headers: auth },
      { name: 'details', paths: () => `/api/orders/${nextId()}/details`, headers: auth },
      { name: 'products', paths: () => '/api/products' },
      ...(etag ? [{ name: 'products-304', paths: () => '/api/products', headers: { 'if-none-match': etag } }] : []),
    ].filter((t) => !values.only || values.only.split(',').includes(t.name));
    const lines: string[] = [];
    for (const target of targets) {
      const all: Run[] = [];
      for (let run = 1; run <= runs; run++) {
        all.push(await measure(system, target, o));
        const r = all.at(-1)!;
        console.log(`${target.name} run ${run}/${runs}: ${fmt(r.rps)} req/s, p50 ${r.p50} ms, p99 ${r.p99} ms, errors ${r.errors}, statuses ${JSON.stringify(r.statuses)}, cpu % ${JSON.stringify(Object.fromEntries(Object.entries(r.cpu).map(([k, v]) => [k, Math.round(v)])))}`);
      }
      const m = (f: (r: Run) => number) => median(all.map(f));
      const cpu = Object.keys(all[0].cpu).map((k) => `${k} ${fmt(m((r) => r.cpu[k]))}`).join(', ');
      // CPU per request holds up better than requests/s on a shared, noisy machine.
      const perRequest = (r: Run, self: boolean) => (Object.entries(r.cpu).filter(([k]) => (k === 'load tool') === self).reduce((a, [, v]) => a + v, 0) * 10) / r.rps;
      const usPerRequest = `${fmt(m((r) => perRequest(r, false) * 1000))} / ${fmt(m((r) => perRequest(r, true) * 1000))}`;
      lines.push(`| ${target.name} | **${fmt(m((r) => r.rps))}** (${all.map((r) => fmt(r.rps)).join(', ')}) | ${fmt(m((r) => r.p50))} / ${fmt(m((r) => r.p99))} | ${all.reduce((a, r) => a + r.errors, 0)} | ${JSON.stringify(all[0].statuses)} | ${usPerRequest} | ${cpu} |`);
    }
    const cpu = cpus();
    console.log([
      '',
      `Command: \`npm run bench -- read${argv.length ? ' ' + argv.join(' ') : ''}\`  `,
      `Machine: ${cpu.length} × ${cpu[0]?.model ?? 'unknown CPU'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}; autocannon, ${o.connections} connections, ${runs} runs of ${o.seconds} s per target, medians`,
      '',
      '| target | requests/s (runs) | latency p50 / p99 ms | errors | status codes (run 1) | CPU µs per request: services / load tool | CPU % of one core (median) |',
      '|---|---|---|---|---|---|---|',
      ...lines,
    ].join('\n'));
    return 0;
  } finally {
    await client.close().catch(() => undefined);
    await system.stop();
    rmSync(dataDir, { recursive: true, force: true });
  }
}

async function productsEtag(gatewayUrl: string): Promise<string | undefined> {
  const res = await fetch(`${gatewayUrl}/api/products`);
  await res.arrayBuffer();
  return res.headers.get('etag') ?? undefined;
}

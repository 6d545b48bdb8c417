/**
 * `orderflow`: run the system on this machine (up), manage local Kafka and PostgreSQL
 * (infra), look at, replay and discard dead letters (dlq: runtime/dlq-command.ts), list the
 * orders stuck past their saga deadline (orders stuck), rebuild the orders' read model from
 * their events (orders rebuild-view), measure (bench, lab), and break it on
 * purpose (chaos).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { architectures, loadPlatformConfig } from '#platform/config.ts';
import { isOrderflowError } from '#platform/errors.ts';
import { inheritedEnv, loadRuntimeConfig } from './runtime/config.ts';
import { startSystem, type System } from './runtime/system.ts';
import { clearPrometheusTargets } from './runtime/infra/prometheus-targets.ts';
import { DLQ_USAGE } from './runtime/dlq-command.ts';
import { USERS_USAGE } from './runtime/users-command.ts';
import { ARCHIVE_USAGE, archiveDir } from './runtime/archive-command.ts';
import { SERVICE_USAGE } from './runtime/service-command.ts';
import { startControlServer, type ControlServer } from './runtime/control.ts';
import { deploymentName } from './lab/system-env.ts';

const USAGE = `usage: orderflow <command> [options]

  up [--arch events|choreography|rest] [--kafka] [--postgres] [--distributed]
     [--data-dir ./data] [--port 8080] [--service-ports 8081] [--replicas 1] [--no-seed] [--tracing] [--no-archive]
     [--image localhost/orderflow:dev]
        Start every service as its own process behind the gateway; Ctrl-C stops.
        Lists the services' /metrics for Prometheus (npm run infra:prometheus) in
        <ORDERFLOW_INFRA_DIR or .infra>/prometheus/targets/orderflow.json while it runs (the
        gateway's on its internal port, 9080, or a free one with --port 0). The gateway's rate
        limits are on (GATEWAY_RATE_LIMIT_PER_MINUTE, GATEWAY_AUTH_RATE_LIMIT_PER_MINUTE; 0 = off).
        --arch         how the order saga runs: events (default; orders orchestrates over the bus),
                       choreography (each service reacts to the events before it), rest (orders
                       calls the others over HTTP inside POST /api/orders)
        --kafka        the bus is Apache Kafka at KAFKA_BROKERS (default 127.0.0.1:9092)
        --postgres     the stores are PostgreSQL at DATABASE_URL (default postgres://postgres@127.0.0.1:5432/postgres)
        --distributed  both
        --service-ports  first of the internal ports (orders, inventory, payments, shipping, users, cart, notifications, ingestion, analytics: 8081-8089); 0 picks free ones
        --replicas     instances of each service behind the gateway (default ORDERFLOW_REPLICAS or 1):
                       orders-1, orders-2...; the first of each on --service-ports, the others on free
                       ports; the gateway balances across them and skips one that is down
        --no-seed      start with an empty catalog
        --tracing      export the services' traces to Zipkin: starts it first when it is not running
                       (as infra zipkin does, ORDERFLOW_ZIPKIN_PORT, default 9411; it keeps running after
                       Ctrl-C), then sets OTEL_TRACES_EXPORTER=zipkin and OTEL_EXPORTER_ZIPKIN_ENDPOINT;
                       an OTEL_TRACES_EXPORTER already set is left as it is, and Zipkin is not started
        --no-archive   keep no event archive; by default orders.events and client.events
                       are appended to <data-dir>/archive/<topic>.jsonl (ORDERFLOW_ARCHIVE_DIR): by Kafka
                       Connect on Kafka when CONNECT_URL is set, by a sink in this process otherwise
        --image        run every instance as a container of this image (node deploy/image/main.ts build):
                       podman run --rm --network host, the data dir mounted; see docs/deploy.md
  rollout [--data-dir ./data] [--services orders,gateway]
        Restart every instance of the system \`orderflow up\` runs with this data dir, one by one,
        without a failed request: each backend instance drained, stopped, started, awaited ready
        and in its consumer groups; the gateway last, a new process beside the old one on the
        same socket. Needs \`up --replicas 2\` (or more). Prints each step and a summary.
        --services  only these services' instances (default all)
  infra kafka|postgres|connect|zipkin|prometheus|mailpit|all [start|stop|status] [--brokers N]
        Local Kafka, PostgreSQL, Kafka Connect, Zipkin, Prometheus and Mailpit (SMTP) for development and CI;
        --brokers 3: a replicated Kafka of three KRaft nodes.
  infra schemathesis [install|status]
        The OpenAPI fuzzer the tests run (test/support/schemathesis.ts), pinned, from PyPI.
${DLQ_USAGE}
${USERS_USAGE}
${ARCHIVE_USAGE}
${SERVICE_USAGE}
  orders stuck [--postgres] [--data-dir ./data] [--deadline-ms 30000] [--json]
        List the orders PENDING past their saga step's deadline (ORDERS_STEP_DEADLINE_MS), read
        from the orders store, so it answers with the system down. The orders service cancels
        such orders as TIMEOUT; any listed here mean it is not running or not keeping up.
  orders rebuild-view [--postgres] [--data-dir ./data] [--check] [--batch 500]
        Rebuild the orders' read model (orders_view) from their events (order_events), a batch
        of orders a transaction, rewriting only the rows that differ; safe with the service
        running. --check compares without writing, prints each difference, exit 1 if any.
  analytics rebuild [--archive <dir>] [--data-dir ./data] [--postgres] [--check]
        Rebuild analytics' read model from the event archive with the same stream pipeline and
        compare it window by window with the live one; without --check, write what differs.
  bench [options]
        Start the system on each deployment, load it, and write BENCHMARKS.md (orderflow bench --help).
  bench read [options]
        The read path through the gateway with autocannon (orderflow bench read --help).
  bench ingest [options]
        Client events through the gateway into the log, at a fixed rate of events/s and at
        saturation, on each deployment (orderflow bench ingest --help).
  lab [--arch events,choreography,rest] [--distributed] [--quick] [options]
        Measure each architecture: open-model load up to saturation, its knee, fault scenarios;
        writes lab-results/<timestamp>/ report.html, report.json, summary.md (orderflow lab --help).
  lab soak [--minutes 30] [--rate 50] [--distributed] [options]
        A steady load with short retentions, sampling every table and file once a minute: is
        everything but the orders' own data flat? (orderflow lab soak --help).
  lab rollout [--rate 40] [--distributed] [options]
        Load the system at a fixed rate, roll out every instance, and count failed requests
        (must be 0), orders lost or made twice, and p99 before vs during (orderflow lab rollout --help).
  chaos [--kills 30] [--arch events,...] [--distributed] [--rate 30] [--seed 1] [--json]
        Kill random service instances (SIGKILL) under a steady mixed load, then check every
        invariant through the public API; prints kills, orders accepted (at the first attempt),
        lost, duplicated, violations and drain time; exit 1 on any (orderflow chaos --help).`;

class UsageError extends Error {}

function parse<O extends NonNullable<ParseArgsConfig['options']>>(args: string[], options: O, positionals = 0) {
  try {
    const parsed = parseArgs({ args, options, allowPositionals: positionals > 0, allowNegative: true, strict: true });
    if (parsed.positionals.length > positionals) throw new UsageError(`unexpected argument "${parsed.positionals[positionals]}"`);
    return parsed;
  } catch (err) {
    if (err instanceof UsageError) throw err;
    throw new UsageError((err as Error).message);
  }
}

function portArg(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < 0 || n > 65535) throw new UsageError(`--${name} must be a port number; got "${value}"`);
  return n;
}

async function up(args: string[]): Promise<number> {
  const { values } = parse(args, {
    arch: { type: 'string', default: 'events' },
    kafka: { type: 'boolean', default: false },
    postgres: { type: 'boolean', default: false },
    distributed: { type: 'boolean', default: false },
    'data-dir': { type: 'string', default: './data' },
    port: { type: 'string' },
    'service-ports': { type: 'string' },
    replicas: { type: 'string' },
    seed: { type: 'boolean', default: true },
    tracing: { type: 'boolean', default: false },
    archive: { type: 'boolean', default: true },
    image: { type: 'string' },
    help: { type: 'boolean', short: 'h', default: false },
  });
  if (values.help) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  if (!(architectures as readonly string[]).includes(values.arch)) throw new UsageError(`--arch must be one of ${architectures.join(', ')}; got "${values.arch}"`);
  const runtime = loadRuntimeConfig();
  const kafka = values.kafka || values.distributed;
  const postgres = values.postgres || values.distributed;
  const env: Record<string, string> = {
    ORDERFLOW_ARCH: values.arch,
    ORDERFLOW_BUS: kafka ? 'kafka' : 'embedded',
    ORDERFLOW_STORE: postgres ? 'postgres' : 'sqlite',
    ORDERFLOW_SEED: values.seed ? '1' : '0',
  };
  if (kafka) env.KAFKA_BROKERS = runtime.kafkaBrokers;
  if (postgres) env.DATABASE_URL = runtime.databaseUrl;
  const gatewayPort = portArg('port', values.port, 8080);
  const first = portArg('service-ports', values['service-ports'], 8081);
  // 0 stays 0 for all five: each gets a free port of its own.
  const at = (i: number) => (first === 0 ? 0 : first + i);
  // notifications at +6 (8087): +5 (8086) is the cart's.
  const ports = { gateway: gatewayPort, orders: at(0), inventory: at(1), payments: at(2), shipping: at(3), users: at(4), cart: at(5), notifications: at(6), ingestion: at(7), analytics: at(8) };
  const dataDir = resolve(values['data-dir']);
  const replicasArg = values.replicas ?? runtime.replicas;
  const replicas = Number(replicasArg);
  if (!Number.isInteger(replicas) || replicas < 1 || replicas > 16) throw new UsageError(`--replicas (or ORDERFLOW_REPLICAS) must be a whole number from 1 to 16; got "${replicasArg}"`);

  const traces = values.tracing ? await tracingEnv(runtime.tracesExporter) : undefined;
  if (traces) Object.assign(env, traces.env);

  const where = `${values.arch} architecture on ${kafka ? `Kafka at ${env.KAFKA_BROKERS}` : 'the embedded log'}, ${postgres ? `PostgreSQL at ${env.DATABASE_URL}` : 'SQLite'}; data in ${dataDir}${values.image ? `; every instance a container of ${values.image}` : ''}`;
  process.stderr.write(`starting orderflow on ${where}\n`);

  let system: System | undefined;
  let control: ControlServer | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    signals++;
    if (signals > 1 || !system) {
      // Second Ctrl-C (or one during startup): no more waiting.
      if (system) for (const instance of system.instances()) system.kill(instance.name, 'SIGKILL');
      clearPrometheusTargets(runtime.prometheusTargetsFile);
      process.stderr.write(`\n${signal} again: killed\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${signal}: stopping (Ctrl-C again to kill at once)\n`);
    void control?.close();
    system.stop().then(() => {
      process.stderr.write('stopped\n');
      process.exit(0);
    });
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);

  const deployment = deploymentName(kafka, postgres);
  system = await startSystem({
    dataDir, env, ports, replicas, stdio: 'inherit', keepOutboxSlots: true, image: values.image,
    archive: values.archive ? { dir: archiveDir(dataDir) } : undefined,
    lab: { dir: join(dataDir, 'lab') },
    prometheusTargets: { file: runtime.prometheusTargetsFile, labels: { arch: values.arch, deployment } },
  });
  // The channel `orderflow rollout` talks to (runtime/control.ts).
  control = await startControlServer(dataDir, system);
  const gw = system.gatewayUrl;
  const product = await firstProductId(gw);
  const order = JSON.stringify({ items: [{ productId: product ?? '<product id from /api/products>', quantity: 1 }], paymentMethod: 'card', shippingAddress: { country: 'FR', city: 'Lyon' } });
  const { customer, admin } = system.demoUsers;
  const mail = runtime.smtpUrl
    ? `e-mail: sent over ${runtime.smtpUrl}${runtime.mailpitUrl ? ` (read it in Mailpit: ${runtime.mailpitUrl})` : ''}`
    : 'e-mail: off, SMTP_URL is not set (in-app notifications only; npm run infra:mailpit starts a local SMTP server and prints what to export)';
  const login = JSON.stringify({ email: customer.email, password: customer.password });
  process.stdout.write(`
orderflow is up: ${gw}   (the console: ${gw}/ ; the API described: ${gw}/docs)
  demo customer  ${customer.email}  password ${customer.password}
  demo admin     ${admin.email}  password ${admin.password}
  (kept in ${system.demoUsers.file}; \`orderflow users create-admin\` makes more admins)

  curl -s ${gw}/api/products
  TOKEN=$(curl -s -X POST ${gw}/api/auth/login -H 'content-type: application/json' -d '${login}' | node -pe 'JSON.parse(require("fs").readFileSync(0)).accessToken')
  curl -s -X POST ${gw}/api/orders -H "authorization: Bearer $TOKEN" -H 'content-type: application/json' -d '${order}'
  curl -s ${gw}/api/orders -H "authorization: Bearer $TOKEN"
  curl -s ${gw}/api/orders/<id>/details -H "authorization: Bearer $TOKEN"
  curl -sN ${gw}/api/me/notifications/stream -H "authorization: Bearer $TOKEN"   (live, Ctrl-C ends it)
${mail}
${replicas > 1 ? `instances: ${system.instances().filter((i) => i.service !== 'gateway').map((i) => `${i.name} ${i.url}`).join(', ')}\n` : ''}${traces?.url ? `traces: ${traces.url}/zipkin/\n` : ''}metrics: listed for Prometheus in ${runtime.prometheusTargetsFile} (npm run infra:prometheus); the gateway's on ${system.metricsUrls.gateway}/metrics, not its public port
rollout: orderflow rollout --data-dir ${dataDir}${replicas > 1 ? '' : ' (needs --replicas 2 or more)'}
${system.archive ? `archive: ${system.archive.topics.join(', ')} into ${system.archive.dir} (${system.archive.via === 'connect' ? 'by Kafka Connect' : 'by this process'}; orderflow archive status)\n` : ''}Ctrl-C stops.
`);
  // Runs until a signal; the handlers above exit.
  return new Promise<number>(() => {});
}

/**
 * `up --tracing`: Zipkin (started when not running, through the infra command's code) and
 * the OTEL_* settings that send every service's spans to it. A user's own OTEL_TRACES_EXPORTER
 * wins: then nothing is started or set.
 */
async function tracingEnv(userExporter: string | undefined): Promise<{ env: Record<string, string>; url?: string }> {
  if (userExporter) {
    process.stderr.write(`--tracing: OTEL_TRACES_EXPORTER=${userExporter} is set; the services export as it says, Zipkin is not started\n`);
    return { env: {} };
  }
  const { loadInfraConfig } = await import('./runtime/infra/config.ts');
  const { zipkinInfra } = await import('./runtime/infra/zipkin.ts');
  const infra = loadInfraConfig();
  // Zipkin's settings line goes to stderr with its progress: stdout is this command's own banner.
  const say = (line: string) => void process.stderr.write(`${line}\n`);
  const zipkin = await zipkinInfra('start', { dir: infra.dir, port: infra.zipkinPort, io: { say, emit: say } });
  const url = zipkin.env.ZIPKIN_URL;
  return { env: { OTEL_TRACES_EXPORTER: 'zipkin', OTEL_EXPORTER_ZIPKIN_ENDPOINT: `${url}/api/v2/spans` }, url };
}

async function firstProductId(gatewayUrl: string): Promise<string | undefined> {
  try {
    const res = await fetch(`${gatewayUrl}/api/products`, { signal: AbortSignal.timeout(2_000) });
    const products = (await res.json()) as Array<{ id: string }>;
    return products[0]?.id;
  } catch {
    return undefined;
  }
}

async function rollout(args: string[]): Promise<number> {
  const { values } = parse(args, { 'data-dir': { type: 'string', default: './data' }, services: { type: 'string' } });
  const dataDir = resolve(values['data-dir']);
  const { requestRollout } = await import('./runtime/control.ts');
  const { rolloutSummary } = await import('./runtime/rollout.ts');
  process.stdout.write(`rolling out the system in ${dataDir}\n`);
  const services = values.services?.split(',').map((s) => s.trim()).filter(Boolean);
  const report = await requestRollout(dataDir, (line) => process.stdout.write(`${line}\n`), services);
  process.stdout.write(`${rolloutSummary(report)}\n`);
  return 0;
}

async function orders(args: string[]): Promise<number> {
  const { values, positionals } = parse(args, {
    postgres: { type: 'boolean', default: false },
    'data-dir': { type: 'string' },
    'deadline-ms': { type: 'string' },
    json: { type: 'boolean', default: false },
    check: { type: 'boolean', default: false },
    batch: { type: 'string' },
  }, 1);
  const sub = positionals[0];
  if (sub !== 'stuck' && sub !== 'rebuild-view') throw new UsageError('orders needs a subcommand: orderflow orders stuck|rebuild-view');
  const only = (flag: 'deadline-ms' | 'json' | 'check' | 'batch', of: string) => {
    if (sub !== of && values[flag] !== undefined && values[flag] !== false) throw new UsageError(`--${flag} is an option of orders ${of}`);
  };
  only('deadline-ms', 'stuck');
  only('json', 'stuck');
  only('check', 'rebuild-view');
  only('batch', 'rebuild-view');
  const overlay: Record<string, string> = {};
  if (values['data-dir']) overlay.ORDERFLOW_DATA_DIR = resolve(values['data-dir']);
  if (values.postgres) Object.assign(overlay, { ORDERFLOW_STORE: 'postgres', DATABASE_URL: loadRuntimeConfig().databaseUrl });
  const env = { ...inheritedEnv(), ...overlay };
  if (sub === 'rebuild-view') return rebuildView(env, values.check, values.batch);
  let deadlineMs: number;
  if (values['deadline-ms'] !== undefined) {
    deadlineMs = Number(values['deadline-ms']);
    if (!Number.isInteger(deadlineMs) || deadlineMs < 1) throw new UsageError(`--deadline-ms must be a positive integer; got "${values['deadline-ms']}"`);
  } else {
    // The deadline the orders service runs with, from the same environment.
    try {
      const { loadConfig } = await import('#services/orders/config.ts');
      deadlineMs = loadConfig(env).deadlines.stepDeadlineMs;
    } catch (err) {
      throw isOrderflowError(err, 'PLT_ERR_CONFIG') ? new UsageError((err as Error).message) : err;
    }
  }
  const db = await openOrdersDb(env);
  if (!db) return 1;
  const { stuckOrders } = await import('#services/orders/stuck.ts');
  try {
    const stuck = await stuckOrders(db, new Date(), deadlineMs);
    if (values.json) {
      process.stdout.write(JSON.stringify(stuck, null, 2) + '\n');
      return 0;
    }
    if (stuck.length === 0) process.stdout.write(`no order is pending past its deadline (${deadlineMs} ms a step)\n`);
    for (const o of stuck) {
      process.stdout.write(`${o.id}  ${o.step}  since ${o.stepStartedAt}  overdue ${(o.overdueMs / 1000).toFixed(1)} s  placed ${o.createdAt}\n`);
    }
    return 0;
  } finally {
    await db.close();
  }
}

async function openOrdersDb(env: Record<string, string | undefined>) {
  const platform = loadPlatformConfig(env);
  if (platform.store === 'sqlite' && !existsSync(join(platform.dataDir, 'orders.sqlite'))) {
    process.stderr.write(`orderflow: no orders database in ${platform.dataDir} (use --data-dir, or --postgres)\n`);
    return undefined;
  }
  const { openServiceDb } = await import('#platform/db/open.ts');
  return openServiceDb({ ...platform, poolSize: 1 }, 'orders');
}

async function rebuildView(env: Record<string, string | undefined>, check: boolean, batch: string | undefined): Promise<number> {
  const batchSize = batch === undefined ? 500 : Number(batch);
  if (!Number.isInteger(batchSize) || batchSize < 1 || batchSize > 100_000) throw new UsageError(`--batch must be an integer from 1 to 100000; got "${batch}"`);
  const db = await openOrdersDb(env);
  if (!db) return 1;
  const { rebuildViews, describeDifference } = await import('#services/orders/rebuild-view.ts');
  try {
    const report = await rebuildViews(db, { check, batchSize });
    for (const d of report.differences) process.stdout.write(`${d.id}  ${describeDifference(d)}\n`);
    if (report.differing > report.differences.length) process.stdout.write(`... and ${report.differing - report.differences.length} more\n`);
    const rows = (n: number) => `${n} row${n === 1 ? '' : 's'}`;
    if (check) {
      process.stdout.write(report.differing === 0
        ? `orders_view matches the events of ${report.orders} orders\n`
        : `${rows(report.differing)} of orders_view ${report.differing === 1 ? 'differs' : 'differ'} from the events (${report.orders} orders); orderflow orders rebuild-view repairs them\n`);
      return report.differing === 0 ? 0 : 1;
    }
    process.stdout.write(`orders_view rebuilt from the events of ${report.orders} orders: ${rows(report.repaired)} repaired\n`);
    return 0;
  } finally {
    await db.close();
  }
}

export async function main(argv: string[]): Promise<number> {
  const [command, ...args] = argv;
  try {
    switch (command) {
      case 'up':
        return await up(args);
      case 'service':
        return await import('./runtime/service-command.ts').then((m) => m.serviceCommand(args));
      case 'infra':
        return await import('./runtime/infra/cli.ts').then((m) => m.infraCommand(args));
      case 'rollout':
        return await rollout(args);
      case 'dlq':
        return await import('./runtime/dlq-command.ts').then((m) => m.dlqCommand(args));
      case 'orders':
        return await orders(args);
      case 'analytics':
        return await import('./runtime/analytics-command.ts').then((m) => m.analyticsCommand(args));
      case 'users':
        return await import('./runtime/users-command.ts').then((m) => m.usersCommand(args));
      case 'archive':
        return await import('./runtime/archive-command.ts').then((m) => m.archiveCommand(args));
      case 'bench':
        if (args[0] === 'read') return await import('./lab/read-bench.ts').then((m) => m.readBenchCommand(args.slice(1)));
        if (args[0] === 'ingest') return await import('./lab/ingest-bench.ts').then((m) => m.ingestBenchCommand(args.slice(1)));
        return await import('./lab/bench.ts').then(async (m) => (await m.benchCommand(args)) ?? 0);
      case 'lab':
        if (args[0] === 'soak') return await import('./lab/soak.ts').then((m) => m.soakCommand(args.slice(1)));
        if (args[0] === 'rollout') return await import('./lab/rollout-command.ts').then((m) => m.labRolloutCommand(args.slice(1)));
        return await import('./lab/lab.ts').then((m) => m.labCommand(args));
      case 'chaos':
        return await import('./lab/chaos.ts').then((m) => m.chaosCommand(args));
      case 'help':
      case '--help':
      case '-h':
        process.stdout.write(USAGE + '\n');
        return 0;
      default:
        throw new UsageError(command ? `unknown command "${command}"` : 'no command given');
    }
  } catch (err) {
    if (err instanceof UsageError) {
      process.stderr.write(`orderflow: ${err.message}\n\n${USAGE}\n`);
      return 2;
    }
    // A subcommand's own flags (bench, lab, infra) are parsed there; their mistakes are usage errors too.
    if (typeof (err as { code?: unknown }).code === 'string' && (err as { code: string }).code.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`orderflow ${command}: ${(err as Error).message}\n`);
      return 2;
    }
    if (isOrderflowError(err)) {
      process.stderr.write(`orderflow: ${err.message} [${err.code}]\n`);
      return 1;
    }
    throw err;
  }
}

if (import.meta.main) process.exitCode = await main(process.argv.slice(2));

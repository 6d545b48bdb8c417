/**
 * `orderflow lab soak`: proves that what should be bounded stays bounded. It starts the whole
 * system (embedded by default; --distributed for Kafka and PostgreSQL) with short
 * retentions, so that they turn over many times within the run, drives a steady rate of
 * orders, and samples the rows of every table and the size of every file (soak-sample.ts)
 * once a minute. Writes report.json and summary.md into <out>/soak-<timestamp>/; exits 1
 * when a bounded table or file kept growing.
 *
 * The idempotency keys' TTL has a resolution of hours and the load sends no keys, so their
 * table stays empty here; Kafka's own retention (retention.ms) bounds its topics, which are
 * not sampled.
 */
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir, totalmem } from 'node:os';
import { join, resolve } from 'node:path';
import { randomUUID } from 'node:crypto';
import { parseArgs } from 'node:util';
import type { Bus } from '#platform/bus/bus.ts';
import { openBus } from '#platform/bus/open.ts';
import { architectures, loadPlatformConfig, type Architecture } from '#platform/config.ts';
import { serviceDatabaseName } from '#platform/db/open.ts';
import { dropPostgresDatabase } from '#platform/db/postgres.ts';
import { ConfigError, isOrderflowError } from '#platform/errors.ts';
import { silentLogger } from '#platform/log.ts';
import { loadRuntimeConfig } from '#runtime/config.ts';
import { databaseServices, freePortsForAll, startSystem, unlimitedGateway, type System } from '#runtime/system.ts';
import { createCatalog } from './arch-run.ts';
import { tracingEnv } from './system-env.ts';
import { createClient, type Client } from './client.ts';
import { timestamp } from './lab.ts';
import { nextOrder } from './load.ts';
import { pace } from './pacer.ts';
import { totalLag } from './sampler.ts';
import { renderSoakMarkdown, sampleTable, verdictLine, type SoakReport } from './soak-report.ts';
import { samplePostgres, sampleSqliteDir, soakVerdict, type SoakSample } from './soak-sample.ts';

export const SOAK_USAGE = `usage: orderflow lab soak [--minutes 30] [--rate 50] [--arch events|choreography|rest] [--distributed]
       [--sample-seconds 60] [--log-retention-minutes 2] [--inbox-retention-minutes 5]
       [--purge-seconds 20] [--tolerance 0.1] [--partitions 8] [--out lab-results]
  Starts the whole system with short retentions, drives --rate orders/s for --minutes, and
  every --sample-seconds prints the rows of every table of every database (the embedded log's
  records included) and the size of every file of the data dir (PostgreSQL: of every table).
  The verdict: every table and file but the business's data (orders, their events,
  reservations, payments, shipments, and the service databases holding them) must not grow
  over the last third of the run by more than --tolerance of its high in the middle third.
  Writes report.json and summary.md into <out>/soak-<timestamp>/; exits 1 when not flat.
  --distributed  Kafka at KAFKA_BROKERS and PostgreSQL at DATABASE_URL (Kafka's topics are not sampled)`;

export interface SoakOptions {
  arch: Architecture;
  minutes: number;
  rate: number;
  sampleSeconds: number;
  logRetentionMinutes: number;
  inboxRetentionMinutes: number;
  purgeSeconds: number;
  tolerance: number;
  partitions: number;
  distributed?: { brokers: string; databaseUrl: string };
  out: string;
}

const number = (name: string, raw: string, min: number, integer = false): number => {
  const n = Number(raw);
  if (!Number.isFinite(n) || n < min || (integer && !Number.isInteger(n))) throw ConfigError(`--${name} must be ${integer ? 'a whole number' : 'a number'} of at least ${min}; got "${raw}"`);
  return n;
};

/** The options of a command line; null when it asked for --help. */
export function parseSoakArgs(argv: string[], env?: Record<string, string | undefined>): SoakOptions | null {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    options: {
      minutes: { type: 'string', default: '30' },
      rate: { type: 'string', default: '50' },
      arch: { type: 'string', default: 'events' },
      distributed: { type: 'boolean', default: false },
      'sample-seconds': { type: 'string', default: '60' },
      'log-retention-minutes': { type: 'string', default: '2' },
      'inbox-retention-minutes': { type: 'string', default: '5' },
      'purge-seconds': { type: 'string', default: '20' },
      tolerance: { type: 'string', default: '0.1' },
      partitions: { type: 'string', default: '8' },
      out: { type: 'string', default: 'lab-results' },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) return null;
  if (!(architectures as readonly string[]).includes(v.arch!)) throw ConfigError(`--arch takes ${architectures.join(', ')}; got "${v.arch}"`);
  const o: SoakOptions = {
    arch: v.arch as Architecture,
    minutes: number('minutes', v.minutes!, 0.1),
    rate: number('rate', v.rate!, 1),
    sampleSeconds: number('sample-seconds', v['sample-seconds']!, 1),
    logRetentionMinutes: number('log-retention-minutes', v['log-retention-minutes']!, 1, true),
    inboxRetentionMinutes: number('inbox-retention-minutes', v['inbox-retention-minutes']!, 0.1),
    purgeSeconds: number('purge-seconds', v['purge-seconds']!, 1),
    tolerance: number('tolerance', v.tolerance!, 0),
    partitions: number('partitions', v.partitions!, 1, true),
    out: v.out!,
  };
  // A redelivery from the log must still find its id in the inbox, or it would be applied twice.
  if (o.inboxRetentionMinutes <= o.logRetentionMinutes) throw ConfigError('--inbox-retention-minutes must be longer than --log-retention-minutes');
  if (v.distributed) {
    const runtime = loadRuntimeConfig(env);
    o.distributed = { brokers: runtime.kafkaBrokers, databaseUrl: runtime.databaseUrl };
  }
  return o;
}

/** The system's environment: short retentions, purged often, so that they turn over many times in a run. */
export function soakEnv(o: SoakOptions, namespace: string): Record<string, string> {
  return {
    ORDERFLOW_ARCH: o.arch,
    LOG_LEVEL: 'warn',
    ORDERFLOW_PARTITIONS: String(o.partitions),
    ORDERFLOW_BUS: o.distributed ? 'kafka' : 'embedded',
    ORDERFLOW_STORE: o.distributed ? 'postgres' : 'sqlite',
    ORDERFLOW_NAMESPACE: namespace,
    ORDERFLOW_LOG_RETENTION_MINUTES: String(o.logRetentionMinutes),
    ORDERFLOW_LOG_TRIM_INTERVAL_MS: String(o.purgeSeconds * 1000),
    ORDERFLOW_INBOX_RETENTION_HOURS: String(o.inboxRetentionMinutes / 60),
    ORDERFLOW_INBOX_PURGE_INTERVAL_MS: String(o.purgeSeconds * 1000),
    ...(o.distributed ? { KAFKA_BROKERS: o.distributed.brokers, DATABASE_URL: o.distributed.databaseUrl } : {}),
    ...tracingEnv(undefined),
    // The gateway's rate limits off: the load comes from one address (and soon one token).
    ...unlimitedGateway,
  };
}

export interface SoakRun {
  report: SoakReport;
  dir: string;
}

export async function runSoak(o: SoakOptions, io: { say: (text: string) => void; command: string; signal?: AbortSignal }): Promise<SoakRun> {
  const started = new Date();
  const dataDir = mkdtempSync(join(tmpdir(), 'orderflow-soak-'));
  const namespace = `soak_${randomUUID().slice(0, 8)}`;
  const env = soakEnv(o, namespace);
  const databases = Object.fromEntries(databaseServices.map((s) => [s, serviceDatabaseName(namespace, s)]));
  const turnover = Math.max(o.logRetentionMinutes, o.inboxRetentionMinutes) + (2 * o.purgeSeconds) / 60;
  if (turnover > o.minutes / 3) io.say(`soak: the retentions turn over in about ${turnover.toFixed(1)} min, more than a third of the run: the bounded tables may still be filling when the verdict looks`);
  let system: System | undefined;
  let client: Client | undefined;
  let bus: Bus | undefined;
  const samples: SoakSample[] = [];
  try {
    io.say(`soak: starting the system (${o.arch}, ${o.distributed ? 'Kafka and PostgreSQL' : `embedded, data in ${dataDir}`})`);
    system = await startSystem({ dataDir, env, ports: freePortsForAll, restart: true, stdio: 'ignore' });
    client = createClient(system.gatewayUrl, 256, system.demoUsers);
    // The soak's own view of the bus, for the lag: it trims nothing itself (the services do).
    bus = await openBus({ ...loadPlatformConfig({ ...env, ORDERFLOW_DATA_DIR: dataDir }), embeddedLog: undefined }, 'soak', silentLogger);
    const mix = await createCatalog(client);
    const orders = { offered: 0, accepted: 0, failed: 0 };
    const c = client;
    const b = bus;
    let origin = performance.now();
    const sample = async (): Promise<SoakSample> => {
      const sized = o.distributed ? await samplePostgres(o.distributed.databaseUrl, databases) : sampleSqliteDir(dataDir);
      const lag = await totalLag(b, o.arch).catch(() => null);
      const s: SoakSample = { t: Math.round((performance.now() - origin) / 1000), at: new Date().toISOString(), ...sized, orders: { ...orders }, lag };
      io.say(sampleTable(s, samples[samples.length - 1]));
      samples.push(s);
      return s;
    };

    origin = performance.now();
    await sample();
    let sampling: Promise<unknown> = Promise.resolve();
    const timer = setInterval(() => {
      sampling = sampling.then(sample).catch((err) => io.say(`soak: a sample failed: ${(err as Error).message}`));
    }, o.sampleSeconds * 1000);
    try {
      io.say(`soak: ${o.rate} orders/s for ${o.minutes} min`);
      await pace({
        rate: o.rate,
        seconds: o.minutes * 60,
        signal: io.signal,
        send: async () => {
          orders.offered++;
          try {
            const r = await c.placeOrder(nextOrder(mix));
            if (r.status === 201 || r.status === 202) orders.accepted++;
            else orders.failed++;
          } catch {
            orders.failed++;
          }
        },
        overload: () => {
          orders.offered++;
          orders.failed++;
        },
      });
    } finally {
      clearInterval(timer);
      await sampling;
    }
    await sample();
  } finally {
    await bus?.close().catch(() => undefined);
    await client?.close().catch(() => undefined);
    await system?.stop();
    rmSync(dataDir, { recursive: true, force: true });
    if (o.distributed) for (const database of Object.values(databases)) await dropPostgresDatabase(o.distributed.databaseUrl, database).catch(() => undefined);
  }
  const cpu = cpus();
  const report: SoakReport = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    command: io.command,
    deployment: o.distributed ? 'distributed' : 'embedded',
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version },
    settings: {
      arch: o.arch, rate: o.rate, minutes: o.minutes, sampleSeconds: o.sampleSeconds,
      logRetentionMinutes: o.logRetentionMinutes, logTrimIntervalSeconds: o.purgeSeconds,
      inboxRetentionMinutes: o.inboxRetentionMinutes, inboxPurgeIntervalSeconds: o.purgeSeconds, partitions: o.partitions,
    },
    samples,
    // Queues (the outboxes) hold a moment's messages whatever the instant: a second of orders is noise.
    verdict: soakVerdict(samples, { tolerance: o.tolerance, slack: { rows: Math.max(50, Math.ceil(o.rate)), bytes: 256 * 1024 } }),
  };
  const dir = resolve(o.out, `soak-${timestamp(started)}`);
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'report.json'), JSON.stringify(report, null, 2) + '\n');
  writeFileSync(join(dir, 'summary.md'), renderSoakMarkdown(report));
  return { report, dir };
}

export async function soakCommand(argv: string[]): Promise<number> {
  let options: SoakOptions | null;
  try {
    options = parseSoakArgs(argv);
  } catch (err) {
    if (!isOrderflowError(err, ConfigError.code)) throw err;
    process.stderr.write(`orderflow lab soak: ${err.message}\n\n${SOAK_USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(SOAK_USAGE + '\n');
    return 0;
  }
  const abort = new AbortController();
  const onSignal = () => {
    process.stderr.write('\nstopping the load; the samples so far are judged and written (Ctrl-C again to kill)\n');
    if (abort.signal.aborted) process.exit(130);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const run = await runSoak(options, { say: (t) => process.stderr.write(`${t}\n`), command: ['orderflow lab soak', ...argv].join(' '), signal: abort.signal });
    process.stdout.write(`\n${renderSoakMarkdown(run.report)}\nreport: ${join(run.dir, 'report.json')}\n        ${join(run.dir, 'summary.md')}\nverdict: ${verdictLine(run.report.verdict)}\n`);
    return run.report.verdict.flat && !abort.signal.aborted ? 0 : 1;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

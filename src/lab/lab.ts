/**
 * `orderflow lab`: each architecture on a fresh system, an open-model load stepped up to
 * saturation, its knee, and fault scenarios under steady load; written to
 * lab-results/<timestamp>/ as report.json, report.html and summary.md.
 */
import { readFile } from 'node:fs/promises';
import { cpus, totalmem } from 'node:os';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { architectures, type Architecture } from '#platform/config.ts';
import { ConfigError, isOrderflowError } from '#platform/errors.ts';
import { loadRuntimeConfig } from '#runtime/config.ts';
import type { System } from '#runtime/system.ts';
import { writeReport } from '#lab/report/report.ts';
import { archLabel, type ArchResult, type ArchVariant, type LabReport } from './lab-result.ts';
import { faultRateFor, runArch, type ArchRunOptions } from './arch-run.ts';
import { loadLabEnv } from './config.ts';
import { defaultTiming, type FaultTiming, type Scenario } from './faults.ts';
import { kneeRatios } from './knee.ts';
import { stderrProgress, type Progress } from './progress.ts';

export const USAGE = `usage: orderflow lab [--arch events,choreography,rest] [--kafka] [--postgres] [--distributed]
       [--rates 50,100,200,...] [--step-seconds 15] [--warmup 5] [--no-faults]
       [--fault-rate N] [--fault-seconds 40] [--partitions 8] [--replicas 1] [--tracing off|on|both]
       [--views 2] [--out lab-results] [--quick] [--verbose]
  For each architecture: starts the whole system (every service its own process), drives an
  open-model load through the gateway at each rate until saturation, finds the knee (highest
  rate with completion p99 < 1 s and errors < 1 %), then runs fault scenarios on payments
  (kill -9 and restart after 10 s; 200 ms added latency) at half the knee. Each step also
  reports what one order cost: CPU ms per process, database statements and commits (with
  PostgreSQL's own count where pg_stat_statements is loaded), Kafka requests by API.
  Writes report.json, report.html and summary.md into <out>/<timestamp>/.
  --kafka / --postgres / --distributed  Kafka at KAFKA_BROKERS, PostgreSQL at DATABASE_URL (as up)
  --replicas instances of each service behind the gateway (default ORDERFLOW_REPLICAS or 1); the
             faults then hit one instance of payments
  --tracing  on: spans to Zipkin at ZIPKIN_URL (its CPU counted); both: each arch untraced, then traced
  --views    products a shopper views before each order, sent to POST /api/events with the order
             (not in the orders' figures; the report counts them); 0 for orders alone
  --quick    a short smoke run: rates 20,40, 3 s steps, short fault scenarios`;

export const DEFAULT_RATES = [50, 100, 200, 300, 400, 600, 800, 1000, 1200, 1500, 2000, 2500, 3000, 3500, 4000, 5000, 6000];
// deadline 5 s: the shortest the orders service takes (above its rest request deadline, 4 s).
const QUICK_TIMING: FaultTiming = { at: 3, restartAfter: 3, deadline: 5, latencyFor: 4, latencyMs: 200, drainSeconds: 30 };

export const tracingModes = ['off', 'on', 'both'] as const;
export type TracingMode = (typeof tracingModes)[number];

export interface LabOptions extends Omit<ArchRunOptions, 'progress' | 'say' | 'signal' | 'onSystem' | 'zipkin'> {
  archs: Architecture[];
  /** off: untraced systems; on: traced ones; both: each architecture untraced, then traced. */
  tracing: TracingMode;
  /** Zipkin's base URL (ZIPKIN_URL) when tracing is on or both. */
  zipkinUrl?: string;
  out: string;
  verbose: boolean;
}

const list = (name: string, raw: string): number[] => {
  const xs = raw.split(',').map((s) => Number(s.trim()));
  if (xs.length === 0 || xs.some((x) => !(x > 0))) throw ConfigError(`--${name} must be positive numbers separated by commas; got "${raw}"`);
  return xs;
};
const positive = (name: string, raw: string | undefined, fallback: number, allowZero = false): number => {
  if (raw === undefined) return fallback;
  const n = Number(raw);
  if (!Number.isFinite(n) || n < 0 || (!allowZero && n === 0)) throw ConfigError(`--${name} must be a ${allowZero ? 'non-negative' : 'positive'} number; got "${raw}"`);
  return n;
};

const wholeNumber = (name: string, raw: string): number => {
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 16) throw ConfigError(`--${name} must be a whole number from 1 to 16; got "${raw}"`);
  return n;
};

/** The options of a command line; null when it asked for --help. */
export function parseLabArgs(argv: string[], env?: Record<string, string | undefined>): LabOptions | null {
  const { values: v } = parseArgs({
    args: argv,
    strict: true,
    allowNegative: true,
    options: {
      arch: { type: 'string', default: architectures.join(',') },
      kafka: { type: 'boolean', default: false },
      postgres: { type: 'boolean', default: false },
      distributed: { type: 'boolean', default: false },
      rates: { type: 'string' },
      'step-seconds': { type: 'string' },
      warmup: { type: 'string' },
      faults: { type: 'boolean', default: true },
      'fault-rate': { type: 'string' },
      'fault-seconds': { type: 'string' },
      partitions: { type: 'string', default: '8' },
      views: { type: 'string', default: '2' },
      replicas: { type: 'string' },
      tracing: { type: 'string', default: 'off' },
      out: { type: 'string', default: 'lab-results' },
      quick: { type: 'boolean', default: false },
      verbose: { type: 'boolean', default: false },
      help: { type: 'boolean', default: false },
    },
  });
  if (v.help) return null;
  const archs = v.arch!.split(',').map((a) => a.trim());
  for (const a of archs) if (!(architectures as readonly string[]).includes(a)) throw ConfigError(`--arch takes ${architectures.join(', ')}; got "${a}"`);
  const runtime = loadRuntimeConfig(env);
  const tracing = v.tracing as TracingMode;
  if (!(tracingModes as readonly string[]).includes(tracing)) throw ConfigError(`--tracing takes ${tracingModes.join(', ')}; got "${v.tracing}"`);
  const { zipkinUrl } = loadLabEnv(env);
  if (tracing !== 'off') {
    if (!zipkinUrl) throw ConfigError(`--tracing ${tracing} needs Zipkin: start it (npm run infra:zipkin) and export ZIPKIN_URL (e.g. http://127.0.0.1:9411)`);
    if (!URL.canParse(zipkinUrl)) throw ConfigError(`ZIPKIN_URL must be a URL such as http://127.0.0.1:9411; got "${zipkinUrl}"`);
  }
  const quick = v.quick!;
  const faultSeconds = positive('fault-seconds', v['fault-seconds'], quick ? 12 : 40);
  const timing = quick ? QUICK_TIMING : defaultTiming;
  if (faultSeconds < timing.at + timing.latencyFor + 1) throw ConfigError(`--fault-seconds must leave room for the fault: at least ${timing.at + timing.latencyFor + 1}`);
  return {
    archs: archs as Architecture[],
    rates: v.rates ? list('rates', v.rates) : quick ? [20, 40] : DEFAULT_RATES,
    stepSeconds: positive('step-seconds', v['step-seconds'], quick ? 3 : 15),
    warmupSeconds: positive('warmup', v.warmup, quick ? 1 : 5, true),
    stepDrainSeconds: 30,
    faults: v.faults ? ['kill-restart', 'latency', 'outage-past-deadline'] : [],
    faultRate: v['fault-rate'] === undefined ? undefined : positive('fault-rate', v['fault-rate'], 0),
    faultSeconds,
    faultTiming: timing,
    kafka: v.kafka || v.distributed ? { brokers: runtime.kafkaBrokers } : undefined,
    postgres: v.postgres || v.distributed ? { url: runtime.databaseUrl } : undefined,
    connectUrl: v.kafka || v.distributed ? runtime.debeziumConnectUrl : undefined,
    partitions: positive('partitions', v.partitions, 8),
    viewsPerOrder: positive('views', v.views, 2, true),
    replicas: wholeNumber('replicas', v.replicas ?? runtime.replicas),
    tracing,
    zipkinUrl: tracing === 'off' ? undefined : zipkinUrl,
    out: v.out!,
    verbose: v.verbose!,
  };
}

/** One system the lab runs: an architecture, plain or as a variant. */
export interface PlannedRun {
  arch: Architecture;
  variant?: ArchVariant;
}

/** The runs in order: with both, each architecture untraced then traced, back to back, so the two see the same machine. */
export function plannedRuns(o: Pick<LabOptions, 'archs' | 'tracing'>): PlannedRun[] {
  return o.archs.flatMap((arch): PlannedRun[] => {
    const traced = { arch, variant: 'tracing' as const };
    return o.tracing === 'both' ? [{ arch }, traced] : o.tracing === 'on' ? [traced] : [{ arch }];
  });
}

export const timestamp = (d: Date): string => d.toISOString().slice(0, 19).replace(/:/g, '-');

export interface LabRun {
  report: LabReport;
  dir: string;
  paths: { json: string; html: string; markdown: string };
  /** Runs that could not be measured, with why. */
  failures: Array<PlannedRun & { error: unknown }>;
}

/** Runs the lab; `signal` stops the load early (what was measured is still written). */
export async function runLab(o: LabOptions, io: { say: (line: string) => void; progress: Progress; command: string; signal?: AbortSignal; onSystem?: (s: System | undefined) => void }): Promise<LabRun> {
  const started = new Date();
  const archs: ArchResult[] = [];
  const failures: LabRun['failures'] = [];
  if (o.tracing !== 'off') await checkZipkin(o.zipkinUrl);
  for (const run of plannedRuns(o)) {
    if (io.signal?.aborted) break;
    // A traced run takes its faults at the untraced run's rate, so the two compare.
    const untraced = run.variant ? archs.find((a) => a.arch === run.arch && !a.variant) : undefined;
    const faultRate = o.faultRate ?? (untraced ? faultRateFor(untraced.knee) : undefined);
    try {
      archs.push(await runArch(run.arch, {
        ...o, faultRate, zipkin: run.variant === 'tracing' ? { url: o.zipkinUrl! } : undefined,
        progress: io.progress, say: io.say, signal: io.signal, onSystem: io.onSystem, serviceLog: o.verbose ? (l) => io.say(l) : undefined,
      }));
    } catch (error) {
      io.say(`${archLabel(run)}: failed: ${(error as Error).stack ?? error}`);
      failures.push({ ...run, error });
    }
  }
  const cpu = cpus();
  const report: LabReport = {
    startedAt: started.toISOString(),
    finishedAt: new Date().toISOString(),
    command: io.command,
    deployment: o.kafka || o.postgres ? 'distributed' : 'embedded',
    machine: { cpus: cpu.length, cpuModel: cpu[0]?.model ?? 'unknown', memoryGiB: Math.round(totalmem() / 2 ** 30), node: process.version, platform: `${process.platform} ${process.arch}` },
    settings: { rates: o.rates, stepSeconds: o.stepSeconds, warmupSeconds: o.warmupSeconds, faultRate: faultRateOf(o, archs), faultSeconds: o.faultSeconds, partitions: o.partitions, tracing: o.tracing },
    archs,
    // Architectures against each other, untraced; tracing's own cost has its table.
    kneeRatios: kneeRatios(archs.filter((a) => !a.variant).map((a) => ({ arch: a.arch, knee: a.knee }))),
  };
  const dir = resolve(o.out, timestamp(started));
  const paths = await writeReport(dir, report);
  return { report, dir, paths, failures };
}

/** Zipkin must answer before the first traced system starts: spans sent nowhere would cost less than tracing does. */
async function checkZipkin(url: string | undefined): Promise<void> {
  const health = `${url}/health`;
  try {
    const res = await fetch(health, { signal: AbortSignal.timeout(5_000) });
    if (res.ok) return;
    throw new Error(`answered ${res.status}`);
  } catch (cause) {
    throw ConfigError(`Zipkin at ZIPKIN_URL=${url} does not answer (${health}: ${(cause as Error).message}); start it with npm run infra:zipkin`, { cause });
  }
}

/** The fault rate asked for, or the one every architecture ran at; 0 when they differ (each fault result has its own). */
function faultRateOf(o: LabOptions, archs: ArchResult[]): number {
  if (o.faultRate !== undefined) return o.faultRate;
  const rates = new Set(archs.flatMap((a) => a.faults.map((f) => f.rate)));
  return rates.size === 1 ? [...rates][0] : 0;
}

export async function labCommand(argv: string[]): Promise<number> {
  let options: LabOptions | null;
  try {
    options = parseLabArgs(argv);
  } catch (err) {
    if (!isOrderflowError(err, ConfigError.code)) throw err;
    process.stderr.write(`orderflow lab: ${err.message}\n\n${USAGE}\n`);
    return 2;
  }
  if (!options) {
    process.stdout.write(USAGE + '\n');
    return 0;
  }
  const abort = new AbortController();
  const systems = new Set<System>();
  let current: System | undefined;
  let signals = 0;
  const onSignal = (signal: NodeJS.Signals) => {
    if (++signals > 1) {
      // Second Ctrl-C: no more waiting; the services die with their parent watch anyway.
      for (const s of systems) for (const instance of s.instances()) s.kill(instance.name, 'SIGKILL');
      process.stderr.write(`\n${signal} again: killed\n`);
      process.exit(130);
    }
    process.stderr.write(`\n${signal}: stopping the load and the system, writing what was measured (Ctrl-C again to kill at once)\n`);
    abort.abort();
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  try {
    const run = await runLab(options, {
      say: (line) => process.stderr.write(`${line}\n`),
      progress: stderrProgress(),
      command: ['orderflow lab', ...argv].join(' '),
      signal: abort.signal,
      onSystem: (s) => {
        if (current) systems.delete(current);
        current = s;
        if (s) systems.add(s);
      },
    });
    process.stdout.write(`\n${await readFile(run.paths.markdown, 'utf8')}\n`);
    process.stdout.write(`report: ${run.paths.html}\n        ${run.paths.json}\n        ${run.paths.markdown}\n`);
    for (const f of run.failures) process.stderr.write(`${archLabel(f)} could not be measured: ${(f.error as Error).message ?? f.error}\n`);
    return run.failures.length > 0 || abort.signal.aborted ? 1 : 0;
  } catch (err) {
    // Zipkin asked for and not answering: nothing was run.
    if (!isOrderflowError(err, ConfigError.code)) throw err;
    process.stderr.write(`orderflow lab: ${err.message}\n`);
    return 2;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}

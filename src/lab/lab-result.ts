/**
 * What one lab run measured: the shape of lab-results/<timestamp>/report.json, written by
 * the lab (lab.ts) and read by the report (report/). Times are milliseconds, rates per second.
 */
import type { Architecture } from '#platform/config.ts';

export type { Architecture };

/** From an HdrHistogram (node:perf_hooks), latency from the intended send time: coordinated omission corrected. */
export interface LatencySummary {
  count: number;
  mean: number;
  p50: number;
  p90: number;
  p99: number;
  p999: number;
  max: number;
}

/** One process over one step: CPU in % of one core (200 = both cores of a 2-core box), resident memory in MiB. */
export interface ProcessUsage {
  /** gateway, orders, inventory, payments, shipping, kafka, postgres, lab (the load generator). */
  name: string;
  cpuPercent: { mean: number; max: number };
  rssMb: { mean: number; max: number };
}

/**
 * One service's work over one step, from its /metrics: HTTP requests plus bus messages it
 * handled, per second, with the mean and p99 of their handling time (p99 from histogram
 * buckets, so approximate).
 */
export interface ServiceLoad {
  service: string;
  requestsPerSecond: number;
  avgMs: number;
  p99Ms: number;
}

/**
 * What one order cost in a step: the step's counts from just before its load to the end of
 * its drain (so every order's work is inside) divided by the orders completed in it.
 * Idle work in that window (polls, heartbeats, probes) is part of the cost, as it is of
 * running the system.
 */
export interface StepCost {
  /** Orders the counts are divided by: completed in the step, drain included. */
  orders: number;
  /** Seconds counted: load and drain. */
  seconds: number;
  /** CPU ms per order by process (services, kafka, postgres, and the load generator `lab`), from exact CPU time. */
  cpuMsPerOrder: Record<string, number>;
  /** Every process but the load generator. */
  systemCpuMsPerOrder: number;
  /**
   * Statements per order. client: sent by the services (orderflow_db_statements_total;
   * BEGIN/COMMIT/ROLLBACK included, so round trips); server: executed by PostgreSQL
   * (pg_stat_statements calls), null without the extension or on SQLite.
   */
  dbStatementsPerOrder: { client: number; server: number | null };
  /**
   * Commits per order, counting a statement outside a transaction as its own. client: the
   * services' count; server: pg_stat_database xact_commit, null on SQLite.
   */
  dbCommitsPerOrder: { client: number; server: number | null };
  /** Explicit BEGIN … COMMIT transactions per order, from the services. */
  dbTransactionsPerOrder: number;
  /** Rollbacks per order: client (explicit), server (pg_stat_database), null on SQLite. */
  dbRollbacksPerOrder: { client: number; server: number | null };
  /** Requests the services sent to Kafka per order, by API (Produce, Fetch, OffsetCommit, …); empty on the embedded log. */
  kafkaRequestsPerOrder: Record<string, number>;
  kafkaRequestsTotalPerOrder: number;
}

export interface StepResult {
  /** The arrival rate asked for. */
  targetRate: number;
  /** Seconds of load in the step (drain time excluded). */
  seconds: number;
  offered: number;
  accepted: number;
  completed: number;
  offeredRate: number;
  acceptedRate: number;
  completedRate: number;
  /** Count by kind: http-503, http-504, timeout, network, not-completed... */
  errors: Record<string, number>;
  /** Errors over offered. */
  errorRatio: number;
  /** POST /api/orders: due time to HTTP answer. */
  http: LatencySummary;
  /** Due time to terminal status (CONFIRMED or CANCELLED). */
  completion: LatencySummary;
  processes: ProcessUsage[];
  services: ServiceLoad[];
  /** Consumer lag summed over the groups, in messages; null where there is no bus in the order path (rest). */
  lag: { max: number; end: number } | null;
  /** Completion p99 < 1 s and errors < 1 %. */
  healthy: boolean;
  /** Per-order cost; absent in reports written before the lab counted it, null when no order completed. */
  cost?: StepCost | null;
  /** Browsing alongside the orders: client events the log took, and batches refused or lost; absent before the lab browsed. */
  views?: { accepted: number; failedBatches: number };
}

/** A point of a fault timeline, one per second. */
export interface TimelinePoint {
  /** Seconds since the scenario's load started. */
  t: number;
  offered: number;
  /** Orders answered 2xx in this second. */
  accepted: number;
  /** Orders that reached a terminal status in this second. */
  completed: number;
  errors: number;
  /** p99 completion latency of the orders completed in this second; null when none. */
  completionP99: number | null;
}

export interface FaultEvent {
  t: number;
  what: string;
}

export interface FaultResult {
  /**
   * kill-restart: kill -9 of `service`, restarted after 10 s; latency: `latencyMs` added to
   * `service`; outage-past-deadline: kill -9 of `service`, restarted only after the saga's
   * step deadline (`deadlineSeconds`) has passed, so the orders waiting on it time out.
   */
  scenario: 'kill-restart' | 'latency' | 'outage-past-deadline';
  service: string;
  latencyMs?: number;
  rate: number;
  seconds: number;
  offered: number;
  /** Answered 2xx (or whose id the system named in an error: accepted before failing). */
  accepted: number;
  /** Accepted and terminal by the end of the drain. */
  completed: number;
  /** Accepted and never terminal: must be 0. */
  lost: number;
  /** Of the completed, those CANCELLED as TIMEOUT (absent in reports written before issue 9). */
  timedOut?: number;
  /** outage-past-deadline: the orders service's saga step deadline the outage outlasts. */
  deadlineSeconds?: number;
  /** Requests answered with an error (by kind in errors). */
  failed: number;
  errors: Record<string, number>;
  /** Seconds from the fault's end (restart, latency removed) until completions keep pace with arrivals again; null if never. */
  recoverSeconds: number | null;
  /** Seconds from the end of the load until the last accepted order was terminal; null if some never were. */
  drainSeconds: number | null;
  events: FaultEvent[];
  timeline: TimelinePoint[];
}

/**
 * How an architecture's system ran beyond its defaults: `tracing`, every service exporting
 * its spans to Zipkin (lab --tracing on|both). Absent for the plain system, and in reports
 * written before the lab had variants.
 */
export type ArchVariant = 'tracing';

export interface ArchResult {
  arch: Architecture;
  variant?: ArchVariant;
  steps: StepResult[];
  /** Highest target rate of a healthy step, or null when none was. */
  knee: number | null;
  /** The step the knee was found at (for the per-service table), or null. */
  kneeStep: StepResult | null;
  faults: FaultResult[];
}

export interface LabReport {
  startedAt: string;
  finishedAt: string;
  /** The command line that produced it. */
  command: string;
  deployment: 'embedded' | 'distributed';
  machine: { cpus: number; cpuModel: string; memoryGiB: number; node: string; platform: string };
  settings: {
    rates: number[];
    stepSeconds: number;
    warmupSeconds: number;
    faultRate: number;
    faultSeconds: number;
    partitions: number;
    /** off, on or both (each architecture untraced, then traced); absent in reports from before the option. */
    tracing?: 'off' | 'on' | 'both';
  };
  archs: ArchResult[];
  /** knee(a) / knee(b) for each pair of untraced architectures with both knees, e.g. { 'events/rest': 2.6 }. */
  kneeRatios: Record<string, number>;
}

/** What a run is called in the report and on stderr: `events`, or `events + tracing` for a variant. */
export function archLabel(a: { arch: Architecture; variant?: ArchVariant }): string {
  return a.variant ? `${a.arch} + ${a.variant}` : a.arch;
}

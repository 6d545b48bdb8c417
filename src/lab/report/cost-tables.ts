// The per-order cost tables (CPU by process; database and Kafka round trips), built once
// for both the markdown and the HTML, like tables.ts.
import type { ArchResult, StepCost, StepResult } from '#lab/lab-result.ts';
import { NA, isNum, num } from './format.ts';
import type { Table } from './tables.ts';

/** Process columns in this order when present; others follow by name. */
const PROCESS_ORDER = ['gateway', 'orders', 'inventory', 'payments', 'shipping', 'kafka', 'postgres', 'connect', 'zipkin'];
const LOAD_GENERATOR = 'lab';
/** Beyond this many Kafka APIs the rarest are summed into one column. */
const MAX_APIS = 7;

const costed = (arch: ArchResult): Array<StepResult & { cost: StepCost }> =>
  (arch.steps ?? []).filter((s): s is StepResult & { cost: StepCost } => !!s.cost);

/** Per-order figures, at least two significant digits below 1 (0.043, not 0.04). */
export function perOrder(v: unknown): string {
  if (!isNum(v)) return NA;
  if (v !== 0 && Math.abs(v) < 1) return String(Number(v.toPrecision(2)));
  return num(v);
}

/** A row of a cost table: its leading cells (rate, load…) and the cost they stand for. */
export interface CostRow {
  labels: string[];
  cost: StepCost;
}

/** Leading columns: their headers, and whether they hold numbers (right-aligned). */
export interface LabelColumns {
  headers: string[];
  numeric: boolean;
}

/** CPU ms per order by process, the system's total, and the load generator apart. */
export function cpuTable(label: LabelColumns, items: CostRow[]): Table {
  const labelHeaders = label.headers;
  const names = new Set(items.flatMap((r) => Object.keys(r.cost.cpuMsPerOrder ?? {})));
  const processes = [...PROCESS_ORDER.filter((n) => names.has(n)), ...[...names].filter((n) => !PROCESS_ORDER.includes(n) && n !== LOAD_GENERATOR).sort()];
  const headers = [...labelHeaders, ...processes, 'System', 'lab (load)'];
  const rows = items.map(({ labels, cost }) => [
    ...labels,
    ...processes.map((p) => perOrder(cost.cpuMsPerOrder?.[p])),
    perOrder(cost.systemCpuMsPerOrder), perOrder(cost.cpuMsPerOrder?.[LOAD_GENERATOR]),
  ]);
  return { headers, numeric: headers.map((_, i) => i >= labelHeaders.length || label.numeric), rows };
}

/** The Kafka APIs of the rows, most requested first, the rarest folded into "other". */
export function kafkaColumns(items: Array<{ cost: StepCost }>): { apis: string[]; other: boolean } {
  const totals = new Map<string, number>();
  for (const s of items) for (const [api, n] of Object.entries(s.cost.kafkaRequestsPerOrder ?? {})) totals.set(api, (totals.get(api) ?? 0) + (isNum(n) ? n : 0));
  const sorted = [...totals].filter(([, n]) => n > 0).sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0])).map(([api]) => api);
  if (sorted.length <= MAX_APIS) return { apis: sorted, other: false };
  return { apis: sorted.slice(0, MAX_APIS - 1), other: true };
}

/** Database statements and commits and Kafka requests (total and by API) per order. */
export function tripsTable(label: LabelColumns, items: CostRow[]): Table {
  const labelHeaders = label.headers;
  const { apis, other } = kafkaColumns(items);
  const hasKafka = items.some((s) => isNum(s.cost.kafkaRequestsTotalPerOrder) && s.cost.kafkaRequestsTotalPerOrder > 0);
  // SQLite has no server of its own to ask: no columns of n/a.
  const server = items.some((s) => isNum(s.cost.dbCommitsPerOrder?.server));
  const headers = [
    ...labelHeaders, 'DB statements', ...(server ? ['DB statements (server)'] : []), 'DB commits', ...(server ? ['DB commits (server)'] : []), 'BEGIN…COMMIT',
    ...(hasKafka ? ['Kafka requests', ...apis, ...(other ? ['other'] : [])] : []),
  ];
  const rows = items.map(({ labels, cost: c }) => {
    const kafka = c.kafkaRequestsPerOrder ?? {};
    const rest = Object.entries(kafka).filter(([api]) => !apis.includes(api)).reduce((a, [, n]) => a + n, 0);
    return [
      ...labels,
      perOrder(c.dbStatementsPerOrder?.client), ...(server ? [perOrder(c.dbStatementsPerOrder?.server)] : []),
      perOrder(c.dbCommitsPerOrder?.client), ...(server ? [perOrder(c.dbCommitsPerOrder?.server)] : []),
      perOrder(c.dbTransactionsPerOrder),
      ...(hasKafka ? [perOrder(c.kafkaRequestsTotalPerOrder), ...apis.map((a) => perOrder(kafka[a] ?? 0)), ...(other ? [perOrder(rest)] : [])] : []),
    ];
  });
  return { headers, numeric: headers.map((_, i) => i >= labelHeaders.length || label.numeric), rows };
}

/** An architecture's steps as cost rows; none when no step was costed (a report from before the lab counted). */
function stepRows(arch: ArchResult, withCompleted: boolean): CostRow[] {
  return costed(arch).map((s) => ({ labels: withCompleted ? [num(s.targetRate), num(s.completedRate)] : [num(s.targetRate)], cost: s.cost }));
}

/** CPU ms per order by process for each step; null when no step was costed. */
export function cpuCostTable(arch: ArchResult): Table | null {
  const rows = stepRows(arch, true);
  return rows.length ? cpuTable({ headers: ['Rate/s', 'Completed/s'], numeric: true }, rows) : null;
}

/** Round trips per order for each step; null when no step was costed. */
export function roundTripTable(arch: ArchResult): Table | null {
  const rows = stepRows(arch, false);
  return rows.length ? tripsTable({ headers: ['Rate/s'], numeric: true }, rows) : null;
}

export const COST_NOTE =
  'Per order = counted from just before a step\'s load to the end of its drain, divided by the orders completed in the step, so idle work in that window (polls, heartbeats, probes) is included. ' +
  'CPU in ms from each process\'s cumulative CPU time (/proc; PostgreSQL: the postmaster and every backend, those that exited included); System = every process but the load generator. ' +
  'DB statements and commits are counted by the services (every round trip, BEGIN/COMMIT included; a statement outside a transaction is its own commit); ' +
  '"(server)" is PostgreSQL\'s own count for the run\'s databases (pg_stat_statements calls, pg_stat_database xact_commit), n/a when not available. ' +
  'Kafka requests are those the services sent, by API (the load generator\'s own, for completions and lag, are not in them, but the broker CPU they cause is).';

/** What the embedded deployment's figures leave out. */
export const EMBEDDED_COST_NOTE =
  'Embedded: the log runs inside the service processes, so its CPU is theirs, and its SQLite statements (a file of its own) are not in the database counts.';

/** What a traced run's figures put in. */
export const TRACED_COST_NOTE =
  'Traced: System includes the CPU of the Zipkin server the spans went to (the zipkin column), as the tracing backend is part of running the system traced.';

/** The note under an architecture's cost tables, for its deployment and variant. */
export function costNote(deployment: string | undefined, arch: Pick<ArchResult, 'variant'>): string {
  return [COST_NOTE, ...(deployment === 'embedded' ? [EMBEDDED_COST_NOTE] : []), ...(arch.variant === 'tracing' ? [TRACED_COST_NOTE] : [])].join(' ');
}

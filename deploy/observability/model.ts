/**
 * Dashboards as data: what a page shows, independent of who draws it. panels.ts says what
 * the orderflow pages hold; consoles.ts draws them as Prometheus console templates and
 * grafana.ts as Grafana dashboards, so the two never drift.
 */

/** How a value reads. Each renderer maps a unit to its own formatter (see consoles.ts, grafana.ts). */
export type Unit = 'seconds' | 'bytes' | 'requests/s' | 'messages/s' | 'orders/s' | 'records' | 'cores' | 'circuit' | 'count';

export interface Query {
  /** PromQL; a range is written `[$__rate_interval]` (Grafana's variable; consoles use a fixed window). */
  expr: string;
  /** The series' name, Grafana's legend syntax: `{{label}}` is the label's value. */
  legend: string;
}

export interface Panel {
  title: string;
  /** A stat shows one number (its query must return one series); a timeseries draws every series. */
  kind: 'timeseries' | 'stat';
  unit: Unit;
  queries: Query[];
  /** What to read from it, for the one looking at it (Grafana's panel info, the console's caption). */
  description?: string;
}

export interface Row {
  title: string;
  panels: Panel[];
}

export interface Dashboard {
  /** File name without extension: consoles/<slug>.html, grafana/dashboards/<slug>.json. */
  slug: string;
  /** Short, for menus and links. */
  name: string;
  title: string;
  description: string;
  rows: Row[];
}

/** The scrape job every service is in (deploy/prometheus and the metric contract of issue 8). */
export const JOB = 'orderflow';

/** The range of every rate: Grafana picks it from the scrape interval; consoles.ts substitutes a window. */
export const RATE_INTERVAL = '$__rate_interval';

/** `metric{job="orderflow",...}`: every query is of the orderflow job, never Prometheus's own series. */
export function series(metric: string, matchers: string[] = []): string {
  return `${metric}{${[`job="${JOB}"`, ...matchers].join(',')}}`;
}

/** `sum by (by) (rate(metric{...}[$__rate_interval]))`; `by` empty sums everything. */
export function sumRate(metric: string, by: string[], matchers: string[] = []): string {
  return `${sumBy(by)}(rate(${series(metric, matchers)}[${RATE_INTERVAL}]))`;
}

/** The q-quantile of a histogram over the rate window, kept apart by `by`. */
export function quantile(q: number, histogram: string, by: string[], matchers: string[] = []): string {
  return `histogram_quantile(${q}, sum by (${['le', ...by].join(', ')}) (rate(${series(`${histogram}_bucket`, matchers)}[${RATE_INTERVAL}])))`;
}

/** `agg by (by) (metric{...})` for gauges. */
export function gauge(agg: 'sum' | 'max' | 'min', metric: string, by: string[], matchers: string[] = []): string {
  return `${by.length ? `${agg} by (${by.join(', ')}) ` : `${agg}`}(${series(metric, matchers)})`;
}

function sumBy(by: string[]): string {
  return by.length ? `sum by (${by.join(', ')}) ` : 'sum';
}

/** The labels a legend names, `{{group}}` → group. */
export function legendLabels(legend: string): string[] {
  return [...legend.matchAll(/\{\{\s*(\w+)\s*\}\}/g)].map((m) => m[1]);
}

/** Every query of a dashboard, with the panel it belongs to (for the tests that run them). */
export function queriesOf(dashboard: Dashboard): Array<{ panel: Panel; query: Query }> {
  return dashboard.rows.flatMap((row) => row.panels.flatMap((panel) => panel.queries.map((query) => ({ panel, query }))));
}

/**
 * The dashboards as Grafana dashboard JSON (schemaVersion 39, Grafana 10.4 and later), for
 * compose and Kubernetes users who run Grafana: a `datasource` variable picks the Prometheus,
 * rows of timeseries and stat panels, and links between the orderflow dashboards by tag.
 */
import type { Dashboard, Panel, Row, Unit } from './model.ts';

export const SCHEMA_VERSION = 39;
const TAG = 'orderflow';
const datasource = { type: 'prometheus', uid: '${datasource}' };

interface GrafanaUnit {
  unit: string;
  axisLabel?: string;
  min?: number;
  max?: number;
  mappings?: unknown[];
}

const units: Record<Unit, GrafanaUnit> = {
  seconds: { unit: 's' },
  bytes: { unit: 'bytes' },
  'requests/s': { unit: 'reqps' },
  'messages/s': { unit: 'ops', axisLabel: 'messages/s' },
  'orders/s': { unit: 'short', axisLabel: 'orders/s' },
  records: { unit: 'short', axisLabel: 'records' },
  cores: { unit: 'short', axisLabel: 'cores' },
  circuit: {
    unit: 'none',
    min: 0,
    max: 2,
    mappings: [{
      type: 'value',
      options: {
        0: { index: 0, text: 'closed', color: 'green' },
        1: { index: 1, text: 'half-open', color: 'yellow' },
        2: { index: 2, text: 'open', color: 'red' },
      },
    }],
  },
  count: { unit: 'none' },
};

const GRAPH = { w: 12, h: 8 };
const STAT = { minW: 3, h: 4 };

export function renderGrafana(dashboard: Dashboard): string {
  const panels: unknown[] = [];
  let id = 0;
  let y = 0;
  for (const row of dashboard.rows) {
    panels.push({ collapsed: false, gridPos: { h: 1, w: 24, x: 0, y }, id: ++id, panels: [], title: row.title, type: 'row' });
    y += 1;
    let x = 0;
    let rowHeight = 0;
    for (const { panel, w, h } of sizes(row)) {
      if (x + w > 24) {
        x = 0;
        y += rowHeight;
        rowHeight = 0;
      }
      panels.push(grafanaPanel(panel, ++id, { h, w, x, y }));
      x += w;
      rowHeight = Math.max(rowHeight, h);
    }
    y += rowHeight;
  }
  const json = {
    annotations: {
      list: [{
        builtIn: 1,
        datasource: { type: 'grafana', uid: '-- Grafana --' },
        enable: true,
        hide: true,
        iconColor: 'rgba(0, 211, 255, 1)',
        name: 'Annotations & Alerts',
        type: 'dashboard',
      }],
    },
    description: dashboard.description,
    editable: true,
    fiscalYearStartMonth: 0,
    graphTooltip: 1,
    id: null,
    links: [{ asDropdown: true, icon: 'external link', includeVars: true, keepTime: true, tags: [TAG], targetBlank: false, title: 'orderflow', type: 'dashboards' }],
    panels,
    refresh: '10s',
    schemaVersion: SCHEMA_VERSION,
    tags: [TAG],
    templating: {
      list: [{
        current: {},
        hide: 0,
        includeAll: false,
        label: 'Data source',
        multi: false,
        name: 'datasource',
        options: [],
        query: 'prometheus',
        refresh: 1,
        regex: '',
        skipUrlSync: false,
        type: 'datasource',
      }],
    },
    time: { from: 'now-1h', to: 'now' },
    timepicker: {},
    timezone: '',
    title: dashboard.title,
    uid: `${TAG}-${dashboard.slug}`,
    version: 1,
    weekStart: '',
  };
  return `${JSON.stringify(json, null, 2)}\n`;
}

/** Stats share the row's width evenly (at least 3 of 24 columns); graphs go two abreast. */
function sizes(row: Row): Array<{ panel: Panel; w: number; h: number }> {
  const stats = row.panels.filter((p) => p.kind === 'stat').length;
  const statW = Math.max(STAT.minW, Math.floor(24 / Math.max(stats, 1)));
  return row.panels.map((panel) => (panel.kind === 'stat' ? { panel, w: statW, h: STAT.h } : { panel, w: GRAPH.w, h: GRAPH.h }));
}

function grafanaPanel(panel: Panel, id: number, gridPos: { h: number; w: number; x: number; y: number }): unknown {
  const u = units[panel.unit];
  const targets = panel.queries.map((q, i) => ({
    datasource,
    editorMode: 'code',
    expr: q.expr,
    legendFormat: q.legend,
    range: true,
    refId: String.fromCharCode(65 + i),
  }));
  const defaults = {
    color: { mode: panel.kind === 'stat' ? 'thresholds' : 'palette-classic' },
    ...(panel.kind === 'timeseries' ? {
      custom: {
        axisLabel: u.axisLabel ?? '',
        drawStyle: 'line',
        fillOpacity: 10,
        lineWidth: 1,
        showPoints: 'never',
        spanNulls: false,
        ...(panel.unit === 'circuit' ? { lineInterpolation: 'stepAfter' } : {}),
      },
    } : {}),
    mappings: u.mappings ?? [],
    ...(u.min === undefined ? {} : { min: u.min }),
    ...(u.max === undefined ? {} : { max: u.max }),
    thresholds: { mode: 'absolute', steps: [{ color: 'green', value: null }] },
    unit: u.unit,
  };
  const options = panel.kind === 'stat'
    ? {
      colorMode: 'value',
      graphMode: 'area',
      justifyMode: 'auto',
      orientation: 'auto',
      reduceOptions: { calcs: ['lastNotNull'], fields: '', values: false },
      textMode: 'auto',
    }
    : {
      legend: { calcs: [], displayMode: 'list', placement: 'bottom', showLegend: true },
      tooltip: { mode: 'multi', sort: 'desc' },
    };
  return {
    datasource,
    ...(panel.description ? { description: panel.description } : {}),
    fieldConfig: { defaults, overrides: [] },
    gridPos,
    id,
    options,
    targets,
    title: panel.title,
    type: panel.kind,
  };
}

// Shared pieces of the inline SVG charts: the frame, axes, legend and colours. Every text
// goes through escapeHtml; every coordinate through fix(), which turns a stray non-finite
// number into 0 rather than letting "NaN" reach the page.
import { escapeHtml } from './format.ts';
import type { Scale } from './scale.ts';

export interface Plot {
  left: number;
  top: number;
  width: number;
  height: number;
}

export function fix(v: number): string {
  return Number.isFinite(v) ? String(Math.round(v * 10) / 10) : '0';
}

const NAMED: Record<string, string> = {
  events: '#2563eb',
  choreography: '#d97706',
  rest: '#059669',
  gateway: '#6366f1',
  orders: '#2563eb',
  inventory: '#0891b2',
  payments: '#d97706',
  shipping: '#059669',
  kafka: '#475569',
  postgres: '#7c3aed',
  lab: '#9ca3af',
  zipkin: '#db2777',
  // A traced run: its architecture's hue, darker, so the pair reads as one family.
  'events + tracing': '#1e3a8a',
  'choreography + tracing': '#92400e',
  'rest + tracing': '#065f46',
};
const PALETTE = ['#2563eb', '#dc2626', '#059669', '#d97706', '#7c3aed', '#0891b2', '#db2777', '#65a30d', '#475569', '#ea580c'];

/** A stable colour per name (architectures and processes have their own), else by position. */
export function colorFor(name: string, index: number): string {
  return NAMED[name] ?? PALETTE[index % PALETTE.length];
}

export function svgOpen(width: number, height: number, title: string): string {
  return (
    `<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 ${width} ${height}" width="${width}" height="${height}" role="img" aria-label="${escapeHtml(title)}">` +
    `<title>${escapeHtml(title)}</title>` +
    `<text x="${fix(width / 2)}" y="20" class="chart-title" text-anchor="middle">${escapeHtml(title)}</text>`
  );
}

export function text(x: number, y: number, s: string, attrs = ''): string {
  return `<text x="${fix(x)}" y="${fix(y)}"${attrs ? ` ${attrs}` : ''}>${escapeHtml(s)}</text>`;
}

/** Left axis with grid lines across the plot and a rotated label. */
export function yAxis(scale: Scale, plot: Plot, label: string): string {
  const parts: string[] = [];
  for (const t of scale.ticks) {
    const y = scale.map(t);
    parts.push(`<line class="grid" x1="${fix(plot.left)}" x2="${fix(plot.left + plot.width)}" y1="${fix(y)}" y2="${fix(y)}"/>`);
    parts.push(text(plot.left - 6, y + 4, scale.label(t), 'class="tick" text-anchor="end"'));
  }
  const cy = plot.top + plot.height / 2;
  parts.push(text(14, cy, label + (scale.log ? ' (log)' : ''), `class="axis-label" text-anchor="middle" transform="rotate(-90 14 ${fix(cy)})"`));
  parts.push(`<line class="axis" x1="${fix(plot.left)}" x2="${fix(plot.left)}" y1="${fix(plot.top)}" y2="${fix(plot.top + plot.height)}"/>`);
  return parts.join('');
}

/** Bottom axis with tick marks and a centred label. */
export function xAxis(scale: Scale, plot: Plot, label: string): string {
  const bottom = plot.top + plot.height;
  const parts = [`<line class="axis" x1="${fix(plot.left)}" x2="${fix(plot.left + plot.width)}" y1="${fix(bottom)}" y2="${fix(bottom)}"/>`];
  for (const t of scale.ticks) {
    const x = scale.map(t);
    parts.push(`<line class="axis" x1="${fix(x)}" x2="${fix(x)}" y1="${fix(bottom)}" y2="${fix(bottom + 4)}"/>`);
    parts.push(text(x, bottom + 16, scale.label(t), 'class="tick" text-anchor="middle"'));
  }
  parts.push(text(plot.left + plot.width / 2, bottom + 34, label, 'class="axis-label" text-anchor="middle"'));
  return parts.join('');
}

export interface LegendItem {
  name: string;
  color: string;
  dashed?: boolean;
  /** A filled square (bars) instead of a line sample (series). */
  box?: boolean;
}

const LEGEND_ROW = 16;

/** Rows the legend needs within `width`, for sizing the SVG before drawing it. */
export function legendRows(items: LegendItem[], width: number): number {
  return layoutLegend(items, width).rows;
}

function layoutLegend(items: LegendItem[], width: number): { rows: number; at: Array<{ x: number; row: number }> } {
  let x = 0;
  let row = 0;
  const at: Array<{ x: number; row: number }> = [];
  for (const item of items) {
    const w = 28 + item.name.length * 6.5;
    if (x > 0 && x + w > width) {
      x = 0;
      row++;
    }
    at.push({ x, row });
    x += w + 8;
  }
  return { rows: items.length ? row + 1 : 0, at };
}

export function legend(items: LegendItem[], left: number, top: number, width: number): string {
  const { at } = layoutLegend(items, width);
  return items
    .map((item, i) => {
      const x = left + at[i].x;
      const y = top + at[i].row * LEGEND_ROW;
      const sample = item.box
        ? `<rect x="${fix(x)}" y="${fix(y - 9)}" width="18" height="10" fill="${item.color}"/>`
        : `<line x1="${fix(x)}" x2="${fix(x + 18)}" y1="${fix(y - 4)}" y2="${fix(y - 4)}" stroke="${item.color}" stroke-width="2.5"${item.dashed ? ' stroke-dasharray="5 3"' : ''}/>`;
      return sample + text(x + 22, y, item.name, 'class="legend"');
    })
    .join('');
}

export function legendHeight(items: LegendItem[], width: number): number {
  return legendRows(items, width) * LEGEND_ROW;
}

export function noData(plot: Plot): string {
  return text(plot.left + plot.width / 2, plot.top + plot.height / 2, 'no data', 'class="no-data" text-anchor="middle"');
}

import { escapeHtml, num } from './format.ts';
import { type Scale, linearScale, logScale } from './scale.ts';
import { type LegendItem, type Plot, colorFor, fix, legend, legendHeight, noData, svgOpen, text, xAxis, yAxis } from './svg.ts';

export interface Point {
  x: number | null | undefined;
  y: number | null | undefined;
}

export interface Series {
  name: string;
  points: Point[];
  color?: string;
  dashed?: boolean;
  /** Dots on the points; on by default, off for dense timelines. */
  dots?: boolean;
}

/** A vertical line at x, e.g. "kill orders" at t = 20 s. */
export interface Marker {
  x: number;
  label: string;
  color?: string;
}

export interface LineChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  series: Series[];
  markers?: Marker[];
  logY?: boolean;
  /** Start the y axis at zero (ignored on a log axis). Default true. */
  yZero?: boolean;
  /** Start the x axis at zero (rates). Default false (time from the first point). */
  xZero?: boolean;
  width?: number;
  height?: number;
}

/**
 * An SVG line chart: several series, axes with round ticks, optional log y axis, vertical
 * markers, a legend. A null (or, on a log axis, non-positive) y breaks its line; a series
 * with one point shows as a dot; no data at all shows "no data" on empty axes.
 */
export function lineChart(spec: LineChartSpec): string {
  const width = spec.width ?? 900;
  const series = spec.series.map((s, i) => ({ ...s, color: s.color ?? colorFor(s.name, i) }));
  const items: LegendItem[] = series.map((s) => ({ name: s.name, color: s.color, dashed: s.dashed }));
  const plotWidth = width - 72 - 20;
  const legendH = legendHeight(items, plotWidth);
  const plotHeight = (spec.height ?? 300) - 36 - 44;
  const height = 36 + plotHeight + 44 + legendH + 8;
  const plot: Plot = { left: 72, top: 36, width: plotWidth, height: plotHeight };

  const markers = (spec.markers ?? []).filter((m) => Number.isFinite(m.x));
  const ys = series.flatMap((s) => s.points.filter((p) => p.x !== null && Number.isFinite(p.x)).map((p) => p.y));
  const xs = [...series.flatMap((s) => s.points.map((p) => p.x)), ...markers.map((m) => m.x)];
  const x = linearScale(xs, [plot.left, plot.left + plot.width], { zero: spec.xZero ?? false });
  const y: Scale = spec.logY
    ? logScale(ys, [plot.top + plot.height, plot.top])
    : linearScale(ys, [plot.top + plot.height, plot.top], { zero: spec.yZero ?? true });

  const parts = [svgOpen(width, height, spec.title), yAxis(y, plot, spec.yLabel), xAxis(x, plot, spec.xLabel)];
  let drawn = 0;
  for (const s of series) {
    const placed = s.points.map((p) => (x.accepts(p.x) && y.accepts(p.y) ? { x: x.map(p.x), y: y.map(p.y), p } : null));
    const path = pathOf(placed);
    const stroke = escapeHtml(s.color);
    if (path) parts.push(`<path d="${path}" fill="none" stroke="${stroke}" stroke-width="2"${s.dashed ? ' stroke-dasharray="6 4"' : ''}/>`);
    for (const pt of placed) {
      if (!pt) continue;
      drawn++;
      // A lone point has no line, so it gets its dot even when dots are off.
      if (s.dots === false && placed.filter(Boolean).length > 1) continue;
      parts.push(
        `<circle cx="${fix(pt.x)}" cy="${fix(pt.y)}" r="3" fill="${stroke}"><title>${escapeHtml(`${s.name}: ${num(pt.p.x)}, ${num(pt.p.y)}`)}</title></circle>`,
      );
    }
  }
  if (drawn === 0) parts.push(noData(plot));
  markers.forEach((m, i) => {
    const mx = x.map(m.x);
    const color = escapeHtml(m.color ?? '#6b7280');
    parts.push(`<line x1="${fix(mx)}" x2="${fix(mx)}" y1="${fix(plot.top)}" y2="${fix(plot.top + plot.height)}" stroke="${color}" stroke-width="1.5" stroke-dasharray="3 3"/>`);
    // Stagger the labels so markers close together stay legible.
    parts.push(text(mx + 4, plot.top + 12 + (i % 3) * 12, m.label, `class="marker" fill="${color}"`));
  });
  parts.push(legend(items, plot.left, plot.top + plot.height + 58, plot.width));
  parts.push('</svg>');
  return parts.join('');
}

/** Path data; a gap (null) starts a new sub-path so a missing value is not bridged. */
function pathOf(placed: Array<{ x: number; y: number } | null>): string {
  let d = '';
  let pen = false;
  for (const pt of placed) {
    if (!pt) {
      pen = false;
      continue;
    }
    d += `${pen ? 'L' : 'M'}${fix(pt.x)} ${fix(pt.y)}`;
    pen = true;
  }
  // A path of only moves draws nothing; leave it out.
  return d.includes('L') ? d : '';
}

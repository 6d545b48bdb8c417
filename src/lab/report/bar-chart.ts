import { escapeHtml, isNum, num } from './format.ts';
import { linearScale } from './scale.ts';
import { type LegendItem, type Plot, colorFor, fix, legend, legendHeight, noData, svgOpen, text, yAxis } from './svg.ts';

export interface Bar {
  /** Label under the bar (or group). */
  label: string;
  segments: Array<{ name: string; value: number | null | undefined }>;
}

export interface BarChartSpec {
  title: string;
  xLabel: string;
  yLabel: string;
  bars: Bar[];
  /** Stack the segments into one bar (default), or set them side by side. */
  stacked?: boolean;
  width?: number;
  height?: number;
}

/**
 * An SVG bar chart, stacked or grouped. Segments of the same name share a colour and a
 * legend entry across bars; a null or negative value draws nothing.
 */
export function barChart(spec: BarChartSpec): string {
  const width = spec.width ?? 900;
  const stacked = spec.stacked ?? true;
  const names = [...new Set(spec.bars.flatMap((b) => b.segments.map((s) => s.name)))];
  const colors = new Map(names.map((n, i) => [n, colorFor(n, i)]));
  const items: LegendItem[] = names.map((n) => ({ name: n, color: colors.get(n)!, box: true }));
  const plotWidth = width - 72 - 20;
  const plotHeight = (spec.height ?? 300) - 36 - 44;
  const height = 36 + plotHeight + 44 + legendHeight(items, plotWidth) + 8;
  const plot: Plot = { left: 72, top: 36, width: plotWidth, height: plotHeight };

  const value = (v: number | null | undefined) => (isNum(v) && v > 0 ? v : 0);
  const heights = spec.bars.flatMap((b) =>
    stacked ? [b.segments.reduce((sum, s) => sum + value(s.value), 0)] : b.segments.map((s) => value(s.value)),
  );
  const y = linearScale(heights, [plot.top + plot.height, plot.top], { zero: true });
  const parts = [svgOpen(width, height, spec.title), yAxis(y, plot, spec.yLabel)];
  const bottom = plot.top + plot.height;
  parts.push(`<line class="axis" x1="${fix(plot.left)}" x2="${fix(plot.left + plot.width)}" y1="${fix(bottom)}" y2="${fix(bottom)}"/>`);
  parts.push(text(plot.left + plot.width / 2, bottom + 34, spec.xLabel, 'class="axis-label" text-anchor="middle"'));

  const slot = plot.width / Math.max(1, spec.bars.length);
  const barWidth = Math.min(64, slot * 0.7);
  let drawn = 0;
  spec.bars.forEach((b, i) => {
    const x0 = plot.left + slot * i + (slot - barWidth) / 2;
    let acc = 0;
    const w = stacked ? barWidth : barWidth / Math.max(1, b.segments.length);
    b.segments.forEach((s, j) => {
      const v = value(s.value);
      if (v === 0) return;
      drawn++;
      const from = stacked ? acc : 0;
      const top = y.map(from + v);
      const x = stacked ? x0 : x0 + w * j;
      const tip = `${b.label} ${s.name}: ${num(s.value)}`;
      parts.push(
        `<rect x="${fix(x)}" y="${fix(top)}" width="${fix(Math.max(1, w - (stacked ? 0 : 1)))}" height="${fix(Math.max(0, y.map(from) - top))}" fill="${escapeHtml(colors.get(s.name))}"><title>${escapeHtml(tip)}</title></rect>`,
      );
      if (stacked) acc += v;
    });
    if (stacked && acc > 0) parts.push(text(x0 + barWidth / 2, y.map(acc) - 4, num(acc), 'class="tick" text-anchor="middle"'));
    parts.push(text(x0 + barWidth / 2, bottom + 16, b.label, 'class="tick" text-anchor="middle"'));
  });
  if (drawn === 0) parts.push(noData(plot));
  parts.push(legend(items, plot.left, bottom + 58, plot.width));
  parts.push('</svg>');
  return parts.join('');
}

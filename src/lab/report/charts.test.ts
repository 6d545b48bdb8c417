import assert from 'node:assert/strict';
import { test } from 'node:test';
import { barChart } from './bar-chart.ts';
import { lineChart } from './line-chart.ts';

const count = (s: string, part: string) => s.split(part).length - 1;

function assertCleanSvg(svg: string): void {
  assert.equal(count(svg, '<svg'), 1);
  assert.equal(count(svg, '</svg>'), 1);
  assert.doesNotMatch(svg, /NaN|Infinity|undefined/);
}

test('a line chart of a single point draws that point as a dot', () => {
  const svg = lineChart({ title: 'one', xLabel: 'x', yLabel: 'y', series: [{ name: 'a', points: [{ x: 300, y: 42 }] }] });
  assertCleanSvg(svg);
  assert.equal(count(svg, '<circle'), 1);
  assert.equal(count(svg, '<path'), 0);
  assert.doesNotMatch(svg, /no data/);
});

test('a single point on a log axis is placed, not lost', () => {
  const svg = lineChart({ title: 'one', xLabel: 'x', yLabel: 'ms', logY: true, series: [{ name: 'a', points: [{ x: 5, y: 3 }] }] });
  assertCleanSvg(svg);
  assert.equal(count(svg, '<circle'), 1);
});

test('a line chart with no series or only empty series says there is no data', () => {
  for (const series of [[], [{ name: 'a', points: [] }, { name: 'b', points: [] }]]) {
    for (const logY of [false, true]) {
      const svg = lineChart({ title: 'empty', xLabel: 'x', yLabel: 'y', logY, series });
      assertCleanSvg(svg);
      assert.match(svg, /no data/);
    }
  }
});

test('nulls break a line instead of becoming NaN or zero', () => {
  const svg = lineChart({
    title: 'gaps', xLabel: 'x', yLabel: 'y',
    series: [{ name: 'a', points: [{ x: 0, y: 1 }, { x: 1, y: 2 }, { x: 2, y: null }, { x: null, y: 5 }, { x: 4, y: 3 }, { x: 5, y: 4 }] }],
  });
  assertCleanSvg(svg);
  const d = /<path d="([^"]+)"/.exec(svg)?.[1] ?? '';
  assert.equal(count(d, 'M'), 2, `two sub-paths: ${d}`);
  assert.equal(count(svg, '<circle'), 4);
});

test('zeros and negatives on a log axis are left out, not plotted at -Infinity', () => {
  const svg = lineChart({ title: 'log', xLabel: 'x', yLabel: 'ms', logY: true, series: [{ name: 'a', points: [{ x: 0, y: 0 }, { x: 1, y: -1 }, { x: 2, y: 10 }, { x: 3, y: 100 }] }] });
  assertCleanSvg(svg);
  assert.equal(count(svg, '<circle'), 2);
});

test('markers, legends and titles are escaped', () => {
  const svg = lineChart({
    title: '<b>t</b>', xLabel: 'x & y', yLabel: 'y', markers: [{ x: 1, label: '<script>alert(1)</script>' }],
    series: [{ name: '"quoted" <script>', points: [{ x: 0, y: 1 }, { x: 2, y: 3 }] }],
  });
  assertCleanSvg(svg);
  assert.doesNotMatch(svg, /<script|<b>/);
  assert.match(svg, /&lt;script&gt;alert\(1\)&lt;\/script&gt;/);
  assert.match(svg, /x &amp; y/);
});

test('a stacked bar chart stacks the segments of each bar up to their total', () => {
  const svg = barChart({
    title: 'cpu', xLabel: 'rate', yLabel: '%',
    bars: [{ label: '100/s', segments: [{ name: 'orders', value: 30 }, { name: 'kafka', value: 20 }] }],
  });
  assertCleanSvg(svg);
  assert.equal(count(svg, '<rect'), 2 + 2, 'two segments plus two legend boxes');
  assert.match(svg, />50</);
});

test('a grouped bar chart sets the segments side by side', () => {
  const svg = barChart({
    title: 'cpu', xLabel: 'rate', yLabel: '%', stacked: false,
    bars: [{ label: 'knee', segments: [{ name: 'orders', value: 30 }, { name: 'kafka', value: 20 }] }],
  });
  assertCleanSvg(svg);
  const xs = [...svg.matchAll(/<rect x="([\d.]+)" y="[\d.]+" width="[\d.]+" height="[\d.]+" fill="[^"]+"><title>/g)].map((m) => Number(m[1]));
  assert.equal(xs.length, 2);
  assert.notEqual(xs[0], xs[1]);
});

test('bar charts with no bars, or only null and zero values, say there is no data', () => {
  for (const bars of [[], [{ label: 'a', segments: [] }], [{ label: 'a', segments: [{ name: 'x', value: null }, { name: 'y', value: 0 }] }]]) {
    const svg = barChart({ title: 'empty', xLabel: 'x', yLabel: 'y', bars });
    assertCleanSvg(svg);
    assert.match(svg, /no data/);
  }
});

test('a rate axis starts at zero even when there is one point', () => {
  const svg = lineChart({ title: 'rate', xLabel: 'offered', xZero: true, yLabel: 'ms', series: [{ name: 'a', points: [{ x: 798, y: 5 }] }] });
  assertCleanSvg(svg);
  assert.match(svg, /class="tick" text-anchor="middle">0<\/text>/);
});

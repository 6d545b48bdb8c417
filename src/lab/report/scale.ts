// Axis scales for the SVG charts: a value domain mapped onto pixels, with round tick values.
// Degenerate data (no values, one value, all equal, zeros on a log axis) still yields a
// finite, non-empty domain, so a chart never writes NaN into its SVG.
import { compact, isNum } from './format.ts';

export interface Scale {
  domain: [number, number];
  ticks: number[];
  log: boolean;
  /** Whether v can be placed on this scale (finite; positive on a log scale). */
  accepts(v: unknown): v is number;
  /** Pixel position of v; only for values it accepts. */
  map(v: number): number;
  label(v: number): string;
}

/** 1, 2 or 5 times a power of ten, the smallest such at least x. */
export function niceStep(x: number): number {
  if (!(x > 0) || !Number.isFinite(x)) return 1;
  const p = 10 ** Math.floor(Math.log10(x));
  const f = x / p;
  // Float noise (0.30000000000000004 / 0.1) must not push 3 to 5.
  const nf = f <= 1 + 1e-9 ? 1 : f <= 2 + 1e-9 ? 2 : f <= 5 + 1e-9 ? 5 : 10;
  return nf * p;
}

/** Round ticks covering [min, max], about `count` of them; the first and last bound the domain. */
export function linearTicks(min: number, max: number, count = 5): number[] {
  const step = niceStep((max - min) / Math.max(1, count));
  const lo = Math.floor(min / step + 1e-9) * step;
  const hi = Math.ceil(max / step - 1e-9) * step;
  const decimals = Math.max(0, -Math.floor(Math.log10(step)));
  const ticks: number[] = [];
  for (let i = 0; lo + i * step <= hi + step / 2; i++) ticks.push(Number((lo + i * step).toFixed(decimals)));
  return ticks;
}

export function linearScale(values: unknown[], range: [number, number], opts: { zero?: boolean; count?: number } = {}): Scale {
  const vs = values.filter(isNum);
  let min = vs.length ? Math.min(...vs) : 0;
  let max = vs.length ? Math.max(...vs) : 1;
  if (opts.zero) {
    min = Math.min(0, min);
    max = Math.max(0, max);
  }
  if (min === max) {
    // One value: give it room on both sides (with a zero axis this can only be all zeros).
    const pad = min === 0 ? 1 : Math.abs(min) * 0.5;
    max += pad;
    if (!opts.zero) min -= pad;
  }
  const ticks = linearTicks(min, max, opts.count ?? 5);
  const domain: [number, number] = [ticks[0], ticks[ticks.length - 1]];
  const span = domain[1] - domain[0] || 1;
  return {
    domain,
    ticks,
    log: false,
    accepts: isNum,
    map: (v) => range[0] + ((v - domain[0]) / span) * (range[1] - range[0]),
    label: compact,
  };
}

const MANTISSAS = [1, 2, 5];

/** The largest 1-2-5 number at most v (down) or the smallest at least v (up). */
function snap125(v: number, dir: 'down' | 'up'): number {
  const p = 10 ** Math.floor(Math.log10(v));
  const candidates = [...MANTISSAS.map((m) => m * p), 10 * p, p / 2];
  const fits = candidates.filter((c) => (dir === 'down' ? c <= v * (1 + 1e-9) : c >= v * (1 - 1e-9)));
  return dir === 'down' ? Math.max(...fits) : Math.min(...fits);
}

/**
 * Ticks of a log axis over [lo, hi]: the powers of ten inside it, plus 2 and 5 times them
 * when the range spans few decades (so there are always at least two ticks).
 */
export function logTicks(lo: number, hi: number): number[] {
  const first = Math.floor(Math.log10(lo));
  const last = Math.ceil(Math.log10(hi));
  const dense = last - first <= 2;
  const ticks: number[] = [];
  for (let e = first; e <= last; e++) {
    for (const m of dense ? MANTISSAS : [1]) {
      const v = Number((m * 10 ** e).toPrecision(12));
      if (v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9)) ticks.push(v);
    }
  }
  return ticks;
}

/** A base-10 log scale; values ≤ 0 are not placed (a latency of 0 has no log). */
export function logScale(values: unknown[], range: [number, number]): Scale {
  const vs = values.filter((v): v is number => isNum(v) && v > 0);
  let lo = vs.length ? snap125(Math.min(...vs), 'down') : 1;
  let hi = vs.length ? snap125(Math.max(...vs), 'up') : 10;
  if (hi <= lo) hi = snap125(lo * 1.5, 'up');
  // Keep at least one whole decade so the axis reads as logarithmic.
  if (hi / lo < 10) {
    const l = 10 ** Math.floor(Math.log10(lo) + 1e-9);
    const h = 10 ** Math.ceil(Math.log10(hi) - 1e-9);
    lo = l;
    hi = h > l ? h : l * 10;
  }
  const a = Math.log10(lo);
  const span = Math.log10(hi) - a;
  return {
    domain: [lo, hi],
    ticks: logTicks(lo, hi),
    log: true,
    accepts: (v): v is number => isNum(v) && v > 0,
    map: (v) => range[0] + ((Math.log10(v) - a) / span) * (range[1] - range[0]),
    label: compact,
  };
}

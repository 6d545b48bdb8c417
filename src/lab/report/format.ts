// Number formatting shared by the markdown, the HTML tables and the chart ticks.
// A report.json read back may hold null where the lab wrote NaN (JSON has no NaN), so every
// formatter takes a loose value and answers "n/a" for anything that is not a finite number.

export const NA = 'n/a';

export function isNum(v: unknown): v is number {
  return typeof v === 'number' && Number.isFinite(v);
}

/** Rounded to a precision that fits the magnitude: 1234, 56.7, 3.42, 0.05. */
export function num(v: unknown): string {
  if (!isNum(v)) return NA;
  const a = Math.abs(v);
  const digits = a >= 100 || Number.isInteger(v) ? 0 : a >= 10 ? 1 : 2;
  return trimZeros(v.toFixed(digits));
}

/** Latency in milliseconds with its unit: "12.3 ms". */
export function ms(v: unknown): string {
  return isNum(v) ? `${num(v)} ms` : NA;
}

/** Seconds with its unit: "4.5 s". */
export function seconds(v: unknown): string {
  return isNum(v) ? `${num(v)} s` : NA;
}

/** A ratio (0.0123) as a percentage ("1.23%"). */
export function percent(ratio: unknown): string {
  if (!isNum(ratio)) return NA;
  const p = ratio * 100;
  if (p === 0) return '0%';
  return `${p < 0.01 ? '<0.01' : trimZeros(p.toFixed(p >= 10 ? 1 : 2))}%`;
}

/** Short tick label: 1500 -> "1.5k", 2000000 -> "2M", 0.5 -> "0.5". */
export function compact(v: number): string {
  const a = Math.abs(v);
  if (a >= 1e6) return `${trimZeros((v / 1e6).toFixed(1))}M`;
  if (a >= 1e3) return `${trimZeros((v / 1e3).toFixed(1))}k`;
  if (a === 0 || a >= 1) return trimZeros(v.toFixed(a >= 10 ? 0 : 1));
  return trimZeros(v.toPrecision(2));
}

function trimZeros(s: string): string {
  return s.includes('.') ? s.replace(/\.?0+$/, '') : s;
}

const htmlEntities: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Safe for HTML and SVG text and attribute values. */
export function escapeHtml(s: unknown): string {
  return String(s ?? '').replace(/[&<>"']/g, (c) => htmlEntities[c]);
}

/** "http-503: 12, timeout: 3", largest first; "" when there are none. */
export function errorKinds(errors: Record<string, number> | null | undefined): string {
  return Object.entries(errors ?? {})
    .filter(([, n]) => isNum(n) && n > 0)
    .sort((a, b) => b[1] - a[1])
    .map(([kind, n]) => `${kind}: ${num(n)}`)
    .join(', ');
}

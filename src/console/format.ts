/** How the console shows money, times and JSON. */

export const money = (cents: number): string => (cents / 100).toLocaleString(undefined, { minimumFractionDigits: 2, maximumFractionDigits: 2 });

export const time = (iso: string | null | undefined): string => {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : d.toLocaleTimeString(undefined, { hour12: false }) + '.' + String(d.getMilliseconds()).padStart(3, '0');
};

export const dateTime = (iso: string | null | undefined): string => {
  if (!iso) return '';
  const d = new Date(iso);
  return Number.isNaN(d.getTime()) ? iso : `${d.toLocaleDateString()} ${time(iso)}`;
};

export const pretty = (value: unknown): string => (typeof value === 'string' ? value : JSON.stringify(value, null, 2));

export const shortId = (id: string): string => id.slice(0, 8);

/** A random key (for Idempotency-Key): crypto.getRandomValues works outside secure contexts too, randomUUID does not. */
export const randomKey = (): string => Array.from(crypto.getRandomValues(new Uint8Array(16)), (b) => b.toString(16).padStart(2, '0')).join('');

/** Messages a second, as the overview shows them; '–' before two polls. */
export const rateText = (perS: number | undefined): string => (perS === undefined ? '–' : perS >= 10 ? `${perS.toFixed(0)}/s` : `${perS.toFixed(1)}/s`);

/**
 * What a customer is told about, and by which channels. Preferences are per kind and
 * channel, on unless the customer switched one off.
 */
export const kinds = ['orderConfirmed', 'orderCancelled', 'shipmentScheduled', 'paymentRefunded', 'cartAbandoned'] as const;
export type Kind = (typeof kinds)[number];

export const channels = ['email', 'inApp'] as const;
export type Channel = (typeof channels)[number];

/** The customer's switches; a kind or channel absent is on. */
export type Preferences = Partial<Record<Kind, Partial<Record<Channel, boolean>>>>;

export const wants = (prefs: Preferences, kind: Kind, channel: Channel): boolean => prefs[kind]?.[channel] ?? true;

/** Every kind with both channels, the defaults filled in: what GET answers. */
export function fullPreferences(prefs: Preferences): Record<Kind, Record<Channel, boolean>> {
  return Object.fromEntries(kinds.map((k) => [k, Object.fromEntries(channels.map((c) => [c, wants(prefs, k, c)]))])) as Record<Kind, Record<Channel, boolean>>;
}

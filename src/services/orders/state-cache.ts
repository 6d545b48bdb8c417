// The folded state of live orders, kept in process so that a saga reply does not read back
// the events this process just wrote. Only ever fed with committed state (after the
// commit), and never trusted blindly: a step decided on a cached state still appends at
// that state's version, so a stale entry shows as a concurrency conflict, and a reply the
// cached state would ignore is checked against the stream first (see handlers.ts).
import { isTerminal, type OrderState } from './domain/order.ts';

export interface StateCache {
  get(orderId: string): OrderState | undefined;
  /** Keeps `state` unless a newer version is already kept; a finished order is dropped. */
  remember(state: OrderState): void;
  forget(orderId: string): void;
  readonly size: number;
}

export function createStateCache(maxEntries = 50_000): StateCache {
  // A Map iterates in insertion order: re-inserting on write makes the first key the
  // least recently written, the one to drop when full.
  const states = new Map<string, OrderState>();
  return {
    get: (orderId) => states.get(orderId),
    remember(state) {
      const kept = states.get(state.id);
      if (kept !== undefined && kept.version > state.version) return;
      states.delete(state.id);
      if (isTerminal(state)) return;
      states.set(state.id, state);
      if (states.size > maxEntries) states.delete(states.keys().next().value as string);
    },
    forget: (orderId) => void states.delete(orderId),
    get size() {
      return states.size;
    },
  };
}

/**
 * A cache that keeps nothing: with replicas (ORDERFLOW_REPLICAS > 1) the order's POST, its
 * replies and its deadline are handled by different processes, so entries would mostly be
 * stale. A stale entry is still safe (the append is optimistic on the stream version), but
 * each costs a rolled-back batch and a redelivery; reading the stream costs less.
 */
export function disabledStateCache(): StateCache {
  return { get: () => undefined, remember() {}, forget() {}, size: 0 };
}

import type { Sql } from './db.ts';

/**
 * The onCommit listeners of a Db adapter: both adapters call `notify` after each commit.
 * A throwing listener is logged and does not keep the others from running.
 */
export function createCommitListeners(log?: { error(obj: object, msg: string): void }) {
  const listeners = new Set<(tx: Sql) => void>();
  return {
    notify(tx: Sql): void {
      for (const listener of listeners) {
        try {
          listener(tx);
        } catch (err) {
          log?.error({ err }, 'an onCommit listener threw');
        }
      }
    },
    onCommit(listener: (tx: Sql) => void): () => void {
      // Wrapped so that subscribing the same function twice yields two subscriptions.
      const entry = (tx: Sql) => listener(tx);
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
  };
}

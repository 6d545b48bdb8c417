/**
 * The onCommit listeners of a Db adapter: both adapters call `notify` after each commit.
 * A throwing listener is logged and does not keep the others from running.
 */
export function createCommitListeners(log?: { error(obj: object, msg: string): void }) {
  const listeners = new Set<() => void>();
  return {
    notify(): void {
      for (const listener of listeners) {
        try {
          listener();
        } catch (err) {
          log?.error({ err }, 'an onCommit listener threw');
        }
      }
    },
    onCommit(listener: () => void): () => void {
      // Wrapped so that subscribing the same function twice yields two subscriptions.
      const entry = () => listener();
      listeners.add(entry);
      return () => void listeners.delete(entry);
    },
  };
}

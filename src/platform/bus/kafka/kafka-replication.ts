/**
 * How many copies a topic keeps on a cluster, decided in one place for the topics the
 * platform creates and for the local cluster's broker defaults (runtime/infra/kafka-cluster.ts).
 *
 * Three copies where there are three brokers, and a write (acks=all) acknowledged once two of
 * them hold it (min.insync.replicas=2): one broker may die, or be restarted for an upgrade,
 * without losing an acknowledged record or stopping writes. With a second one down writes are
 * refused (NOT_ENOUGH_REPLICAS) rather than acknowledged on a single copy. Fewer brokers keep
 * a copy on each and acknowledge on one.
 */

/** The most copies a topic gets by default, however large the cluster. */
export const DEFAULT_REPLICATION_FACTOR = 3;

export type Replication = Readonly<{ factor: number; minInsync: number }>;

/** The replication of a new topic on a cluster of `brokers`, unless a replication factor is set. */
export function replicationFor(brokers: number, factor = Math.min(DEFAULT_REPLICATION_FACTOR, Math.max(1, brokers))): Replication {
  return { factor, minInsync: factor >= 3 ? 2 : 1 };
}

/**
 * When a fresh Kafka can take consumer groups: what `infra kafka start` waits for, on one broker
 * and on a cluster, before it says the broker is ready.
 */
import { Admin } from '@platformatic/kafka';

// Kafka's default offsets.topic.num.partitions: a group's coordinator leads partition abs(hashCode(group id)) % 50.
const OFFSETS_PARTITIONS = 50;

/** Java's String.hashCode, then Kafka's Utils.abs, modulo the offsets topic's partitions. */
export function offsetsPartitionOf(groupId: string): number {
  let h = 0;
  for (let i = 0; i < groupId.length; i++) h = (Math.imul(31, h) + groupId.charCodeAt(i)) | 0;
  return (h === -2147483648 ? 0 : Math.abs(h)) % OFFSETS_PARTITIONS;
}

/** One group id per partition of __consumer_offsets: asking about all of them reaches every coordinator. */
export const probeGroups: readonly string[] = (() => {
  const byPartition = new Map<number, string>();
  for (let i = 0; byPartition.size < OFFSETS_PARTITIONS; i++) {
    const id = `orderflow-infra-${i}`;
    if (!byPartition.has(offsetsPartitionOf(id))) byPartition.set(offsetsPartitionOf(id), id);
  }
  return [...byPartition.values()];
})();

/**
 * True once consumer groups can join: Kafka creates __consumer_offsets (50 partitions, here
 * with one copy a broker, up to three) on the first coordinator lookup, and until every partition has a
 * leader that loaded it, joins get NOT_COORDINATOR. A client gives up after a few retries
 * (the services' subscriptions after 1.5 s, and crashed at their start), so the cluster is
 * ready only once a group of every partition can be described.
 */
export async function groupsReady(bootstrap: string): Promise<boolean> {
  const admin = new Admin({ clientId: 'orderflow-infra', bootstrapBrokers: bootstrap.split(','), retries: 0, connectTimeout: 3000, requestTimeout: 3000, timeout: 3000 });
  try {
    await admin.describeGroups({ groups: [...probeGroups] });
    return true;
  } catch {
    return false;
  } finally {
    await admin.close().catch(() => {});
  }
}

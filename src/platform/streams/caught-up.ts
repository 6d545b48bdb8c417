/**
 * Whether a task's input is caught up: everything there is to read of it was processed, so a
 * task need not wait for it (input-buffers.ts). An input partition is caught up when its end
 * offset is at the task's position AND every group that writes into it has read all of its
 * own inputs: the processor's re-keying step for a repartition topic, and the upstream
 * processors an input names (`InputSpec.upstream`, e.g. analytics' windows after its
 * lifecycle and conversion processors). Without the second, an input whose producer is one
 * stage behind looks caught up while its records are still coming.
 *
 * Read with Bus.positions, at most once per `ttlMs` (shared by the processor's tasks), the
 * producing groups first: a group seen at its end had written its outputs before we read the
 * topics it writes, so a later read of their ends counts them. A cached answer can be stale:
 * a record appended since is not seen (live, that is the grace's job); a group's offsets
 * are committed lazily (within a commit interval), so it looks behind a little longer.
 */
import type { Bus, PartitionPosition } from '#platform/bus/bus.ts';

/** A consumer group and the topics it reads: a stage whose progress an input waits on. */
export interface GroupTopics {
  groupId: string;
  topics: readonly string[];
}

/** One input as subscribed, and the stages that must have read everything before it is caught up. */
export interface InputProducers {
  topic: string;
  producers: readonly GroupTopics[];
}

export interface CaughtUp {
  stale(now: number): boolean;
  refresh(): Promise<void>;
  /** `position` is the next offset of `topic` the caller had (undefined: none, then the group's commit). */
  caughtUp(topic: string, partition: number, position: number | undefined): boolean;
}

const atEnd = (p: PartitionPosition) => (p.committed ?? p.start) >= p.end;

/** `groupId`: the group that reads the inputs, whose commit stands for a position the caller does not know. */
export function createCaughtUp(bus: Bus, inputs: readonly InputProducers[], ttlMs: number, groupId?: string): CaughtUp {
  const groups = new Map<string, GroupTopics>();
  for (const i of inputs) for (const g of i.producers) groups.set(g.groupId, g);
  const groupDone = new Map<string, boolean>();
  const ends = new Map<string, PartitionPosition>();
  let readAt = Number.NEGATIVE_INFINITY;
  let inFlight: Promise<void> | undefined;

  async function read(): Promise<void> {
    const started = Date.now();
    // Upstream first (declared so), then the inputs themselves: see the module comment.
    const done = new Map<string, boolean>();
    for (const g of groups.values()) done.set(g.groupId, (await bus.positions([...g.topics], g.groupId)).every(atEnd));
    const positions = await bus.positions(inputs.map((i) => i.topic), groupId);
    for (const [g, d] of done) groupDone.set(g, d);
    for (const p of positions) ends.set(`${p.topic}:${p.partition}`, p);
    readAt = started;
  }

  return {
    stale: (now) => now - readAt >= ttlMs,
    refresh() {
      inFlight ??= read().finally(() => (inFlight = undefined));
      return inFlight;
    },
    caughtUp(topic, partition, position) {
      const input = inputs.find((i) => i.topic === topic);
      const end = ends.get(`${topic}:${partition}`);
      if (!input || !end) return false;
      if (!input.producers.every((g) => groupDone.get(g.groupId) === true)) return false;
      return (position ?? end.committed ?? end.start) >= end.end;
    },
  };
}

/**
 * The platform's archive sink: what Kafka Connect's FileStreamSinkConnector does on Kafka
 * (archive-connector.ts), for the embedded log, or for Kafka without a Connect worker. A
 * consumer group (`archive`) over the archived topics appends each record's value as a line
 * to `<dir>/<topic>.jsonl` (archive.ts has the format and what readers rely on).
 *
 * - One write per file per batch, or fewer: the batches of a topic's partitions that arrive
 *   while a write is in flight go together into the next one (coalesce), so under load a
 *   file takes one write and one fdatasync for many batches.
 * - fdatasync before the batch counts as handled, and the bus commits offsets only after
 *   that: a record whose offset is committed is on the disk, so a power loss cannot leave a
 *   hole the log then trims away. A process crash after the write and before the commit
 *   appends the uncommitted tail again (at least once; readers dedupe by id).
 * - Before its first append to a file, the sink ends a torn tail (a crash mid-write) with a
 *   newline, so the fragment stays a line of its own that readers skip, and the record it
 *   held comes again on a line of its own (it was not committed).
 * - Any process may run it: `orderflow up` runs it in its supervisor (runtime/archive.ts).
 *   One sink per archive directory: two on the same files would interleave their appends.
 */
import { mkdirSync } from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import type { Bus, InRecord, Subscription } from './bus.ts';
import { archiveFile } from './archive.ts';
import { coalesce } from './kafka/coalesce.ts';
import type { Logger } from '../log.ts';

export const ARCHIVE_GROUP = 'archive';

export interface ArchiveSinkOptions {
  bus: Bus;
  /** Topics to archive; each must exist on the bus. */
  topics: string[];
  /** The archive directory; created when missing. */
  dir: string;
  log: Logger;
  /** The consumer group; `archive` by default. */
  groupId?: string;
  /** fdatasync each write (default true); off only for tests and benchmarks that measure without it. */
  sync?: boolean;
}

export interface ArchiveSink {
  /** True while the sink is a member of its group (readiness). */
  joined(): boolean;
  /** Stops consuming, finishes the writes in flight, commits, closes the files. */
  close(): Promise<void>;
}

interface FileWriter {
  append(lines: string): Promise<void>;
  close(): Promise<void>;
}

export async function startArchiveSink(opts: ArchiveSinkOptions): Promise<ArchiveSink> {
  mkdirSync(opts.dir, { recursive: true });
  const sync = opts.sync ?? true;
  const writers = new Map<string, FileWriter>();
  const writerOf = (topic: string): FileWriter => {
    let w = writers.get(topic);
    if (!w) writers.set(topic, (w = fileWriter(archiveFile(opts.dir, topic), sync, opts.log)));
    return w;
  };
  const subscription: Subscription = await opts.bus.subscribe({
    groupId: opts.groupId ?? ARCHIVE_GROUP,
    topics: opts.topics,
    // A batch is of one partition, so of one topic: one file.
    handle: (batch: InRecord[]) => writerOf(batch[0].topic).append(batch.map((r) => `${r.value}\n`).join('')),
  });
  opts.log.info({ dir: opts.dir, topics: opts.topics }, 'archive sink: started');
  let closing: Promise<void> | undefined;
  return {
    joined: () => subscription.joined(),
    close() {
      closing ??= (async () => {
        await subscription.close();
        await Promise.all([...writers.values()].map((w) => w.close()));
      })();
      return closing;
    },
  };
}

function fileWriter(file: string, sync: boolean, log: Logger): FileWriter {
  // coalesce runs one write at a time, so the handle needs no lock.
  let fh: FileHandle | undefined;
  const write = coalesce<string>(async (chunks) => {
    let text = chunks.join('');
    try {
      if (!fh) {
        fh = await open(file, 'a+');
        if (await endsTorn(fh)) {
          log.warn({ file }, 'archive sink: the file ends in a torn line (a crash mid-write); ending it with a newline');
          text = `\n${text}`;
        }
      }
      await fh.appendFile(text);
      if (sync) await fh.datasync();
    } catch (err) {
      // The batch is delivered again; the next write opens the file afresh and looks at its tail.
      await fh?.close().catch(() => {});
      fh = undefined;
      throw err;
    }
  });
  return {
    append: write,
    async close() {
      await fh?.close();
      fh = undefined;
    },
  };
}

/** True when the file is not empty and its last byte is not a newline. */
async function endsTorn(fh: FileHandle): Promise<boolean> {
  const { size } = await fh.stat();
  if (size === 0) return false;
  const last = Buffer.alloc(1);
  await fh.read(last, 0, 1, size - 1);
  return last[0] !== 0x0a;
}

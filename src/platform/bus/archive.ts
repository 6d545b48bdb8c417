/**
 * The event archive: every record of the archived topics, kept for ever as plain files, the
 * same on both deployments. A directory holds one file per topic, `<dir>/<topic>.jsonl`,
 * each line one record's value: the envelope JSON (id, type, version, key, occurredAt,
 * payload; the headers are the bus's, not the archive's). Written by Kafka Connect's
 * FileStreamSinkConnector on Kafka (archive-connector.ts) and by the platform sink on the
 * embedded log (archive-sink.ts); read here, by whatever rebuilds a read model from it.
 *
 * Guarantees a reader relies on:
 * - at least once: both writers commit their offsets after the write, so a restart appends
 *   again the records written since the last commit; readers dedupe by envelope id (the
 *   first line of an id wins);
 * - order: per partition the log's order; partitions interleave in the file, as they do for
 *   any consumer of the topic. A key is on one partition, so one aggregate's records are in order;
 * - a crash mid-write leaves a torn line: its record was not committed, so it comes again
 *   further down. The platform sink ends a torn tail with a newline before its next append;
 *   Connect's sink appends straight after it, so a torn fragment may start the next whole line.
 *   The reader skips fragments (counted as `torn`) and keeps the whole envelopes of a line.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { defineError } from '../errors.ts';
import { decode, type Envelope } from './envelope.ts';

export const InvalidArchiveTopic = defineError('PLT_ERR_ARCHIVE_TOPIC', 400);

const EXTENSION = '.jsonl';

/** The file of `topic` in the archive `dir`. Topic names are file names: letters, digits, `.`, `_`, `-`. */
export function archiveFile(dir: string, topic: string): string {
  if (!/^[A-Za-z0-9_-][A-Za-z0-9._-]*$/.test(topic) || topic.length > 200) {
    throw InvalidArchiveTopic(`"${topic}" cannot name an archive file: a topic is letters, digits, ".", "_" and "-"`);
  }
  return join(dir, `${topic}${EXTENSION}`);
}

/** The topics that have a file in the archive `dir`, sorted; none when it does not exist. */
export function archivedTopics(dir: string): string[] {
  if (!existsSync(dir)) return [];
  return readdirSync(dir).filter((f) => f.endsWith(EXTENSION)).map((f) => f.slice(0, -EXTENSION.length)).sort();
}

/** What a read found; final once the iteration ended. */
export interface ArchiveReadStats {
  /** Lines in the file (a last line without its newline included). */
  lines: number;
  /** Envelopes yielded: distinct ids. */
  distinct: number;
  /** Whole envelopes skipped because an earlier line had the same id (a restart's redelivery). */
  duplicates: number;
  /** Fragments that were not a whole envelope: writes a crash tore, or anything else not an envelope. */
  torn: number;
}

export interface ArchiveReader extends AsyncIterable<Envelope> {
  readonly stats: ArchiveReadStats;
}

/**
 * The envelopes of `topic`'s file in the archive `dir`, in file order, each id once. A
 * missing file reads as empty. Never throws for what is in the file: a torn or foreign line
 * is skipped and counted. Memory: one id per distinct envelope (some 100 bytes each), the
 * price of deduping a file whose duplicates may be anywhere after a rebalance.
 */
export function readArchive(dir: string, topic: string): ArchiveReader {
  const file = archiveFile(dir, topic);
  const stats: ArchiveReadStats = { lines: 0, distinct: 0, duplicates: 0, torn: 0 };
  return {
    stats,
    async *[Symbol.asyncIterator]() {
      if (!existsSync(file)) return;
      const seen = new Set<string>();
      const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
      for await (const line of lines) {
        stats.lines++;
        const { envelopes, torn } = envelopesOfLine(topic, line);
        stats.torn += torn;
        for (const e of envelopes) {
          if (seen.has(e.id)) {
            stats.duplicates++;
            continue;
          }
          seen.add(e.id);
          stats.distinct++;
          yield e;
        }
      }
    },
  };
}

/** Reads the whole file for its figures (`orderflow archive status`). */
export async function archiveFileStats(dir: string, topic: string): Promise<ArchiveReadStats & { file: string; bytes: number }> {
  const file = archiveFile(dir, topic);
  const reader = readArchive(dir, topic);
  for await (const _ of reader) {
    // counted by the reader
  }
  return { file, bytes: existsSync(file) ? statSync(file).size : 0, ...reader.stats };
}

// Where a line may hold the start of an envelope: every writer encodes `id` first (envelope.ts encode).
const START = '{"id":"';

/**
 * The whole envelopes in one line, and how many fragments were not. A line is one envelope
 * but after a crash: then a fragment (a torn write) may precede one (Connect appends the
 * redelivery right after the torn bytes), or a whole envelope may lack its newline and run
 * into the next. Only then does it search the line, cutting it at each place an envelope may
 * start; an `{"id":"` inside a payload is no cut, as the text before it is not a whole envelope.
 */
export function envelopesOfLine(topic: string, line: string): { envelopes: Envelope[]; torn: number } {
  if (line.length === 0) return { envelopes: [], torn: 0 };
  const whole = parse(topic, line);
  if (whole) return { envelopes: [whole], torn: 0 };
  const starts: number[] = [];
  for (let i = line.indexOf(START); i >= 0; i = line.indexOf(START, i + 1)) starts.push(i);
  const envelopes: Envelope[] = [];
  let torn = 0;
  let pos = 0;
  while (pos < line.length) {
    let found: { envelope: Envelope; end: number } | undefined;
    if (line.startsWith(START, pos)) {
      for (const end of [...starts.filter((s) => s > pos), line.length]) {
        const envelope = parse(topic, line.slice(pos, end));
        if (envelope) {
          found = { envelope, end };
          break;
        }
      }
    }
    if (found) {
      envelopes.push(found.envelope);
      pos = found.end;
      continue;
    }
    torn++;
    const next = starts.find((s) => s > pos);
    if (next === undefined) break;
    pos = next;
  }
  return { envelopes, torn };
}

function parse(topic: string, text: string): Envelope | undefined {
  try {
    return decode({ topic, key: '', value: text, headers: {} });
  } catch {
    return undefined;
  }
}

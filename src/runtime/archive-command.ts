/**
 * `orderflow archive status`: what the event archive (platform/bus/archive.ts) holds, per
 * topic: its file, bytes, lines, distinct envelope ids, lines repeated by a writer's restart
 * (at least once) and torn fragments. Reads the files only, so it answers with the system down.
 */
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { archivedTopics, archiveFileStats } from '#platform/bus/archive.ts';
import { loadRuntimeConfig } from './config.ts';
import { runCommand, UsageError } from './command.ts';

export const ARCHIVE_USAGE = `  archive status [--dir <archive dir>] [--data-dir ./data] [--json]
        The event archive, per topic: its file, bytes, lines, distinct envelope ids, duplicates (a
        writer's restart appends again what it had not committed) and torn lines (a crash mid-write).
        The archive is <data-dir>/archive unless ORDERFLOW_ARCHIVE_DIR or --dir names another.`;

export function archiveCommand(args: string[]): Promise<number> {
  return runCommand('archive', ARCHIVE_USAGE, () => run(args));
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      dir: { type: 'string' },
      'data-dir': { type: 'string', default: './data' },
      json: { type: 'boolean', default: false },
    },
  });
  const [action, extra] = positionals;
  if (action !== 'status') throw new UsageError('archive needs status, e.g. orderflow archive status');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const dir = values.dir ? resolve(values.dir) : archiveDir(values['data-dir']);
  const stats = [];
  for (const topic of archivedTopics(dir)) stats.push({ topic, ...(await archiveFileStats(dir, topic)) });
  if (values.json) {
    process.stdout.write(`${JSON.stringify({ dir, topics: stats }, null, 2)}\n`);
    return 0;
  }
  if (stats.length === 0) {
    process.stdout.write(`no archive in ${dir} (orderflow up keeps one there unless --no-archive)\n`);
    return 0;
  }
  const rows = [['topic', 'lines', 'distinct ids', 'duplicates', 'torn', 'bytes'], ...stats.map((s) => [s.topic, s.lines, s.distinct, s.duplicates, s.torn, s.bytes].map(String))];
  const widths = rows[0].map((_, i) => Math.max(...rows.map((r) => r[i].length)));
  process.stdout.write(`archive ${dir}\n`);
  for (const r of rows) process.stdout.write(`${r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')}\n`);
  return 0;
}

/** Where `orderflow up` keeps the archive of a data directory: ORDERFLOW_ARCHIVE_DIR, else `<dataDir>/archive`. */
export function archiveDir(dataDir: string): string {
  return resolve(loadRuntimeConfig().archiveDir ?? resolve(dataDir, 'archive'));
}

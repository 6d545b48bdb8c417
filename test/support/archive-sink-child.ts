/**
 * An archive sink in a process of its own, for src/platform/bus/archive-sink.test.ts to kill
 * with kill -9 while it writes: the embedded log at `bus file`, the archive in `dir`, offsets
 * committed every `commitMs`. Prints "joined" once it is a member of its group.
 *
 *   argv: <bus file> <dir> <topic,topic...> <commitMs>
 */
import { openEmbeddedLog } from '#platform/bus/embedded/embedded-log.ts';
import { startArchiveSink } from '#platform/bus/archive-sink.ts';
import { silentLogger } from '#platform/log.ts';

const [file, dir, topics, commitMs] = process.argv.slice(2);
const bus = openEmbeddedLog({ file, log: silentLogger, commitIntervalMs: Number(commitMs), instance: 'archive-child' });
const sink = await startArchiveSink({ bus, topics: topics.split(','), dir, log: silentLogger });
while (!sink.joined()) await new Promise((r) => setTimeout(r, 10));
process.stdout.write('joined\n');
setInterval(() => {}, 60_000);

/**
 * `orderflow dlq list|replay|discard <topic>`: the dead letters of a topic, read from the
 * `dead_letters` table of each service that consumes from the bus (its own database, opened
 * as `orderflow orders stuck` opens the orders one), so that it answers with the system down
 * and lists without scanning a topic.
 *
 * Replay takes the pending rows and appends their records to that service's outbox in one
 * transaction (bus/dead-letters.ts), then runs a relay here until they are published: a
 * second replay finds nothing pending. Discard marks pending rows discarded.
 *
 * Dead letters written before the table existed are only on `<topic>.dlq`. `list` reads the
 * topic when no service has any row for it (and says so); `--from-topic` reads it always,
 * and `replay --from-topic` republishes what is there as the command did before the table:
 * without state, so everything found is replayed again each time.
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { loadPlatformConfig, type PlatformConfig } from '#platform/config.ts';
import type { Bus } from '#platform/bus/bus.ts';
import type { Db } from '#platform/db/db.ts';
import type { DeadLetterState, StoredDeadLetter } from '#platform/bus/dead-letter-store.ts';
import { inheritedEnv, loadRuntimeConfig } from './config.ts';
import { runCommand, UsageError } from './command.ts';

/** The services that consume from the bus, hence may hold dead letters. */
const consumingServices = ['orders', 'inventory', 'payments', 'shipping', 'cart'] as const;

export const DLQ_USAGE = `  dlq list <topic> [--state pending|replayed|discarded|all] [--from-topic] [--json]
  dlq replay <topic> [--id <id>]... [--from-topic]
  dlq discard <topic> (--id <id>... | --all)
      [--kafka] [--postgres] [--data-dir ./data] [--service orders|inventory|payments|shipping|cart]...
        Dead letters of a topic, from the dead_letters table of each consuming service (or --service).
        list shows the pending ones unless --state says otherwise; replay publishes the pending ones
        (or those --id names: a dead letter's id or its message id) back to the topic, once, and marks
        them replayed; discard marks them discarded. Records that predate the table are on <topic>.dlq:
        list reads it when no service has a row for the topic; --from-topic reads (and replays) it.`;

export function dlqCommand(args: string[]): Promise<number> {
  return runCommand('dlq', DLQ_USAGE, () => run(args));
}

async function run(args: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    strict: true,
    options: {
      kafka: { type: 'boolean', default: false },
      postgres: { type: 'boolean', default: false },
      'data-dir': { type: 'string' },
      service: { type: 'string', multiple: true },
      state: { type: 'string', default: 'pending' },
      id: { type: 'string', multiple: true },
      all: { type: 'boolean', default: false },
      'from-topic': { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
    },
  });
  const { deadLetterStates } = await import('#platform/bus/dead-letter-store.ts');
  const [action, rawTopic, extra] = positionals;
  if ((action !== 'list' && action !== 'replay' && action !== 'discard') || !rawTopic) throw new UsageError('dlq needs list|replay|discard and a topic, e.g. orderflow dlq list payments.commands');
  if (extra !== undefined) throw new UsageError(`unexpected argument "${extra}"`);
  const topic = rawTopic.endsWith('.dlq') ? rawTopic.slice(0, -'.dlq'.length) : rawTopic;
  const state = values.state === 'all' ? undefined : (values.state as DeadLetterState);
  if (state !== undefined && !deadLetterStates.includes(state)) throw new UsageError(`--state must be one of ${deadLetterStates.join(', ')}, all; got "${values.state}"`);
  const services = values.service ?? [...consumingServices];
  for (const s of services) if (!(consumingServices as readonly string[]).includes(s)) throw new UsageError(`--service must be one of ${consumingServices.join(', ')}; got "${s}"`);
  if (action === 'discard' && values.id === undefined && !values.all) throw new UsageError('discard needs --id <id> (repeatable) or --all');
  if (action === 'discard' && values['from-topic']) throw new UsageError('a dead letter on the topic alone has no state to discard');

  const overlay: Record<string, string> = {};
  if (values['data-dir']) overlay.ORDERFLOW_DATA_DIR = resolve(values['data-dir']);
  if (values.kafka) Object.assign(overlay, { ORDERFLOW_BUS: 'kafka', KAFKA_BROKERS: loadRuntimeConfig().kafkaBrokers });
  if (values.postgres) Object.assign(overlay, { ORDERFLOW_STORE: 'postgres', DATABASE_URL: loadRuntimeConfig().databaseUrl });
  const platform = loadPlatformConfig({ ...inheritedEnv(), ...overlay });
  const ids = values.id;

  if (values['from-topic']) return fromTopic(platform, action as 'list' | 'replay', topic, ids, values.json);

  const dbs = await openServiceDbs(platform, services);
  let bus: Bus | undefined;
  try {
    if (action === 'list') {
      const { queryDeadLetters } = await import('#platform/bus/dead-letter-store.ts');
      const rows: Array<StoredDeadLetter & { service: string }> = [];
      let any = false;
      for (const { service, db } of dbs) {
        const found = await orNone(() => queryDeadLetters(db, { topic, state }));
        for (const r of found) rows.push({ ...r, service });
        any ||= found.length > 0 || (state !== undefined && (await orNone(() => queryDeadLetters(db, { topic, limit: 1 }))).length > 0);
      }
      if (!any) {
        process.stderr.write(`no service has a dead_letters row for ${topic}; reading ${topic}.dlq (dead letters that predate the table: replay them with --from-topic)\n`);
        return fromTopic(platform, 'list', topic, ids, values.json);
      }
      rows.sort((a, b) => (a.failedAt < b.failedAt ? -1 : a.failedAt > b.failedAt ? 1 : 0));
      if (values.json) {
        process.stdout.write(JSON.stringify(rows, null, 2) + '\n');
        return 0;
      }
      if (rows.length === 0) process.stdout.write(`no ${state === undefined ? '' : `${state} `}dead letters of ${topic}\n`);
      for (const r of rows) {
        const who = r.origin === 'relay' ? `${r.service} relay` : `${r.service}/${r.consumerGroup}`;
        process.stdout.write(`${r.failedAt}  ${r.state}  ${r.id}  ${who}  ${r.messageId ?? '(malformed)'}  ${r.messageType ?? ''}  key=${r.record.key}  attempts=${r.attempts}  ${r.error.code}: ${r.error.message.slice(0, 200)}\n`);
      }
      return 0;
    }

    const filter = { topic, ...(ids === undefined ? {} : { ids }) };
    if (action === 'discard') {
      const { discardDeadLetters } = await import('#platform/bus/dead-letters.ts');
      let n = 0;
      for (const { db } of dbs) n += (await orNone(() => discardDeadLetters(db, filter))).length;
      process.stdout.write(`discarded ${n} dead letter${n === 1 ? '' : 's'} of ${topic}\n`);
      return 0;
    }

    const { replayStoredDeadLetters } = await import('#platform/bus/dead-letters.ts');
    const { startOutboxRelay } = await import('#platform/bus/outbox-relay.ts');
    const { publishOutboxFromWal } = await import('#platform/bus/outbox.ts');
    const { openBus } = await import('#platform/bus/open.ts');
    // With Debezium, the connector publishes the outbox rows from the WAL; no relay here.
    publishOutboxFromWal(platform.relay === 'debezium');
    let n = 0;
    for (const { db } of dbs) {
      bus ??= await openBus(platform, 'orderflow-cli');
      const relay = platform.relay === 'debezium' ? undefined : startOutboxRelay({ db, bus });
      try {
        n += (await orNone(() => replayStoredDeadLetters(db, filter))).length;
        await relay?.flush();
      } finally {
        await relay?.close();
      }
    }
    process.stdout.write(`replayed ${n} dead letter${n === 1 ? '' : 's'} onto ${topic}\n`);
    return 0;
  } finally {
    await bus?.close();
    for (const { db } of dbs) await db.close();
  }
}

async function openServiceDbs(platform: Readonly<PlatformConfig>, services: readonly string[]): Promise<Array<{ service: string; db: Db }>> {
  const { openServiceDb } = await import('#platform/db/open.ts');
  const out: Array<{ service: string; db: Db }> = [];
  for (const service of services) {
    // A service that never ran here has no file; on PostgreSQL its database is opened (created empty).
    if (platform.store === 'sqlite' && !existsSync(join(platform.dataDir, `${service}.sqlite`))) continue;
    out.push({ service, db: await openServiceDb({ ...platform, poolSize: 1 }, service) });
  }
  if (out.length === 0) process.stderr.write(`no service database in ${platform.dataDir} (use --data-dir, or --postgres)\n`);
  return out;
}

// A database whose service has not run this version yet has no dead_letters table: no rows.
async function orNone<T>(fn: () => Promise<T[]>): Promise<T[]> {
  try {
    return await fn();
  } catch (err) {
    const e = err as { code?: unknown; message?: unknown };
    if (e.code === '42P01' || /no such table: dead_letters/.test(String(e.message))) return [];
    throw err;
  }
}

async function fromTopic(platform: Readonly<PlatformConfig>, action: 'list' | 'replay', topic: string, ids: string[] | undefined, json: boolean): Promise<number> {
  const { openBus } = await import('#platform/bus/open.ts');
  const { listDeadLetters, replayDeadLetters } = await import('#platform/bus/dead-letters.ts');
  const bus = await openBus(platform, 'orderflow-cli');
  try {
    if (action === 'replay') {
      const n = await replayDeadLetters(bus, topic, ids ? { ids } : {});
      process.stdout.write(`replayed ${n} dead letter${n === 1 ? '' : 's'} from ${topic}.dlq onto ${topic}\n`);
      return 0;
    }
    const letters = await listDeadLetters(bus, topic);
    if (json) {
      process.stdout.write(JSON.stringify(letters, null, 2) + '\n');
      return 0;
    }
    if (letters.length === 0) process.stdout.write(`no dead letters on ${topic}.dlq\n`);
    for (const dl of letters) {
      process.stdout.write(`${dl.failedAt}  ${dl.id}  ${dl.message?.type ?? '(malformed)'}  key=${dl.record.key ?? ''}  attempts=${dl.attempts}  ${dl.error.code}: ${dl.error.message}\n`);
    }
    return 0;
  } finally {
    await bus.close();
  }
}

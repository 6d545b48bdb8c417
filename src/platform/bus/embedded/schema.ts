/**
 * The embedded log's SQLite file: schema, pragmas and the prepared statements every
 * operation uses. Several OS processes open the same file, so everything here must be
 * safe under concurrent openers (IF NOT EXISTS, OR IGNORE, IMMEDIATE transactions).
 */
import { DatabaseSync, type StatementSync } from 'node:sqlite';
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { untilUnlocked } from '../../db/sqlite.ts';

const SCHEMA = `
CREATE TABLE IF NOT EXISTS topics (
  name TEXT PRIMARY KEY,
  partitions INTEGER NOT NULL
) WITHOUT ROWID;
-- Topics whose records are never trimmed (TopicSpec.compact: state changelogs). A table of
-- its own rather than a column, so that files made before it need no migration.
CREATE TABLE IF NOT EXISTS compacted_topics (
  name TEXT PRIMARY KEY
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS partition_heads (
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  next_offset INTEGER NOT NULL,
  PRIMARY KEY (topic, partition)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS records (
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  offset INTEGER NOT NULL,
  key TEXT NOT NULL,
  value TEXT NOT NULL,
  headers TEXT NOT NULL,
  ts INTEGER NOT NULL,
  PRIMARY KEY (topic, partition, offset)
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS group_offsets (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  partition INTEGER NOT NULL,
  committed INTEGER NOT NULL,
  PRIMARY KEY (group_id, topic, partition)
) WITHOUT ROWID;
-- One row per (group, topic): the member that owns all of the topic's partitions for the
-- group (member_id is instance|host:pid:random; other members stand by, unlisted). A row is never deleted, only marked left (member_id NULL), so that generations
-- only ever grow and a zombie can never be un-fenced by a later member reusing its number.
-- heartbeat_at is the last sign of life: a heartbeat, or leaving (NULL: left before that was kept).
CREATE TABLE IF NOT EXISTS group_members (
  group_id TEXT NOT NULL,
  topic TEXT NOT NULL,
  member_id TEXT,
  generation INTEGER NOT NULL,
  heartbeat_at INTEGER,
  PRIMARY KEY (group_id, topic)
) WITHOUT ROWID;
`;

export function openDatabase(file: string, busyTimeoutMs = 10_000): DatabaseSync {
  if (file !== ':memory:') mkdirSync(dirname(file), { recursive: true });
  const db = new DatabaseSync(file, { timeout: busyTimeoutMs });
  // busy_timeout first: switching to WAL and creating tables contend with other openers.
  // NORMAL in WAL mode: a commit survives the death of the process (kill -9), only a power
  // loss can drop the last transactions. That is the failure that matters on one machine.
  untilUnlocked(30_000, undefined, file, () => {
    db.exec(`PRAGMA busy_timeout = ${busyTimeoutMs}; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL`);
    immediate(db, () => db.exec(SCHEMA));
  });
  return db;
}

/** Every statement the log runs, prepared once per connection. */
export function prepareStatements(db: DatabaseSync) {
  const p = (sql: string): StatementSync => db.prepare(sql);
  return {
    topicPartitions: p('SELECT partitions FROM topics WHERE name = ?'),
    insertTopic: p('INSERT OR IGNORE INTO topics (name, partitions) VALUES (?, ?)'),
    insertCompacted: p('INSERT OR IGNORE INTO compacted_topics (name) VALUES (?)'),
    head: p('SELECT next_offset FROM partition_heads WHERE topic = ? AND partition = ?'),
    fetchBelow: p(
      'SELECT offset, key, value, headers FROM records WHERE topic = ? AND partition = ? AND offset >= ? AND offset < ? ORDER BY offset LIMIT ?',
    ),
    insertHead: p('INSERT OR IGNORE INTO partition_heads (topic, partition, next_offset) VALUES (?, ?, 0)'),
    advanceHead: p(
      'UPDATE partition_heads SET next_offset = next_offset + ? WHERE topic = ? AND partition = ? RETURNING next_offset',
    ),
    insertRecord: p(
      'INSERT INTO records (topic, partition, offset, key, value, headers, ts) VALUES (?, ?, ?, ?, ?, ?, ?)',
    ),
    /** Heads of many topics at once; the topics come as a JSON array so one statement serves any set. */
    heads: p('SELECT topic, partition, next_offset FROM partition_heads WHERE topic IN (SELECT value FROM json_each(?))'),
    dataVersion: p('PRAGMA data_version'),
    fetch: p(
      'SELECT offset, key, value, headers FROM records WHERE topic = ? AND partition = ? AND offset >= ? ORDER BY offset LIMIT ?',
    ),
    readTopic: p(
      'SELECT partition, offset, key, value, headers FROM records WHERE topic = ? ORDER BY ts, partition, offset LIMIT ?',
    ),
    join: p(
      `INSERT INTO group_members (group_id, topic, member_id, generation, heartbeat_at) VALUES (?, ?, ?, 1, ?)
       ON CONFLICT (group_id, topic) DO UPDATE SET member_id = excluded.member_id,
         generation = generation + 1, heartbeat_at = excluded.heartbeat_at
       RETURNING generation`,
    ),
    heartbeat: p('UPDATE group_members SET heartbeat_at = ? WHERE group_id = ? AND topic = ? AND generation = ?'),
    leave: p(
      'UPDATE group_members SET member_id = NULL, heartbeat_at = ? WHERE group_id = ? AND topic = ? AND generation = ?',
    ),
    generation: p('SELECT generation FROM group_members WHERE group_id = ? AND topic = ?'),
    member: p('SELECT member_id, generation, heartbeat_at FROM group_members WHERE group_id = ? AND topic = ?'),
    // A new group starts at the earliest record still in the log: the first retained one, or
    // the head when trimming emptied the partition (offset 0 on a log never trimmed).
    initOffset: p(
      `INSERT OR IGNORE INTO group_offsets (group_id, topic, partition, committed) VALUES (?1, ?2, ?3, COALESCE(
         (SELECT MIN(offset) FROM records WHERE topic = ?2 AND partition = ?3),
         (SELECT next_offset FROM partition_heads WHERE topic = ?2 AND partition = ?3), 0))`,
    ),
    committed: p('SELECT committed FROM group_offsets WHERE group_id = ? AND topic = ? AND partition = ?'),
    // Conditional on the member's generation: a fenced member's commit changes nothing.
    commit: p(
      `UPDATE group_offsets SET committed = ? WHERE group_id = ? AND topic = ? AND partition = ?
         AND (SELECT generation FROM group_members WHERE group_id = ? AND topic = ?) = ?`,
    ),
    lag: p(
      `SELECT COALESCE(SUM(h.next_offset - MAX(COALESCE(o.committed, 0),
         COALESCE((SELECT MIN(r.offset) FROM records r WHERE r.topic = h.topic AND r.partition = h.partition), h.next_offset))), 0) AS lag
       FROM partition_heads h
       LEFT JOIN group_offsets o ON o.group_id = ? AND o.topic = h.topic AND o.partition = h.partition
       WHERE h.topic IN (SELECT value FROM json_each(?))`,
    ),
    positions: p(
      `SELECT h.topic, h.partition, h.next_offset AS end_offset, o.committed,
         COALESCE((SELECT MIN(r.offset) FROM records r WHERE r.topic = h.topic AND r.partition = h.partition), h.next_offset) AS start_offset
       FROM partition_heads h
       LEFT JOIN group_offsets o ON o.group_id = ? AND o.topic = h.topic AND o.partition = h.partition
       WHERE h.topic IN (SELECT value FROM json_each(?)) ORDER BY h.topic, h.partition`,
    ),
    // Trimming (trim.ts). Per partition: its head and its first record, the smallest commit of
    // the groups reading it, and one chunk of records below a bound and older than a time.
    // The chunk is picked by offset through the primary key, so a DELETE reads only what it deletes.
    trimPartitions: p(
      `SELECT h.topic, h.partition, h.next_offset,
         (SELECT r.offset FROM records r WHERE r.topic = h.topic AND r.partition = h.partition ORDER BY r.offset LIMIT 1) AS first_offset,
         (SELECT r.ts FROM records r WHERE r.topic = h.topic AND r.partition = h.partition ORDER BY r.offset LIMIT 1) AS first_ts
       FROM partition_heads h WHERE h.topic NOT IN (SELECT name FROM compacted_topics)`,
    ),
    // Compaction of the compacted topics (trim.ts): their partitions, the keys and times of
    // one partition's records (no values: a tombstone is an empty one), and deletion by offsets.
    compactedPartitions: p(
      `SELECT h.topic, h.partition FROM partition_heads h WHERE h.topic IN (SELECT name FROM compacted_topics) ORDER BY h.topic, h.partition`,
    ),
    compactScan: p("SELECT offset, key, value = '' AS tombstone, ts FROM records WHERE topic = ? AND partition = ? ORDER BY offset"),
    deleteOffsets: p('DELETE FROM records WHERE topic = ? AND partition = ? AND offset IN (SELECT value FROM json_each(?))'),
    // A group holds its topics' records until it has shown no sign of life since ?1 (ms):
    // offsets of a group gone for good (a consumer removed, an architecture switched) expire,
    // as Kafka's do (offsets.retention.minutes). A row without a time holds.
    minCommitted: p(
      `SELECT MIN(o.committed) AS committed FROM group_offsets o
       LEFT JOIN group_members m ON m.group_id = o.group_id AND m.topic = o.topic
       WHERE o.topic = ?2 AND o.partition = ?3 AND (m.heartbeat_at IS NULL OR m.heartbeat_at >= ?1)`,
    ),
    trimChunk: p(
      `DELETE FROM records WHERE topic = ?1 AND partition = ?2 AND ts < ?4 AND offset IN (
         SELECT offset FROM records WHERE topic = ?1 AND partition = ?2 AND offset < ?3 ORDER BY offset LIMIT ?5)`,
    ),
  };
}

export type Statements = ReturnType<typeof prepareStatements>;

/** Runs `fn` in a write transaction taken up front, so it never fails half-way on a lock upgrade. */
export function immediate<T>(db: DatabaseSync, fn: () => T): T {
  db.exec('BEGIN IMMEDIATE');
  try {
    const result = fn();
    db.exec('COMMIT');
    return result;
  } catch (err) {
    if (db.isTransaction) db.exec('ROLLBACK');
    throw err;
  }
}

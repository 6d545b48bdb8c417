/** The effect table and handler shared by the lazy-commit crash test and its child process. */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import { inboxMigrations } from '#platform/bus/consumer.ts';
import { outboxMigrations } from '#platform/bus/outbox.ts';
import type { Migration } from '#platform/db/db.ts';

export const crashMigrations: Migration[] = [
  ...outboxMigrations,
  ...inboxMigrations,
  { id: 'test-effects', sql: 'CREATE TABLE effects (message_id TEXT NOT NULL, key TEXT NOT NULL, n INTEGER NOT NULL, pid INTEGER NOT NULL)' },
];

/** One row per handling: a second handling of a message would show as a second row. */
export const recordEffect: MessageHandler = async ({ tx, message }) => {
  await tx.execute('INSERT INTO effects (message_id, key, n, pid) VALUES ($1, $2, $3, $4)', [message.id, message.key, (message.payload as { n: number }).n, process.pid]);
};

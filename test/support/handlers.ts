/** Drives message handlers the way the consumer does, without a bus. */
import type { MessageHandler } from '#platform/bus/consumer.ts';
import { encode, type Envelope } from '#platform/bus/envelope.ts';
import type { Db, Sql } from '#platform/db/db.ts';

export type Emitted = Array<{ topic: string; message: Envelope }>;
export interface Delivery { topic: string; message: Envelope }

/** Runs one message through its handler inside `tx`, pushing what it emits onto `emitted`. */
export function handleIn(tx: Sql, handlers: Record<string, MessageHandler>, cmd: Delivery, emitted: Emitted, at = { partition: 0, offset: '0' }): Promise<void> {
  return handlers[cmd.message.type]({
    tx,
    message: cmd.message,
    record: { ...encode(cmd.topic, cmd.message), ...at },
    emit: (topic, m) => void emitted.push({ topic, message: m }),
  });
}

/** Runs one message through its handler in its own transaction; returns what it emitted. */
export async function runHandler(db: Db, handlers: Record<string, MessageHandler>, cmd: Delivery): Promise<Emitted> {
  const emitted: Emitted = [];
  await db.transaction((tx) => handleIn(tx, handlers, cmd, emitted));
  return emitted;
}

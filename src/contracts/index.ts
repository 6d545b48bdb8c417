/**
 * The registry of every message. `validateMessage` is what publishers and consumers call.
 */
import { newEnvelope, type Envelope } from '#platform/bus/envelope.ts';
import { InvalidMessage } from '#platform/errors.ts';
import type { Contract, PayloadOf } from './contract.ts';
import * as inventory from './inventory.ts';
import * as orders from './orders.ts';
import * as payments from './payments.ts';
import * as shipping from './shipping.ts';

export * from './inventory.ts';
export * from './orders.ts';
export * from './payments.ts';
export * from './shipping.ts';
export { Topics, allTopics, deadLetterTopic } from './topics.ts';
export type { Contract, PayloadOf } from './contract.ts';

export const contracts: Contract[] = [
  ...Object.values(orders),
  ...Object.values(inventory),
  ...Object.values(payments),
  ...Object.values(shipping),
];

const byType = new Map(contracts.map((c) => [`${c.type}@${c.version}`, c]));

export function contractOf(type: string, version = 1): Contract | undefined {
  return byType.get(`${type}@${version}`);
}

/** Returns why a message does not fit its contract, or undefined when it does. */
export function validateMessage(msg: { type: string; version: number; payload: unknown }): string | undefined {
  const c = contractOf(msg.type, msg.version);
  if (!c) return `unknown message type ${msg.type} v${msg.version}`;
  return c.check(msg.payload);
}

/**
 * Builds a message of a contract, checked against its schema. `cause` is the message being
 * handled, so that correlation and causation carry on.
 */
export function message<C extends Contract>(
  contract: C,
  args: { key: string; payload: PayloadOf<C>; cause?: Pick<Envelope, 'id' | 'headers'>; id?: string; occurredAt?: string },
): { topic: string; message: Envelope<PayloadOf<C>> } {
  const problem = contract.check(args.payload);
  if (problem) throw InvalidMessage(`${contract.type}: ${problem}`);
  return {
    topic: contract.topic,
    message: newEnvelope({ type: contract.type, version: contract.version, ...args }),
  };
}

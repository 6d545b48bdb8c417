/**
 * The registry of every message. Publishers check with `validateMessage` (via `message`);
 * consumers with `checkMessage`, which startConsumer takes as its `validate`.
 *
 * Evolution policy (docs/contracts.md says it at length):
 * - Within a version, changes are additive only: a new optional field, a new event type.
 *   Never remove, rename, retype or make required a field of a published version.
 * - A breaking change is a new version: a new contract with the same type, `version + 1`,
 *   and an `upcast` from the previous version's payload. The old contract stays here while
 *   any producer or retained record may still carry it.
 * - Rollout: consumers first. A consumer accepts every version it has a contract for; an
 *   older one is upcast to the newest before its handler runs. Producers switch to the new
 *   version only once every consumer knows it.
 * - If a producer does run ahead, its consumers do not dead-letter the new version: an
 *   unknown version of a known type is a deploy in progress, so the partition waits and is
 *   retried with backoff (metric `orderflow_messages_total{outcome="unknown_version"}` and
 *   a warn log) until a consumer that knows it takes over. Only an unknown type, a retired
 *   version or a payload failing its schema is dead-lettered at once.
 */
import { newEnvelope, type Envelope } from '#platform/bus/envelope.ts';
import type { MessageCheck } from '#platform/bus/consumer.ts';
import { InvalidMessage } from '#platform/errors.ts';
import type { Contract, PayloadOf } from './contract.ts';
import { createRegistry } from './registry.ts';
import * as ingestion from './ingestion.ts';
import * as inventory from './inventory.ts';
import * as orders from './orders.ts';
import * as payments from './payments.ts';
import * as shipping from './shipping.ts';
import * as cart from './cart.ts';
import * as users from './users.ts';

export * from './ingestion.ts';
export * from './inventory.ts';
export * from './orders.ts';
export * from './payments.ts';
export * from './shipping.ts';
export * from './cart.ts';
export * from './users.ts';
export { Topics, allTopics, deadLetterTopic } from './topics.ts';
export type { Contract, PayloadOf } from './contract.ts';
export { streamRecords, OrderOutcomeRecord, ConversionRecord, WindowRecord, type OrderOutcome, type Conversion, type StreamRecordContract } from './analytics.ts';
export { createRegistry, type Registry } from './registry.ts';

export const contracts: Contract[] = [
  ...Object.values(orders),
  ...Object.values(inventory),
  ...Object.values(payments),
  ...Object.values(shipping),
  ...Object.values(users),
  ...Object.values(ingestion),
  ...Object.values(cart),
];

const registry = createRegistry(contracts);

export function contractOf(type: string, version = 1): Contract | undefined {
  return registry.contractOf(type, version);
}

/** Returns why a message does not fit its contract, or undefined when it does. */
export function validateMessage(msg: { type: string; version: number; payload: unknown }): string | undefined {
  return registry.validate(msg);
}

/** What a consumer does with a message: handle it (upcast), dead-letter it, or wait. */
export const checkMessage: (message: Envelope) => MessageCheck = registry.check;

/**
 * Builds a message of a contract, checked against its schema and keyed by the contract's
 * key field. `cause` is the message being handled, so that correlation and causation carry on.
 */
export function message<C extends Contract>(
  contract: C,
  args: { key?: string; payload: PayloadOf<C>; cause?: Pick<Envelope, 'id' | 'headers'>; id?: string; occurredAt?: string },
): { topic: string; message: Envelope<PayloadOf<C>> } {
  const problem = contract.check(args.payload);
  if (problem) throw InvalidMessage(`${contract.type}: ${problem}`);
  // The key is the contract's key field; a caller that names one must name that one.
  const key = String((args.payload as Record<string, unknown>)[contract.key]);
  if (args.key !== undefined && args.key !== key) throw InvalidMessage(`${contract.type} is keyed by its ${contract.key} (${key}), not by ${args.key}`);
  return {
    topic: contract.topic,
    message: newEnvelope({ type: contract.type, version: contract.version, ...args, key }),
  };
}

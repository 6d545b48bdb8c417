/**
 * A contract names one message: its type, version, topic, owning service and payload
 * schema. Payloads are checked against it when published and when consumed.
 */
import type { Static, TSchema } from '@sinclair/typebox';
import { TypeCompiler } from '@sinclair/typebox/compiler';

export interface Contract<S extends TSchema = TSchema> {
  type: string;
  version: number;
  topic: string;
  owner: 'orders' | 'inventory' | 'payments' | 'shipping' | 'users' | 'ingestion' | 'cart';
  kind: 'command' | 'event';
  /**
   * The payload field whose value is the record key: what a topic's partitions and their
   * order are per (a saga's messages are all keyed by their order). `message()` checks it.
   */
  key: string;
  schema: S;
  /**
   * From the payload of the previous version (`version - 1`, already checked against its
   * contract) to this one. Required of every version after the first (a test checks it);
   * the registry chains them, so a v1 message reaches a v3 handler as v3.
   */
  upcast?: (previous: any) => Static<S>;
  /** Returns the first schema violation, or undefined when the payload fits. */
  check(payload: unknown): string | undefined;
}

export type PayloadOf<C> = C extends Contract<infer S> ? Static<S> : never;

/** Keyed by `orderId` unless it says otherwise. */
export function defineContract<S extends TSchema>(c: Omit<Contract<S>, 'check' | 'key'> & { key?: string }): Contract<S> {
  const compiled = TypeCompiler.Compile(c.schema);
  return {
    ...c,
    key: c.key ?? 'orderId',
    check(payload) {
      if (compiled.Check(payload)) return undefined;
      const first = compiled.Errors(payload).First();
      return first ? `${first.path || '/'}: ${first.message}` : 'payload does not match its schema';
    },
  };
}

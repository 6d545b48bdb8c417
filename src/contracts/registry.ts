/**
 * Looks messages up by type and version, and tells a consumer what to do with one it got:
 * handle it (upcast to the newest version this code knows), dead-letter it (unknown type,
 * a version that was retired, a payload that fails its schema), or wait (a newer version
 * than this code knows: a producer was deployed first; see the policy in index.ts).
 */
import type { Envelope } from '#platform/bus/envelope.ts';
import type { MessageCheck } from '#platform/bus/consumer.ts';
import type { Contract } from './contract.ts';

export interface Registry {
  contractOf(type: string, version?: number): Contract | undefined;
  /** The newest version of `type` this code knows, the one its handlers are written for. */
  latestOf(type: string): Contract | undefined;
  /** Publisher side: why a message does not fit its own contract, or undefined. */
  validate(msg: { type: string; version: number; payload: unknown }): string | undefined;
  /** Consumer side: the coded verdict of startConsumer's `validate`. */
  check(message: Envelope): MessageCheck;
}

export function createRegistry(contracts: Contract[]): Registry {
  const byVersion = new Map<string, Contract>();
  const latest = new Map<string, Contract>();
  for (const c of contracts) {
    const key = `${c.type}@${c.version}`;
    if (byVersion.has(key)) throw new Error(`contract ${key} is declared twice`);
    byVersion.set(key, c);
    if ((latest.get(c.type)?.version ?? 0) < c.version) latest.set(c.type, c);
  }
  const contractOf = (type: string, version = 1) => byVersion.get(`${type}@${version}`);

  return {
    contractOf,
    latestOf: (type) => latest.get(type),
    validate(msg) {
      const c = contractOf(msg.type, msg.version);
      if (!c) return `unknown message type ${msg.type} v${msg.version}`;
      return c.check(msg.payload);
    },
    check(message) {
      const newest = latest.get(message.type);
      if (newest === undefined) return { code: 'invalid', reason: `unknown message type ${message.type}` };
      if (!Number.isInteger(message.version) || message.version < 1) return { code: 'invalid', reason: `bad version ${message.version}` };
      if (message.version > newest.version) {
        return { code: 'unknown_version', reason: `${message.type} v${message.version} is newer than v${newest.version}, the newest known here` };
      }
      let payload = message.payload;
      for (let v = message.version; ; v++) {
        const c = contractOf(message.type, v);
        if (c === undefined) return { code: 'invalid', reason: `${message.type} v${v} is retired (no contract for it)` };
        const problem = c.check(payload);
        if (problem !== undefined) return { code: 'invalid', reason: v === message.version ? problem : `after upcast to v${v}: ${problem}` };
        if (v === newest.version) break;
        const next = contractOf(message.type, v + 1);
        if (next?.upcast === undefined) return { code: 'invalid', reason: `${message.type} v${v + 1} declares no upcast from v${v}` };
        try {
          payload = next.upcast(payload);
        } catch (err) {
          return { code: 'invalid', reason: `upcast of ${message.type} v${v} to v${v + 1} threw: ${(err as Error)?.message ?? err}` };
        }
      }
      if (message.version === newest.version) return { code: 'ok' };
      return { code: 'ok', message: { ...message, version: newest.version, payload } };
    },
  };
}

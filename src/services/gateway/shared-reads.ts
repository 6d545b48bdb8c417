/**
 * Identical GETs of one event-loop turn share one call to the service: 64 clients asking
 * for the catalog at once cost the service one request, not 64. A call leaves after every
 * request it answers arrived, so no answer is older than its request; a request that
 * arrives once the call left waits for the next one. Only If-None-Match tells identical
 * requests apart (it changes the answer); the trace context of a shared call is dropped.
 */
import type { Upstream, UpstreamResponse } from '#platform/resilience/upstream.ts';

export interface SharedReads {
  get(path: string, ifNoneMatch?: string): Promise<UpstreamResponse>;
}

export function createSharedReads(upstream: Upstream): SharedReads {
  const gathering = new Map<string, Promise<UpstreamResponse>>();
  return {
    get(path, ifNoneMatch) {
      const key = ifNoneMatch === undefined ? path : `${path}\n${ifNoneMatch}`;
      let answer = gathering.get(key);
      if (answer === undefined) {
        // setImmediate runs after the I/O phase: every request parsed in this turn joined.
        answer = new Promise<void>((resolve) => setImmediate(resolve)).then(() => {
          gathering.delete(key);
          return upstream.request({ method: 'GET', path, headers: ifNoneMatch === undefined ? undefined : { 'if-none-match': ifNoneMatch } });
        });
        gathering.set(key, answer);
      }
      return answer;
    },
  };
}

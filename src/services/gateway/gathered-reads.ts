/**
 * Reads by id, gathered: the reads of one service that arrive in one turn of the event loop
 * go to it as one call (GET /order-views?ids=a,b,c, see #platform/http/json-lines.ts), and
 * each gets its own answer back. GET /api/orders/:id and the three reads of
 * /api/orders/:id/details go this way. Profiled on the
 * read path, the gateway spent most of its CPU on the socket work of the hop to orders
 * (a write and a read per call) and orders most of its on answering calls; one call per
 * turn instead of one per read shares that cost among the reads. Under light load a turn
 * holds one read, and nothing waits: the call goes out once the turn's requests are parsed.
 *
 * A read is never older than its request: the call leaves after the request arrived. An
 * unknown id (an empty line), and a service that does not know the many-ids route (404),
 * fall back to the one-id route (GET /orders/:id), whose answer the client then gets
 * exactly as before.
 */
import { DependencyUnavailable } from '#platform/errors.ts';
import { maxIdsPerCall } from '#platform/http/json-lines.ts';
import type { Upstream, UpstreamResponse } from '#platform/resilience/upstream.ts';

export interface GatheredReads {
  /**
   * The answer of the one-id route (id already checked to be a UUID). `headers` (trace
   * context) go with a call made for this read alone; a gathered call carries none.
   */
  get(id: string, headers?: Record<string, string>): Promise<UpstreamResponse>;
}

interface Waiting {
  id: string;
  headers?: Record<string, string>;
  resolve(res: UpstreamResponse): void;
  reject(err: unknown): void;
}

const jsonHeaders = Object.freeze({ 'content-type': 'application/json; charset=utf-8' });

export interface GatheredRoutes {
  /** The one-id route, e.g. (id) => `/orders/${id}`. */
  one(id: string): string;
  /** The many-ids route without its query, e.g. '/order-views'. */
  many: string;
}

export function createGatheredReads(upstream: Upstream, routes: GatheredRoutes, maxPerCall = maxIdsPerCall): GatheredReads {
  let waiting: Waiting[] = [];
  let scheduled = false;

  const single = (w: Waiting) => upstream.request({ method: 'GET', path: routes.one(w.id), headers: w.headers });

  function flush(): void {
    scheduled = false;
    const all = waiting;
    waiting = [];
    for (let i = 0; i < all.length; i += maxPerCall) void call(all.slice(i, i + maxPerCall));
  }

  async function call(batch: Waiting[]): Promise<void> {
    if (batch.length === 1) {
      const [w] = batch;
      return single(w).then(w.resolve, w.reject);
    }
    let res: UpstreamResponse;
    try {
      res = await upstream.request({ method: 'GET', path: `${routes.many}?ids=${batch.map((w) => w.id).join(',')}` });
    } catch (err) {
      for (const w of batch) w.reject(err);
      return;
    }
    // A service without the route (a rolling upgrade): one by one.
    if (res.statusCode === 404) {
      for (const w of batch) single(w).then(w.resolve, w.reject);
      return;
    }
    // Any other refusal (a coded 503 from an overloaded service) is every read's answer:
    // asking again one by one would multiply the load on a service that is struggling.
    if (res.statusCode !== 200) {
      for (const w of batch) w.resolve(res);
      return;
    }
    const body = res.body;
    let start = 0;
    for (let i = 0; i < batch.length; i++) {
      const w = batch[i];
      const end = body.indexOf(10, start);
      if (end < 0) {
        for (const rest of batch.slice(i)) rest.reject(DependencyUnavailable(`${upstream.name} answered ${i} lines for ${batch.length} ids`));
        return;
      }
      if (end === start) single(w).then(w.resolve, w.reject);
      else w.resolve({ statusCode: 200, headers: jsonHeaders, body: body.subarray(start, end) });
      start = end + 1;
    }
  }

  return {
    get(id, headers) {
      return new Promise<UpstreamResponse>((resolve, reject) => {
        waiting.push({ id, headers, resolve, reject });
        if (!scheduled) {
          scheduled = true;
          // setImmediate runs after the I/O phase: every request parsed in this turn is in.
          setImmediate(flush);
        }
      });
    },
  };
}

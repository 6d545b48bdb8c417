/**
 * Passing a service's server-sent events stream through to a client. The upstream client
 * (platform/resilience/upstream.ts) reads a whole body before answering, under a timeout:
 * right for every other route, never done for a stream. So a stream has its own undici
 * agent, without a body timeout (the service's heartbeats keep the line alive), and its body
 * is piped as it comes. Before the service answers 200, nothing is sent: an error answer, or
 * no instance reachable, becomes the usual envelope.
 *
 * An open stream holds one socket to the client and one to the service; the client's close
 * closes the service's, and closing the gateway ends every stream (clients reconnect with
 * Last-Event-ID).
 */
import { pipeline } from 'node:stream/promises';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Agent, request, type Dispatcher } from 'undici';
import { DependencyUnavailable } from '#platform/errors.ts';
import type { Upstream } from '#platform/resilience/upstream.ts';
import { passBack } from './answers.ts';

export interface StreamProxy {
  /** Opens `path` on one of the service's instances and streams it to the client. */
  pipe(req: FastifyRequest, reply: FastifyReply, path: string, headers: Record<string, string>): Promise<void>;
}

// The headers of the answer that matter to a stream; the edge's own (helmet's, CORS) are
// taken from the reply, since a hijacked reply sends only what is written here.
const streamHeaders = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache, no-transform', 'x-accel-buffering': 'no', connection: 'close' };

export function createStreamProxy(app: FastifyInstance, upstream: Upstream, service: string, opts: { connectTimeoutMs?: number } = {}): StreamProxy {
  // The service's instances (a balanced upstream's url lists them all), tried in turn.
  const urls = upstream.url.split(',');
  let next = 0;
  const agent = new Agent({ bodyTimeout: 0, headersTimeout: opts.connectTimeoutMs ?? 5_000, connectTimeout: opts.connectTimeoutMs ?? 5_000 });
  const open = new Set<() => void>();
  app.addHook('preClose', async () => {
    for (const end of [...open]) end();
  });
  app.addHook('onClose', async () => {
    await agent.close();
  });

  async function connect(path: string, headers: Record<string, string>, signal: AbortSignal): Promise<Dispatcher.ResponseData> {
    let last: unknown;
    for (let i = 0; i < urls.length; i++) {
      const url = urls[next++ % urls.length];
      try {
        return await request(`${url}${path}`, { dispatcher: agent, headers: { accept: 'text/event-stream', ...headers }, signal });
      } catch (err) {
        last = err;
        if (signal.aborted) break;
      }
    }
    throw DependencyUnavailable(`${service} is unavailable; retry later`, { cause: last });
  }

  return {
    async pipe(req, reply, path, headers) {
      const abort = new AbortController();
      const res = await connect(path, headers, abort.signal);
      if (res.statusCode !== 200) {
        const body = Buffer.from(await res.body.arrayBuffer());
        passBack(req, reply, { statusCode: res.statusCode, headers: res.headers, body }, service);
        return;
      }
      const end = () => {
        open.delete(end);
        abort.abort();
        res.body.destroy();
        // A clean end (the socket closes after it: connection: close), so a client sees the
        // stream over, not broken, and reconnects.
        if (!reply.raw.writableEnded) reply.raw.end();
      };
      open.add(end);
      reply.raw.on('close', end);
      reply.hijack();
      const own = Object.fromEntries(Object.entries(reply.getHeaders()).filter(([, v]) => v !== undefined)) as Record<string, string>;
      reply.raw.writeHead(200, { ...own, ...streamHeaders });
      reply.raw.flushHeaders();
      try {
        await pipeline(res.body, reply.raw);
      } catch {
        // The client or the service went away: either way the stream is over.
      } finally {
        end();
      }
    },
  };
}

/**
 * A client of a server-sent events stream (fetch, read as it comes), for the tests of the
 * notification streams: the events in order, with a wait for the next ones.
 */
import type { TestContext } from 'node:test';
import { Agent, fetch } from 'undici';

export interface SseEvent {
  id?: string;
  event?: string;
  data: string;
}

export interface SseStream {
  status: number;
  headers: { get(name: string): string | null };
  /** Every event so far, in order. */
  events: SseEvent[];
  /** Comment lines so far (heartbeats), without the leading colon. */
  comments: string[];
  /** Resolves once `count` events arrived in all; throws after `timeoutMs`. */
  waitFor(count: number, timeoutMs?: number): Promise<SseEvent[]>;
  close(): void;
}

export async function openSse(t: TestContext, url: string, headers: Record<string, string> = {}): Promise<SseStream> {
  const abort = new AbortController();
  // A client of its own, destroyed with the stream: a shared one may keep a spare socket
  // open (never used, so never idle), which would hold the server's close until it times out.
  const client = new Agent();
  const res = await fetch(url, { dispatcher: client, headers: { accept: 'text/event-stream', ...headers }, signal: abort.signal });
  const events: SseEvent[] = [];
  const comments: string[] = [];
  const waiters = new Set<() => void>();
  let ended = false;
  const stream: SseStream = {
    status: res.status,
    headers: res.headers,
    events,
    comments,
    async waitFor(count, timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (events.length < count) {
        if (ended) throw new Error(`the stream ended after ${events.length} event(s), not ${count}`);
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`${events.length} event(s) on the stream, not ${count}, after ${timeoutMs} ms`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
      }
      return events.slice(0, count);
    },
    close: () => {
      abort.abort();
      void client.destroy().catch(() => undefined);
    },
  };
  t.after(() => stream.close());
  if (res.status !== 200 || !res.body) return stream;
  void (async () => {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) {
        buffered += decoder.decode(chunk, { stream: true });
        for (let i = buffered.indexOf('\n\n'); i >= 0; i = buffered.indexOf('\n\n')) {
          const block = buffered.slice(0, i);
          buffered = buffered.slice(i + 2);
          const event: SseEvent = { data: '' };
          let isEvent = false;
          for (const line of block.split('\n')) {
            if (line.startsWith(':')) comments.push(line.slice(1).trim());
            else if (line.startsWith('id: ')) (event.id = line.slice(4), isEvent = true);
            else if (line.startsWith('event: ')) (event.event = line.slice(7), isEvent = true);
            else if (line.startsWith('data: ')) (event.data += line.slice(6), isEvent = true);
          }
          if (isEvent) events.push(event);
        }
        for (const w of waiters) w();
        waiters.clear();
      }
    } catch {
      // aborted by close(), or the server went away
    } finally {
      ended = true;
      for (const w of waiters) w();
      waiters.clear();
    }
  })();
  return stream;
}

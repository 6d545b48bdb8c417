/**
 * A server-sent events stream read with fetch() and eventsource-parser, not EventSource: a
 * browser's EventSource cannot send the Authorization header the API's streams need. As
 * EventSource does, it reconnects after a drop (after the server's `retry:` or 2 s), sending
 * the last event id it saw as Last-Event-ID so the server resumes where it stopped. An answer
 * that retrying cannot mend (401, 403, 404, 400) ends it, with the API's error.
 */
import { createParser, type EventSourceMessage } from 'eventsource-parser';
import { ApiError, errorOf } from './api-error.ts';

export type StreamState = 'connecting' | 'open' | 'retrying' | 'failed' | 'closed';

export interface StreamOptions {
  url: string;
  /** Called at every (re)connection: the access token may have been refreshed meanwhile. */
  headers: () => Promise<Record<string, string>>;
  onEvent: (event: EventSourceMessage) => void;
  onState?: (state: StreamState, error?: ApiError) => void;
  /** Where to resume from at the first connection. */
  lastEventId?: string;
  /** Before a retry after this refusal; true to retry (e.g. a 401 mended by a token refresh). */
  onRefused?: (error: ApiError) => Promise<boolean>;
}

export interface Stream {
  close(): void;
}

const FINAL = new Set([400, 401, 403, 404, 405]);

export function openStream(opts: StreamOptions): Stream {
  const abort = new AbortController();
  let lastEventId = opts.lastEventId;
  let retryMs = 2_000;
  const state = (s: StreamState, err?: ApiError) => {
    if (!abort.signal.aborted || s === 'closed') opts.onState?.(s, err);
  };
  const parser = createParser({
    onEvent: (event) => {
      if (event.id !== undefined) lastEventId = event.id;
      opts.onEvent(event);
    },
    onRetry: (ms) => {
      retryMs = ms;
    },
  });
  const wait = (ms: number) => new Promise<void>((resolve) => {
    const timer = setTimeout(resolve, ms);
    abort.signal.addEventListener('abort', () => {
      clearTimeout(timer);
      resolve();
    }, { once: true });
  });

  const run = async () => {
    let attempt = 0;
    while (!abort.signal.aborted) {
      state(attempt === 0 ? 'connecting' : 'retrying');
      attempt++;
      try {
        const headers: Record<string, string> = { accept: 'text/event-stream', ...(await opts.headers()) };
        if (lastEventId !== undefined) headers['last-event-id'] = lastEventId;
        const res = await fetch(opts.url, { headers, signal: abort.signal, cache: 'no-store' });
        if (!res.ok) {
          const err = await errorOf(res);
          if (FINAL.has(res.status) && !(await opts.onRefused?.(err))) {
            state('failed', err);
            return;
          }
        } else if (res.body) {
          state('open');
          attempt = 1;
          parser.reset();
          const reader = res.body.pipeThrough(new TextDecoderStream()).getReader();
          for (;;) {
            const { done, value } = await reader.read();
            if (done) break;
            parser.feed(value);
          }
        }
      } catch {
        // Closed by us (the loop ends), or the connection dropped: retried below, as EventSource does.
      }
      if (!abort.signal.aborted) await wait(retryMs);
    }
    state('closed');
  };
  void run();
  return {
    close: () => {
      abort.abort();
    },
  };
}

/**
 * The console's stream reader (src/console/sse.ts) against a real server-sent events server
 * on port 0: it resumes a dropped stream with Last-Event-ID, as EventSource would, and stops
 * at an answer that retrying cannot mend, with the API's error.
 */
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { test, type TestContext } from 'node:test';
import { openStream, type StreamState } from '../../src/console/sse.ts';
import type { ApiError } from '../../src/console/api-error.ts';

async function serve(t: TestContext, handle: (req: IncomingMessage, res: ServerResponse, n: number) => void): Promise<{ url: string; requests: IncomingMessage[] }> {
  const requests: IncomingMessage[] = [];
  const server = createServer((req, res) => {
    requests.push(req);
    handle(req, res, requests.length);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  t.after(() => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  });
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/stream`, requests };
}

const sse = (res: ServerResponse) => res.writeHead(200, { 'content-type': 'text/event-stream' });

test('a dropped stream is resumed after the server\'s retry, from the last event id it saw', async (t) => {
  const { url, requests } = await serve(t, (_req, res, n) => {
    sse(res);
    if (n === 1) {
      res.write('retry: 20\n\nid: 7\nevent: notification\ndata: {"n":1}\n\n: a heartbeat\n\n');
      res.end();
    } else {
      res.write('id: 8\nevent: notification\ndata: {"n":2}\n\n');
    }
  });
  const events: Array<{ id?: string; event?: string; data: string }> = [];
  const states: StreamState[] = [];
  let done!: () => void;
  const second = new Promise<void>((resolve) => (done = resolve));
  const stream = openStream({
    url,
    headers: async () => ({ authorization: 'Bearer t' }),
    lastEventId: '5',
    onEvent: (e) => {
      events.push({ id: e.id, event: e.event, data: e.data });
      if (events.length === 2) done();
    },
    onState: (s) => states.push(s),
  });
  t.after(() => stream.close());
  await second;
  assert.deepEqual(events, [{ id: '7', event: 'notification', data: '{"n":1}' }, { id: '8', event: 'notification', data: '{"n":2}' }]);
  assert.deepEqual(requests.map((r) => [r.headers['last-event-id'], r.headers.authorization, r.headers.accept]), [['5', 'Bearer t', 'text/event-stream'], ['7', 'Bearer t', 'text/event-stream']]);
  assert.deepEqual(states, ['connecting', 'open', 'retrying', 'open']);
});

test('a refusal retrying cannot mend ends the stream with the API\'s error; a 401 mended (a token renewed) is retried', async (t) => {
  const { url, requests } = await serve(t, (req, res) => {
    if (req.headers.authorization !== 'Bearer good') {
      res.writeHead(req.headers.authorization === 'Bearer stale' ? 401 : 404, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ error: { code: req.headers.authorization === 'Bearer stale' ? 'GW_ERR_UNAUTHENTICATED' : 'PLT_ERR_ROUTE_NOT_FOUND', message: 'no' } }));
    }
    sse(res);
    res.write('id: 1\ndata: hello\n\n');
  });

  const failed = await new Promise<ApiError | undefined>((resolve) => {
    const stream = openStream({ url, headers: async () => ({ authorization: 'Bearer other' }), onEvent: () => undefined, onState: (s, err) => s === 'failed' && resolve(err) });
    t.after(() => stream.close());
  });
  assert.deepEqual([failed?.status, failed?.code], [404, 'PLT_ERR_ROUTE_NOT_FOUND']);
  assert.equal(requests.length, 1);

  let token = 'stale';
  const refusals: number[] = [];
  const data = await new Promise<string>((resolve) => {
    const stream = openStream({
      url,
      headers: async () => ({ authorization: `Bearer ${token}` }),
      onEvent: (e) => resolve(e.data),
      onRefused: async (err) => {
        refusals.push(err.status);
        token = 'good';
        return err.status === 401;
      },
    });
    t.after(() => stream.close());
  });
  assert.equal(data, 'hello');
  assert.deepEqual(refusals, [401]);
});

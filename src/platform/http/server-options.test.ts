import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { test, type TestContext } from 'node:test';
import { loadHttpTimeouts } from '../config.ts';
import { silentLogger } from '../log.ts';
import { buildHttpApp } from './app.ts';

const timeouts = loadHttpTimeouts({
  ORDERFLOW_HTTP_HEADERS_TIMEOUT_MS: '300',
  ORDERFLOW_HTTP_REQUEST_TIMEOUT_MS: '600',
  ORDERFLOW_HTTP_IDLE_TIMEOUT_MS: '2000',
  ORDERFLOW_HTTP_KEEP_ALIVE_TIMEOUT_MS: '400',
});

async function serve(t: TestContext): Promise<number> {
  const app = buildHttpApp({ name: 'slow-clients', log: silentLogger, timeouts });
  app.post('/echo', async (req) => req.body);
  await app.listen({ port: 0, host: '127.0.0.1' });
  t.after(() => app.close());
  return (app.server.address() as { port: number }).port;
}

/** Writes `data` on a raw socket and resolves, once the server closes it, with what it answered and when. */
function rawExchange(port: number, data: string, waitMs = 5_000): Promise<{ text: string; ms: number }> {
  return new Promise((resolve, reject) => {
    const start = performance.now();
    const socket = connect(port, '127.0.0.1', () => socket.write(data));
    let text = '';
    const give = setTimeout(() => {
      socket.destroy();
      reject(new Error(`the server kept the socket open for ${waitMs} ms; it answered ${JSON.stringify(text)}`));
    }, waitMs);
    socket.setEncoding('utf8');
    socket.on('data', (chunk) => (text += chunk));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(give);
      resolve({ text, ms: performance.now() - start });
    });
  });
}

function parse(text: string): { status: number; body: unknown } {
  const [head, body] = text.split('\r\n\r\n');
  return { status: Number(head.split(' ')[1]), body: JSON.parse(body) };
}

test('a request whose body never finishes gets a 408 envelope and its socket closed within the request timeout', async (t) => {
  const port = await serve(t);
  const { text, ms } = await rawExchange(port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 100\r\n\r\n{"a":');
  const answer = parse(text);
  assert.equal(answer.status, 408, text);
  assert.deepEqual(answer.body, { error: { code: 'PLT_ERR_REQUEST_TIMEOUT', message: 'the request did not arrive in time' } });
  assert.match(text, /content-type: application\/json/i);
  assert.ok(ms >= 550 && ms < 2_000, `closed after ${ms} ms; the request timeout is 600 ms`);
});

test('a client that never finishes its headers is answered 408 within the headers timeout', async (t) => {
  const port = await serve(t);
  const { text, ms } = await rawExchange(port, 'GET /health/live HTTP/1.1\r\nHost: x\r\n');
  assert.equal(parse(text).status, 408, text);
  assert.ok(ms >= 250 && ms < 1_500, `closed after ${ms} ms; the headers timeout is 300 ms`);
});

test('a request that arrives in time is served, and its idle keep-alive socket closed after the keep-alive timeout', async (t) => {
  const port = await serve(t);
  const { text, ms } = await rawExchange(port, 'POST /echo HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 7\r\n\r\n{"a":1}');
  assert.match(text, /^HTTP\/1.1 200 /);
  assert.ok(text.endsWith('{"a":1}'), text);
  // Node 24 adds keepAliveTimeoutBuffer (1 s) to the keep-alive timeout before it closes.
  assert.ok(ms >= 350 && ms < 2_500, `the idle socket closed after ${ms} ms; the keep-alive timeout is 400 ms`);
});

test('a request that is not HTTP gets a 400 envelope', async (t) => {
  const port = await serve(t);
  const answer = parse((await rawExchange(port, 'HELLO\r\n\r\n')).text);
  assert.equal(answer.status, 400);
  assert.deepEqual(answer.body, { error: { code: 'PLT_ERR_MALFORMED_REQUEST', message: 'the request is not valid HTTP' } });
});

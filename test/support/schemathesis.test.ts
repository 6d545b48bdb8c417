import { describe, test, type TestContext } from 'node:test';
import assert from 'node:assert/strict';
import swagger from '@fastify/swagger';
import { buildHttpApp, type HttpApp } from '#platform/http/app.ts';
import { silentLogger } from '#platform/log.ts';
import { schemathesisSkip } from '#test/infra.ts';
import { formatFailures, parseJunit, runSchemathesis, schemathesisArgs, type FuzzFailure } from './schemathesis.ts';

const TOKEN = 'let-me-in';

const ErrorBody = {
  type: 'object',
  required: ['error'],
  properties: { error: { type: 'object', required: ['code', 'message'], properties: { code: { type: 'string' }, message: { type: 'string' } } } },
} as const;

const Note = {
  type: 'object',
  required: ['id', 'title', 'stars'],
  properties: { id: { type: 'string', format: 'uuid' }, title: { type: 'string' }, stars: { type: 'integer' } },
} as const;

/**
 * An app as the services build theirs (the platform's factory: coded errors, the JSON body
 * parser), documented by @fastify/swagger at /docs/openapi.json with a bearer token, as the
 * gateway's is; `routes` adds what the test fuzzes.
 */
async function serve(t: TestContext, routes: (app: HttpApp) => void): Promise<{ schemaUrl: string; baseUrl: string }> {
  const app = buildHttpApp({ name: 'fuzzed', log: silentLogger });
  t.after(() => app.close());
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: { title: 'fuzzed', version: '1' },
      components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
      security: [{ bearer: [] }],
    },
  });
  app.get('/docs/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  routes(app);
  await app.listen({ port: 0, host: '127.0.0.1' });
  const { port } = app.server.address() as { port: number };
  return { schemaUrl: `http://127.0.0.1:${port}/docs/openapi.json`, baseUrl: `http://127.0.0.1:${port}` };
}

/** A route with two bugs: a 500 for a negative number, and an id answered as a number where the document says string. */
function faultyRoutes(app: HttpApp): void {
  app.post('/square', {
    schema: {
      body: { type: 'object', required: ['n'], additionalProperties: false, properties: { n: { type: 'integer' } } },
      response: { 200: { type: 'object', required: ['square'], properties: { square: { type: 'integer' } } }, 400: ErrorBody },
    },
  }, async (req) => {
    const { n } = req.body as { n: number };
    if (n < 0) throw new Error('negative numbers were forgotten');
    return { square: n * n };
  });
  app.get('/thing', {
    schema: { response: { 200: { type: 'object', required: ['id'], properties: { id: { type: 'string' } } } } },
  }, async (_req, reply) => {
    // Past the response serializer, which would turn 42 into "42" and hide the mismatch.
    return reply.type('application/json').serializer(JSON.stringify).send({ id: 42 });
  });
}

/** Routes whose every answer is in the document, behind a bearer token; `seen` counts the requests that carried it. */
function cleanRoutes(app: HttpApp, seen: { authorized: number }): void {
  const notes = new Map<string, object>();
  app.addHook('onRequest', async (req, reply) => {
    if (!req.url.startsWith('/docs') && req.headers.authorization !== `Bearer ${TOKEN}`) {
      return reply.code(401).send({ error: { code: 'UNAUTHORIZED', message: 'a bearer token is needed' } });
    }
    if (!req.url.startsWith('/docs')) seen.authorized++;
  });
  app.post('/notes', {
    schema: {
      body: {
        type: 'object',
        required: ['title', 'stars'],
        additionalProperties: false,
        properties: { title: { type: 'string', minLength: 1, maxLength: 40 }, stars: { type: 'integer', minimum: 0, maximum: 5 } },
      },
      response: {
        201: Note,
        400: ErrorBody,
        401: ErrorBody,
      },
    },
  }, async (req, reply) => {
    const note = { id: crypto.randomUUID(), ...(req.body as { title: string; stars: number }) };
    notes.set(note.id, note);
    return reply.code(201).send(note);
  });
  app.get('/notes/:id', {
    schema: {
      params: { type: 'object', required: ['id'], properties: { id: { type: 'string', format: 'uuid' } } },
      response: { 200: Note, 400: ErrorBody, 401: ErrorBody, 404: ErrorBody },
    },
  }, async (req, reply) => {
    const { id } = req.params as { id: string };
    return notes.get(id) ?? reply.code(404).send({ error: { code: 'NOT_FOUND', message: `no note ${id}` } });
  });
}

const found = (failures: FuzzFailure[], operation: string, check: string): FuzzFailure | undefined =>
  failures.find((f) => f.operation === operation && f.check === check);

describe('Schemathesis against a real Fastify app', { skip: schemathesisSkip() }, () => {
  test('reports a 500 and an answer outside its documented schema, each with its check and a curl that replays it', async (t) => {
    const urls = await serve(t, faultyRoutes);
    const result = await runSchemathesis({ ...urls, maxExamples: 20, seed: 1, timeoutMs: 60_000 });

    assert.deepEqual(result.operations.sort(), ['GET /thing', 'POST /square']);
    const serverError = found(result.failures, 'POST /square', 'not_a_server_error');
    assert.ok(serverError, `no server error reported for POST /square:\n${formatFailures(result.failures)}`);
    assert.equal(serverError.status, 500);
    assert.equal(serverError.code, 'ST101');
    assert.match(serverError.reproduce ?? '', /^curl -X POST .*-d '\{.*"n": -\d+.*\}' http:\/\/127\.0\.0\.1:\d+\/square$/s);
    // The 500 is not in the document either.
    assert.ok(found(result.failures, 'POST /square', 'status_code_conformance'));

    const mismatch = found(result.failures, 'GET /thing', 'response_schema_conformance');
    assert.ok(mismatch, `no schema violation reported for GET /thing:\n${formatFailures(result.failures)}`);
    assert.equal(mismatch.status, 200);
    assert.match(mismatch.message, /42 is not of type "string"/);
    assert.equal(mismatch.reproduce, `curl -X GET ${urls.baseUrl}/thing`);
    assert.match(formatFailures(result.failures), /POST \/square: not_a_server_error \(ST101 Server error\), answered 500/);
  });

  test('the same seed sends the same failing request again', async (t) => {
    const urls = await serve(t, faultyRoutes);
    const run = async () => {
      const result = await runSchemathesis({ ...urls, maxExamples: 20, seed: 7, phases: ['fuzzing'], checks: ['not_a_server_error'], timeoutMs: 60_000 });
      return found(result.failures, 'POST /square', 'not_a_server_error')?.reproduce;
    };
    const first = await run();
    assert.ok(first, 'the fuzzing phase found no server error');
    assert.equal(await run(), first);
  });

  test('an app whose answers all match its document passes with no failure nor warning, the token on every request', async (t) => {
    const seen = { authorized: 0 };
    const urls = await serve(t, (app) => cleanRoutes(app, seen));
    const result = await runSchemathesis({ ...urls, headers: { authorization: `Bearer ${TOKEN}` }, maxExamples: 20, timeoutMs: 60_000 });

    assert.deepEqual(result.failures, [], formatFailures(result.failures));
    assert.equal(result.warnings, '');
    assert.deepEqual(result.operations.sort(), ['GET /notes/{id}', 'POST /notes']);
    assert.ok(seen.authorized > 20, `only ${seen.authorized} requests carried the token`);
  });

  test('a wrong token fails no check but shows as a warning, so a caller can refuse a run that tested only its 401s', async (t) => {
    const seen = { authorized: 0 };
    const urls = await serve(t, (app) => cleanRoutes(app, seen));
    const result = await runSchemathesis({ ...urls, headers: { authorization: 'Bearer wrong' }, maxExamples: 5, phases: ['fuzzing'], timeoutMs: 60_000 });

    assert.deepEqual(result.failures, []);
    assert.equal(seen.authorized, 0);
    assert.match(result.warnings, /Authentication failed: 2 operations returned only 401\/403 responses/);
  });

  test('a run past its time limit is stopped and throws, rather than hold up CI', async (t) => {
    const urls = await serve(t, (app) => {
      app.get('/slow', { schema: { response: { 200: { type: 'object' } } } }, async () => {
        await new Promise((resolve) => setTimeout(resolve, 500));
        return {};
      });
    });
    const started = Date.now();
    // 25 examples of half a second each in two phases: well past the limit if it did not hold.
    await assert.rejects(runSchemathesis({ ...urls, maxExamples: 25, timeoutMs: 4000 }), /schemathesis ran past 4000 ms and was stopped/);
    assert.ok(Date.now() - started < 12_000, `stopped after ${Date.now() - started} ms`);
  });

  test('a document it cannot load is an error, not a pass', async () => {
    await assert.rejects(runSchemathesis({ schemaUrl: 'http://127.0.0.1:1/docs/openapi.json', baseUrl: 'http://127.0.0.1:1', timeoutMs: 30_000 }), /schemathesis exited with 2/);
  });
});

test('the arguments bound and seed the run and report in JUnit', () => {
  const args = schemathesisArgs({ schemaUrl: 'http://h/docs/openapi.json', baseUrl: 'http://h', headers: { authorization: 'Bearer t' }, maxExamples: 5, seed: 42, phases: ['coverage', 'fuzzing'] }, '/tmp/r.xml');
  const value = (flag: string) => args[args.indexOf(flag) + 1];
  assert.deepEqual(args.slice(0, 2), ['run', 'http://h/docs/openapi.json']);
  assert.equal(value('--url'), 'http://h');
  assert.equal(value('--checks'), 'not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance,response_schema_conformance');
  assert.equal(value('--max-examples'), '5');
  assert.equal(value('--seed'), '42');
  assert.equal(value('--generation-database'), 'none');
  assert.equal(value('--phases'), 'coverage,fuzzing');
  assert.equal(value('--header'), 'authorization: Bearer t');
  assert.deepEqual([value('--report'), value('--report-junit-path')], ['junit', '/tmp/r.xml']);
});

test('a JUnit report becomes one failure per check and test case, errors included, skipped operations and the stateful run not counted as operations', () => {
  const xml = `<?xml version="1.0" encoding="utf-8"?>
<testsuites errors="1" failures="1" skipped="1" tests="4" time="1.0">
  <testsuite name="schemathesis" hostname="vm" errors="1" failures="1" skipped="1" tests="4" time="1.0">
    <testcase name="GET /ok" time="0.1" />
    <testcase name="POST /a" time="0.2">
      <failure type="failure" message="ST101, ST103, ST108">1. Test Case ID: AAA111

- ST101 Server error

- ST103 Undocumented status code

    Received: 500
    Documented: 200

[500] Internal Server Error:

    \`{"error":{"code":"PLT_ERR_INTERNAL"}}\`

Reproduce with:

    curl -X POST -H 'Authorization: [Filtered]' -d '{"n": -1, "s": "&lt;&amp;&gt;"}' http://127.0.0.1:1/a

2. Test Case ID: BBB222

- ST108 Response header does not conform to the schema

    "x" is not of type "integer"

- ST108 Response violates schema (2 violations)

    1 is not of type "string"

    2 is not of type "string"

[200] OK:

    \`{}\`

Reproduce with:

    curl -X POST http://127.0.0.1:1/a</failure>
    </testcase>
    <testcase name="GET /b" time="0.0">
      <error type="error">Network Error

Connection reset</error>
    </testcase>
    <testcase name="GET /c" time="0.0">
      <skipped type="skipped">No examples</skipped>
    </testcase>
    <testcase name="Stateful tests" time="0.3" />
  </testsuite>
</testsuites>`;
  const { operations, failures } = parseJunit(xml);
  assert.deepEqual(operations, ['GET /ok', 'POST /a', 'GET /b']);
  assert.deepEqual(failures.map((f) => [f.operation, f.caseId, f.code, f.check, f.status]), [
    ['POST /a', 'AAA111', 'ST101', 'not_a_server_error', 500],
    ['POST /a', 'AAA111', 'ST103', 'status_code_conformance', 500],
    ['POST /a', 'BBB222', 'ST108', 'response_headers_conformance', 200],
    ['POST /a', 'BBB222', 'ST108', 'response_schema_conformance', 200],
    ['GET /b', undefined, 'error', 'error', undefined],
  ]);
  assert.equal(failures[0].reproduce, `curl -X POST -H 'Authorization: [Filtered]' -d '{"n": -1, "s": "<&>"}' http://127.0.0.1:1/a`);
  assert.equal(failures[1].message, 'Received: 500\nDocumented: 200');
  assert.equal(failures[3].title, 'Response violates schema');
  assert.equal(failures[3].message, '1 is not of type "string"\n\n2 is not of type "string"');
  assert.equal(failures[3].reproduce, 'curl -X POST http://127.0.0.1:1/a');
  assert.equal(failures[4].message, 'Network Error\n\nConnection reset');
});

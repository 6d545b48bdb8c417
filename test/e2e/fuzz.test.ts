/**
 * Issue 10's done-when: Schemathesis, fed the gateway's own OpenAPI document
 * (/docs/openapi.json), finds no 5xx and no answer outside the document: status, content
 * type, headers and body (test/support/schemathesis.ts). As a customer on every operation but
 * the admin's, and as an admin on those: a run whose every answer was a 401 or 403 would have
 * tested only the door, so Schemathesis's warning that it saw nothing else fails the test too.
 * Bounded (examples per operation, a time limit per run) and seeded: a failure's curl replays it.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { schemathesisSkip } from '../infra.ts';
import { formatFailures, runSchemathesis, type SchemathesisOptions } from '../support/schemathesis.ts';
import { deployments, startDeployment } from './deployments.ts';

/** What only an admin may call; a new admin route belongs here, or the customer's run fails on its 403s. */
const ADMIN_ONLY = ['POST /api/products', 'PATCH /api/products/{id}', 'GET /api/admin/dead-letters', 'POST /api/admin/dead-letters/replay', 'POST /api/admin/dead-letters/discard', 'GET /api/admin/orders', 'GET /api/admin/overview', 'GET /api/admin/lab/runs', 'POST /api/admin/lab/runs', 'GET /api/admin/lab/runs/{id}', 'GET /api/admin/lab/runs/{id}/reports/{name}', 'GET /api/analytics/sales', 'GET /api/analytics/products/top', 'GET /api/analytics/conversion'];

// A live stream answers 200 and never ends: a fuzzer would wait out its timeout on every
// case. Its refusals are tested at the gateway (gateway.test.ts, event-tail.test.ts), its stream end to end
// (notifications.test.ts, events-stream.test.ts).
const STREAMS = ['GET /api/me/notifications/stream', 'GET /api/admin/events/stream'];
const runs: Array<{ as: 'customer' | 'admin'; scope: Pick<SchemathesisOptions, 'include' | 'exclude'> }> = [
  { as: 'customer', scope: { exclude: [...ADMIN_ONLY, ...STREAMS] } },
  { as: 'admin', scope: { include: ADMIN_ONLY } },
];

for (const deployment of deployments) {
  describe(`the public API under Schemathesis, on the ${deployment.name} deployment`, { skip: schemathesisSkip() ?? deployment.skip() }, () => {
    test('no request gets a 5xx or an answer outside the OpenAPI document, as a customer or as an admin', async (t) => {
      // The public API is the same in every architecture; events is the default.
      const { system, client } = await startDeployment(t, deployment);
      const base = system.gatewayUrl;
      for (const { as, scope } of runs) {
        const token = await client.token(as);
        assert.ok(token, `no ${as} token: the system's demo accounts are missing`);
        // About 20 s a run here: the coverage phase's boundary cases, 15 random ones per operation, the stateful phase.
        const result = await runSchemathesis({
          schemaUrl: `${base}/docs/openapi.json`,
          baseUrl: base,
          headers: { authorization: `Bearer ${token}` },
          ...scope,
          maxExamples: 15,
          seed: 1,
          timeoutMs: 60_000,
        });
        assert.deepEqual(result.failures, [], `as ${as}:\n${formatFailures(result.failures)}`);
        assert.doesNotMatch(result.warnings, /Authentication failed/, `as ${as}, some operations answered only 401 or 403:\n${result.warnings}`);
        assert.ok(result.operations.length >= (as === 'admin' ? ADMIN_ONLY.length : 10), `as ${as}, only ${result.operations.join(', ')} tested`);
      }
    });
  });
}

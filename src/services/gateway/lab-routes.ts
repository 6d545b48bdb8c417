/**
 * The lab, for an admin: quick lab runs started, followed and read from the console. The runs
 * are the `orderflow up` process's (runtime/lab-server.ts), which the gateway reaches at
 * GATEWAY_LAB_URL; a gateway without one (compose, Kubernetes: no `up`) lists no runs and
 * says the lab is not part of its deployment.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import { Type, type TSchema } from '@sinclair/typebox';
import { DependencyUnavailable, defineError } from '#platform/errors.ts';
import type { Upstream } from '#platform/resilience/upstream.ts';
import * as api from './api.ts';
import { json, passBack } from './answers.ts';
import type { RouteKit } from './http.ts';

export const LabUnavailable = defineError('PLT_ERR_LAB_UNAVAILABLE', 404);

export function registerLabRoutes(app: FastifyInstance, lab: Upstream | undefined, kit: RouteKit): void {
  const { only, schema, errors, headersOf } = kit;
  const away = () => LabUnavailable('this deployment runs no lab: lab runs start where `orderflow up` runs (or run `orderflow lab --quick` yourself)');
  const call = async (req: FastifyRequest, reply: FastifyReply, method: 'GET' | 'POST', path: string) => {
    if (!lab) throw away();
    const body = method === 'POST' ? JSON.stringify(req.body ?? {}) : undefined;
    return passBack(req, reply, await lab.request({ method, path, headers: headersOf(req, body !== undefined), body }), 'lab');
  };
  const params = (req: FastifyRequest) => req.params as { id: string; name?: string };

  app.get('/api/admin/lab/runs', { ...only('admin'), schema: schema('lab', 'Quick lab runs, newest first, and whether this deployment runs any', { response: { 200: api.LabRuns } }, { auth: true }) }, async (req) => {
    if (!lab) return { available: false, runs: [] };
    const res = await lab.request({ method: 'GET', path: '/lab/runs', headers: headersOf(req) });
    if (res.statusCode !== 200) throw DependencyUnavailable(`the lab answered ${res.statusCode}`);
    return { available: true, runs: json<{ runs: unknown[] }>(res, 'lab').runs };
  });
  app.post('/api/admin/lab/runs', { ...only('admin'), schema: schema('lab', 'Start a quick lab run (one at a time)', { body: api.LabRunBody, response: { 202: api.LabRun, ...errors(404, 409) } }, { auth: true }) },
    (req, reply) => call(req, reply, 'POST', '/lab/runs'));
  app.get('/api/admin/lab/runs/:id', { ...only('admin'), schema: schema('lab', 'A lab run, with its progress', { params: api.LabRunParams, response: { 200: api.LabRun, ...errors(404) } }, { auth: true }) },
    (req, reply) => call(req, reply, 'GET', `/lab/runs/${params(req).id}`));
  app.get('/api/admin/lab/runs/:id/reports/:name', {
    ...only('admin'),
    schema: schema('lab', 'A report the run wrote: summary.md, report.html or report.json', {
      params: api.LabReportParams,
      response: { 200: { description: 'The report, as the lab wrote it.', content: { 'text/markdown': { schema: Type.String() }, 'text/html': { schema: Type.String() }, 'application/json': { schema: Type.Object({}, { additionalProperties: true }) } } } as unknown as TSchema, ...errors(404) },
    }, { auth: true }),
  }, (req, reply) => call(req, reply, 'GET', `/lab/runs/${params(req).id}/reports/${params(req).name}`));
}

/**
 * The lab runs of a running `orderflow up` (lab/lab-runs.ts), served on an internal port for
 * the gateway's /api/admin/lab routes, which the console's Lab page uses. The `up` process
 * owns it because it owns processes: on Kubernetes or compose there is no `up`, no lab
 * server, and the gateway says the lab is not part of that deployment.
 *
 *   GET  /lab/runs                      {"runs": [run...]} newest first
 *   POST /lab/runs   {"arch","faults"}  202 run; 409 while another runs
 *   GET  /lab/runs/:id                  run, with its progress lines
 *   GET  /lab/runs/:id/reports/:name    summary.md, report.html or report.json
 */
import { readFileSync } from 'node:fs';
import { Type, type Static } from '@sinclair/typebox';
import { architectures } from '#platform/config.ts';
import { buildHttpApp, type HttpApp } from '#platform/http/app.ts';
import type { Logger } from '#platform/log.ts';
import { createLabRuns, labReportNames, type LabRuns } from '#lab/lab-runs.ts';

export const LabRunBody = Type.Object({
  arch: Type.Optional(Type.Union(architectures.map((a) => Type.Literal(a)), { description: 'The architecture to measure (events by default).' })),
  faults: Type.Optional(Type.Boolean({ description: 'Also run the fault scenarios (kill -9 and added latency on payments); off by default: a quick run takes about 20 s without, a minute with.' })),
}, { additionalProperties: false });

export const LabRunIdParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }) });
export const LabReportParams = Type.Object({ id: Type.String({ pattern: '^[0-9a-f-]{36}$' }), name: Type.Union(labReportNames.map((n) => Type.Literal(n))) });

const contentTypes: Record<string, string> = { 'summary.md': 'text/markdown; charset=utf-8', 'report.html': 'text/html; charset=utf-8', 'report.json': 'application/json; charset=utf-8' };

export interface LabServer {
  url: string;
  runs: LabRuns;
  close(): Promise<void>;
}

export async function startLabServer(opts: { dir: string; log: Logger; port?: number; runs?: LabRuns }): Promise<LabServer> {
  const runs = opts.runs ?? createLabRuns({ dir: opts.dir });
  const app: HttpApp = buildHttpApp({ name: 'lab', log: opts.log });
  app.get('/lab/runs', async () => ({ runs: runs.list() }));
  app.post('/lab/runs', { schema: { body: LabRunBody } }, async (req, reply) => {
    const body = req.body as Static<typeof LabRunBody>;
    return reply.code(202).send(runs.start({ arch: body.arch ?? 'events', faults: body.faults ?? false }));
  });
  app.get('/lab/runs/:id', { schema: { params: LabRunIdParams } }, async (req) => runs.get((req.params as { id: string }).id));
  app.get('/lab/runs/:id/reports/:name', { schema: { params: LabReportParams } }, async (req, reply) => {
    const { id, name } = req.params as Static<typeof LabReportParams>;
    return reply.type(contentTypes[name]).send(readFileSync(runs.reportPath(id, name)));
  });
  const url = await app.listen({ port: opts.port ?? 0, host: '127.0.0.1' });
  return {
    url,
    runs,
    async close() {
      await runs.close();
      await app.close();
    },
  };
}

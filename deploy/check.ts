/**
 * `npm run deploy:check`: every check of the deployment that needs no cluster, one after the
 * other, each reported with its time; exit 1 when any failed (the others still run, so one
 * run shows every problem):
 *   1. the tools, pinned, installed once into the infra dir (runtime/infra/deploy-tools.ts);
 *   2. the image, built with podman on the local base (deploy/image): its ref is printed as
 *      ORDERFLOW_IMAGE=<ref> on stdout, for the container tests (test/e2e/container.test.ts);
 *   3. deploy/compose.yaml against the compose-spec schema and our rules (deploy/compose/check.ts);
 *   4. the Helm chart: helm lint, helm template through kubeconform -strict, our rules
 *      (deploy/helm/check.ts).
 * Options: --only image,compose,chart (those steps; the tools are installed for the last two),
 * --no-image (no podman here: the files only), --tag <tag> (localhost/orderflow:<tag>, default dev).
 */
import { parseArgs } from 'node:util';
import { isOrderflowError } from '#platform/errors.ts';
import { installDeployTools, type DeployTools } from '#runtime/infra/deploy-tools.ts';
import { loadInfraConfig } from '#runtime/infra/config.ts';
import { checkCompose } from './compose/check.ts';
import { checkChart } from './helm/check.ts';
import { buildOnLocalBase } from './image/build.ts';
import { loadImageConfig } from './image/config.ts';

const say = (line: string) => void process.stderr.write(`${line}\n`);
const STEPS = ['image', 'compose', 'chart'] as const;
type Step = (typeof STEPS)[number];

async function main(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { only: { type: 'string' }, 'no-image': { type: 'boolean' }, tag: { type: 'string', default: 'dev' } } });
  const only = values.only?.split(',').map((s) => s.trim());
  const unknown = only?.filter((s) => !STEPS.includes(s as Step));
  if (unknown?.length) {
    say(`deploy:check: --only takes ${STEPS.join(', ')}; got ${unknown.join(', ')}`);
    return 2;
  }
  const wanted = (s: Step) => (only ? only.includes(s) : !(s === 'image' && values['no-image']));
  const infra = loadInfraConfig();
  const results: Array<{ step: string; ok: boolean; seconds: number; detail: string }> = [];
  const step = async (name: string, run: () => Promise<string>): Promise<boolean> => {
    const t0 = Date.now();
    say(`\n--- deploy:check: ${name}`);
    try {
      const detail = await run();
      results.push({ step: name, ok: true, seconds: (Date.now() - t0) / 1000, detail });
      return true;
    } catch (err) {
      const message = isOrderflowError(err) ? `${err.message} [${err.code}]${err.details ? `\n${JSON.stringify(err.details, null, 2)}` : ''}` : ((err as Error).stack ?? String(err));
      say(message);
      results.push({ step: name, ok: false, seconds: (Date.now() - t0) / 1000, detail: message.split('\n')[0] });
      return false;
    }
  };

  let tools: DeployTools | undefined;
  if (wanted('compose') || wanted('chart')) await step('tools (helm, kubeconform, check-jsonschema, schemas)', async () => {
    tools = await installDeployTools(infra.dir, infra.python, { say, emit: say });
    return `in ${infra.dir}/deploy-tools`;
  });
  if (wanted('image')) {
    await step('image (podman build on the local base)', async () => {
      const image = loadImageConfig();
      const built = await buildOnLocalBase({ infraDir: image.infraDir, tag: values.tag, extraCaCerts: image.extraCaCerts, say });
      process.stdout.write(`ORDERFLOW_IMAGE=${built.ref}\n`);
      return `${built.ref}, ${(built.sizeBytes / 1e6).toFixed(0)} MB, built in ${built.buildSeconds} s`;
    });
  }
  if (tools) {
    const t = tools;
    if (wanted('compose')) await step('compose.yaml (compose-spec schema, our rules)', async () => {
      const r = await checkCompose(t);
      return `${r.services} services valid`;
    });
    if (wanted('chart')) await step('Helm chart (lint, template, kubeconform -strict, our rules)', async () => {
      const reports = await checkChart(t, { log: say });
      return `${reports.length} value sets rendered and valid`;
    });
  }

  say('\n--- deploy:check summary');
  for (const r of results) say(`${r.ok ? 'ok  ' : 'FAIL'}  ${r.step}  (${r.seconds.toFixed(1)} s)  ${r.detail}`);
  if (!tools && (wanted('compose') || wanted('chart'))) say('compose.yaml and the Helm chart were not checked: the tools could not be installed');
  return results.every((r) => r.ok) ? 0 : 1;
}

process.exitCode = await main(process.argv.slice(2));

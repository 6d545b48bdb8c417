/**
 * The Helm chart's check, without a cluster (`npm run deploy:check` runs it): for each set of
 * values (the defaults, production, production with the gateway's canary, and production's
 * green gateway of blue-green),
 * - `helm lint --strict`;
 * - `helm template` through `kubeconform -strict -summary`, against the real schemas:
 *   kubernetes-validate's for Kubernetes' kinds, KEDA's CRDs for its kinds (schemas.ts);
 *   no kind is skipped, a kind without a schema fails;
 * - the rules a schema cannot make, on the rendered objects (rules.ts, network-rules.ts),
 *   each Deployment's env through its service's own config loader among them.
 * The defaults need one value no default may hold, the users service's signing key: each run
 * makes a fresh one, used for the render and thrown away.
 *
 *   npm run deploy:check -- --only chart   (deploy/check.ts)
 */
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseAllDocuments, stringify } from 'yaml';
import { defineError } from '#platform/errors.ts';
import type { DeployTools } from '#runtime/infra/deploy-tools.ts';
import { KUBERNETES_VERSION } from '#runtime/infra/deploy-tools.ts';
import { newSigningKeyJson } from '#services/users/keys.ts';
import { networkPolicyRules } from './network-rules.ts';
import { configRules, deploymentRules, monitoringRules, referenceRules, scalingRules, secretKeys, type ChartValues, type K8sObject } from './rules.ts';
import { writeSchemas } from './schemas.ts';

export const ChartInvalid = defineError('DEP_ERR_CHART_INVALID', 500);

export const chartDir = fileURLToPath(new URL('./orderflow', import.meta.url));
export const productionValuesFile = fileURLToPath(new URL('./values-production.yaml', import.meta.url));

/** What check.ts needs of the deploy tools. */
export type ChartTools = Pick<DeployTools, 'helm' | 'kubeconform' | 'kubernetesSchemas' | 'crds'>;

/** One way the chart is installed: a release name, values files over values.yaml, and values of its own. */
export interface ChartCase {
  name: string;
  release: string;
  valuesFiles: string[];
  values?: ChartValues;
}

export const chartCases: readonly ChartCase[] = [
  { name: 'default values', release: 'orderflow', valuesFiles: [], values: { secrets: { usersSigningKey: 'fresh' } } },
  { name: 'production values', release: 'orderflow', valuesFiles: [productionValuesFile] },
  {
    name: 'production, the gateway an Argo Rollouts canary',
    release: 'orderflow',
    valuesFiles: [productionValuesFile],
    values: { gateway: { canary: { enabled: true } } },
  },
  {
    name: 'production, the green gateway of blue-green',
    release: 'orderflow-green',
    valuesFiles: [productionValuesFile],
    values: { gatewayOnly: true, stack: 'orderflow', gateway: { track: 'green' } },
  },
];

export interface ChartReport {
  name: string;
  lint: string;
  kubeconform: string;
  /** Empty: every check held. */
  problems: string[];
}

/** Helm's merge of values: maps merge key by key, anything else (lists too) is replaced. */
export function mergeValues(base: ChartValues, over: ChartValues): ChartValues {
  if (!isMap(base) || !isMap(over)) return over === undefined ? base : over;
  const out: ChartValues = { ...base };
  for (const [k, v] of Object.entries(over)) out[k] = mergeValues(base[k], v);
  return out;
}
const isMap = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const readYaml = (file: string): ChartValues => parseAllDocuments(readFileSync(file, 'utf8'))[0]?.toJS() ?? {};

export function parseManifest(manifest: string): K8sObject[] {
  return parseAllDocuments(manifest).map((d) => d.toJS() as K8sObject).filter((d) => d && typeof d === 'object');
}

/** Every rule on one render: the problems found, none when it holds. */
export async function chartProblems(docs: K8sObject[], values: ChartValues): Promise<string[]> {
  const external: Record<string, readonly string[]> = {};
  if (values.secrets?.existingSecret) external[values.secrets.existingSecret] = secretKeys;
  if (values.kafka?.caSecret) external[values.kafka.caSecret] = ['ca.crt'];
  return [...deploymentRules(docs), ...scalingRules(docs), ...referenceRules(docs, external), ...(await configRules(docs)), ...monitoringRules(docs), ...networkPolicyRules(docs, values)];
}

type Ran = { code: number; out: string };
function exec(cmd: string, args: string[]): Promise<Ran> {
  return new Promise((resolve) => {
    execFile(cmd, args, { maxBuffer: 64 * 1024 * 1024, timeout: 120_000 }, (err, stdout, stderr) => {
      const code = err ? (typeof err.code === 'number' ? err.code : -1) : 0;
      resolve({ code, out: `${stdout}${stderr}`.trim() });
    });
  });
}

/** A case's values files for helm (its own values written to a file in `dir`) and the values they make together. */
async function caseValues(c: ChartCase, dir: string): Promise<{ files: string[]; values: ChartValues }> {
  let own = c.values;
  if (own?.secrets?.usersSigningKey === 'fresh') own = mergeValues(own, { secrets: { usersSigningKey: await newSigningKeyJson() } });
  const files = [...c.valuesFiles];
  if (own) {
    const file = join(dir, `${c.release}-${files.length}-values.yaml`);
    writeFileSync(file, stringify(own), { mode: 0o600 });
    files.push(file);
  }
  const values = files.reduce((acc, f) => mergeValues(acc, readYaml(f)), readYaml(join(chartDir, 'values.yaml')));
  return { files, values };
}

/** `helm template` of a case: the manifest, its objects and the values they came from. */
export async function renderChart(tools: ChartTools, c: ChartCase, dir: string): Promise<{ manifest: string; docs: K8sObject[]; values: ChartValues; files: string[] }> {
  const { files, values } = await caseValues(c, dir);
  const ran = await exec(tools.helm, ['template', c.release, chartDir, '--kube-version', KUBERNETES_VERSION, ...files.flatMap((f) => ['-f', f])]);
  if (ran.code !== 0) throw ChartInvalid(`helm template (${c.name}) failed: ${ran.out}`);
  return { manifest: ran.out, docs: parseManifest(ran.out), values, files };
}

/** kubeconform -strict of a manifest against the schemas of its kinds, written into `dir`. */
export async function kubeconform(tools: ChartTools, manifest: string, dir: string): Promise<Ran> {
  const kinds = parseManifest(manifest).map((d) => ({ apiVersion: d.apiVersion, kind: d.kind }));
  const location = writeSchemas(join(dir, 'schemas'), kinds, tools);
  const file = join(dir, 'manifest.yaml');
  writeFileSync(file, manifest);
  return exec(tools.kubeconform, ['-strict', '-summary', '-schema-location', location, file]);
}

/** Lints, renders and checks every case; resolves to their reports, or throws DEP_ERR_CHART_INVALID naming every problem (details: the reports). */
export async function checkChart(tools: ChartTools, opts: { cases?: readonly ChartCase[]; log?: (line: string) => void } = {}): Promise<ChartReport[]> {
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-chart-'));
  try {
    const reports: ChartReport[] = [];
    for (const c of opts.cases ?? chartCases) {
      const problems: string[] = [];
      const { manifest, docs, values, files } = await renderChart(tools, c, dir);
      const lint = await exec(tools.helm, ['lint', '--strict', chartDir, '--kube-version', KUBERNETES_VERSION, ...files.flatMap((f) => ['-f', f])]);
      if (lint.code !== 0) problems.push(`helm lint: ${lint.out}`);
      const conform = await kubeconform(tools, manifest, dir);
      if (conform.code !== 0) problems.push(`kubeconform: ${conform.out}`);
      problems.push(...(await chartProblems(docs, values)));
      const report = { name: c.name, lint: lint.out.split('\n').at(-1) ?? '', kubeconform: conform.out.split('\n').at(-1) ?? '', problems };
      opts.log?.(`chart (${c.name}): ${report.kubeconform}; ${problems.length === 0 ? 'every rule holds' : `${problems.length} problem(s)`}`);
      reports.push(report);
    }
    const failed = reports.filter((r) => r.problems.length > 0);
    if (failed.length > 0) throw ChartInvalid(`the Helm chart fails its checks:\n${failed.flatMap((r) => r.problems.map((p) => `- ${r.name}: ${p}`)).join('\n')}`, { details: reports });
    return reports;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

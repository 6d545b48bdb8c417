/**
 * The tools `npm run deploy:check` runs, each pinned and installed once into
 * `<infra dir>/deploy-tools`:
 * - helm and kubeconform, built from their Go modules (go-tool.ts);
 * - check-jsonschema (compose.yaml against the compose-spec schema) and kubernetes-validate
 *   (whose package carries the Kubernetes JSON schemas kubeconform reads), from PyPI into one
 *   venv (pip-venv.ts);
 * - the compose-spec schema, `schema/compose-spec.json` of the Go module compose-go, the one
 *   Docker Compose itself validates with, fetched from the Go module proxy;
 * - the CRDs of the custom resources the Helm chart renders, from their projects' Go modules the
 *   same way (KEDA's ScaledObject and TriggerAuthentication, the Prometheus Operator's
 *   PodMonitor, Argo Rollouts' Rollout and AnalysisTemplate): the chart's objects of those kinds are checked against their openAPIV3Schema (deploy/helm/schemas.ts makes kubeconform's schema of it).
 * Nothing here runs in the background.
 */
import { copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { installedGoTool, installGoTool, type GoTool } from './go-tool.ts';
import { installPipVenv, pipVenvPaths, pipVenvReady, type PipVenv } from './pip-venv.ts';
import { emitAll, InfraError, run, stdIo, type InfraIo, type InfraState } from './processes.ts';

/** helm v4 (v3.22.0 is served by the proxy here but not approved). */
export const HELM: GoTool = { name: 'helm', pkg: 'helm.sh/helm/v4/cmd/helm', version: 'v4.3.2', needsGo: '1.25' };
export const KUBECONFORM: GoTool = { name: 'kubeconform', pkg: 'github.com/yannh/kubeconform/cmd/kubeconform', version: 'v0.7.0', needsGo: '1.22' };
export const COMPOSE_GO = { module: 'github.com/compose-spec/compose-go/v2', version: 'v2.16.2', schema: 'schema/compose-spec.json' } as const;
/** A project whose CustomResourceDefinitions the chart uses: its Go module and the CRD files in it. */
export type CrdSource = Readonly<{ name: string; module: string; version: string; crds: readonly string[] }>;
/** KEDA's CRDs: v2.20.2 is the newest the Go here (1.26) downloads (v2.21 needs Go 1.27.4). */
export const KEDA: CrdSource = { name: 'keda', module: 'github.com/kedacore/keda/v2', version: 'v2.20.2', crds: ['config/crd/bases/keda.sh_scaledobjects.yaml', 'config/crd/bases/keda.sh_triggerauthentications.yaml'] };
export const PROMETHEUS_OPERATOR: CrdSource = { name: 'prometheus-operator', module: 'github.com/prometheus-operator/prometheus-operator', version: 'v0.85.0', crds: ['example/prometheus-operator-crd/monitoring.coreos.com_podmonitors.yaml'] };
/** Argo Rollouts' CRDs: v1.8.5 is the newest the Go here (1.26.8) downloads (v1.9 needs 1.26.10). */
export const ARGO_ROLLOUTS: CrdSource = { name: 'argo-rollouts', module: 'github.com/argoproj/argo-rollouts', version: 'v1.8.5', crds: ['manifests/crds/rollout-crd.yaml', 'manifests/crds/analysis-template-crd.yaml'] };
export const CRD_SOURCES: readonly CrdSource[] = [KEDA, PROMETHEUS_OPERATOR, ARGO_ROLLOUTS];
/** The Kubernetes version whose schemas kubernetes-validate carries and the checks use. */
export const KUBERNETES_VERSION = '1.37.0';

export const DEPLOY_PYTHON: PipVenv = {
  name: 'deploy-tools (check-jsonschema, kubernetes-validate)',
  minPython: [3, 10],
  requirements: [
    'check-jsonschema==0.39.0',
    `kubernetes-validate==${KUBERNETES_VERSION}`,
    'attrs==26.1.0',
    'certifi==2026.10.19.post1',
    'charset-normalizer==3.5.3',
    'click==8.5.1',
    'idna==3.21',
    'importlib_resources==7.1.0',
    'jsonschema==4.26.0',
    'jsonschema-specifications==2025.9.1',
    'packaging==26.4',
    'PyYAML==6.0.4',
    'referencing==0.37.0',
    'regress==2026.9.1',
    'requests==2.34.2',
    'rpds-py==2026.9.1',
    'ruamel.yaml==0.19.1',
    'typing_extensions==4.16.0',
    'urllib3==2.8.0',
  ],
};

export type DeployTools = Readonly<{
  helm: string;
  kubeconform: string;
  checkJsonschema: string;
  /** The venv's interpreter, for `python -m kubernetes_validate`. */
  python: string;
  /** compose-go's compose-spec.json. */
  composeSchema: string;
  /** kubernetes-validate's schemas for KUBERNETES_VERSION (strict: no unknown fields), one file per kind: deployment-apps-v1.json... */
  kubernetesSchemas: string;
  /** The CustomResourceDefinitions of CRD_SOURCES (YAML), one file each: keda.sh_scaledobjects.yaml... */
  crds: readonly string[];
}>;

export function deployToolPaths(dir: string) {
  const home = join(dir, 'deploy-tools');
  const py = pipVenvPaths(join(home, 'python'));
  return {
    home,
    helmHome: join(home, `helm-${HELM.version}`),
    kubeconformHome: join(home, `kubeconform-${KUBECONFORM.version}`),
    python: py,
    composeSchema: join(home, `compose-spec-${COMPOSE_GO.version}.json`),
    crds: CRD_SOURCES.flatMap((src) => src.crds.map((crd) => join(home, `${src.name}-${src.version}`, basename(crd)))),
    /** Where pip put kubernetes-validate's schemas, under the venv's Python version (3.11). */
    schemasUnder: (pythonVersion: string) => join(py.venv, 'lib', `python${pythonVersion}`, 'site-packages', 'kubernetes_validate', 'kubernetes-json-schema', `v${KUBERNETES_VERSION}-local-strict`),
  };
}

async function kubernetesSchemaDir(python: string, dir: string): Promise<string> {
  const version = (await run(python, ['-c', 'import sys; print("%d.%d" % sys.version_info[:2])'], { capture: true })).trim();
  const schemas = deployToolPaths(dir).schemasUnder(version);
  if (!existsSync(join(schemas, 'deployment-apps-v1.json'))) throw InfraError(`deploy-tools: kubernetes-validate ${KUBERNETES_VERSION} has no schemas at ${schemas}`);
  return schemas;
}

/** The tools when every one is installed in `dir`, else undefined. */
export async function installedDeployTools(dir: string): Promise<DeployTools | undefined> {
  const p = deployToolPaths(dir);
  const helm = installedGoTool(p.helmHome, HELM);
  const kubeconform = installedGoTool(p.kubeconformHome, KUBECONFORM);
  if (!helm || !kubeconform || !pipVenvReady(p.python.home, DEPLOY_PYTHON) || !existsSync(p.composeSchema) || !p.crds.every((f) => existsSync(f))) return undefined;
  return { helm, kubeconform, checkJsonschema: p.python.bin('check-jsonschema'), python: p.python.python, composeSchema: p.composeSchema, kubernetesSchemas: await kubernetesSchemaDir(p.python.python, dir), crds: p.crds };
}

/** Installs what is missing (helm's first build takes minutes) and resolves to every tool. */
export async function installDeployTools(dir: string, python: string, io: InfraIo = stdIo): Promise<DeployTools> {
  const p = deployToolPaths(dir);
  // One after the other: two Go builds at once on two cores are no faster.
  const helm = await installGoTool(p.helmHome, HELM, io);
  const kubeconform = await installGoTool(p.kubeconformHome, KUBECONFORM, io);
  const venv = await installPipVenv(p.python.home, DEPLOY_PYTHON, python, io);
  if (!existsSync(p.composeSchema)) {
    io.say(`deploy-tools: fetching ${COMPOSE_GO.module}@${COMPOSE_GO.version} from the Go module proxy for ${COMPOSE_GO.schema}`);
    const moduleDir = await goModuleDir(COMPOSE_GO.module, COMPOSE_GO.version, [COMPOSE_GO.schema]);
    mkdirSync(p.home, { recursive: true });
    copyFileSync(join(moduleDir, COMPOSE_GO.schema), p.composeSchema);
  }
  for (const src of CRD_SOURCES) {
    const files = src.crds.map((crd) => ({ crd, to: join(p.home, `${src.name}-${src.version}`, basename(crd)) }));
    if (files.every((f) => existsSync(f.to))) continue;
    io.say(`deploy-tools: fetching ${src.module}@${src.version} from the Go module proxy for its CRDs`);
    const moduleDir = await goModuleDir(src.module, src.version, src.crds);
    for (const f of files) {
      mkdirSync(dirname(f.to), { recursive: true });
      copyFileSync(join(moduleDir, f.crd), f.to);
    }
  }
  return { helm, kubeconform, checkJsonschema: venv.bin('check-jsonschema'), python: venv.python, composeSchema: p.composeSchema, kubernetesSchemas: await kubernetesSchemaDir(venv.python, dir), crds: p.crds };
}

/** `go mod download` of a module (into Go's module cache); its folder, once it has every file wanted. */
async function goModuleDir(module: string, version: string, files: readonly string[]): Promise<string> {
  const out = await run('go', ['mod', 'download', '-json', `${module}@${version}`], { capture: true });
  const { Dir: moduleDir, Error: error } = JSON.parse(out) as { Dir?: string; Error?: string };
  const missing = files.filter((f) => !moduleDir || !existsSync(join(moduleDir, f)));
  if (!moduleDir || missing.length > 0) throw InfraError(`deploy-tools: ${module}@${version} ${error ? `could not be downloaded: ${error}` : `has no ${missing.join(', ')}`}`);
  return moduleDir;
}

const settings = (t: DeployTools): Record<string, string> => ({
  HELM: t.helm,
  KUBECONFORM: t.kubeconform,
  CHECK_JSONSCHEMA: t.checkJsonschema,
  DEPLOY_PYTHON: t.python,
  COMPOSE_SCHEMA: t.composeSchema,
  KUBERNETES_SCHEMAS: t.kubernetesSchemas,
  CRDS: t.crds.join(','),
});

/** `infra deploy-tools install|status`: the tools' paths go to `io.emit` as KEY=VALUE lines. */
export async function deployToolsInfra(action: 'install' | 'status', opts: Readonly<{ dir: string; python: string; io?: InfraIo }>): Promise<InfraState> {
  const io = opts.io ?? stdIo;
  const tools = action === 'install' ? await installDeployTools(opts.dir, opts.python, io) : await installedDeployTools(opts.dir);
  if (!tools) {
    io.say(`deploy-tools: not all installed in ${deployToolPaths(opts.dir).home} (orderflow infra deploy-tools install)`);
    return { running: false, owned: false, env: {} };
  }
  emitAll(io, settings(tools));
  return { running: true, owned: true, env: settings(tools) };
}

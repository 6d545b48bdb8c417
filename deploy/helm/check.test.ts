/**
 * The chart's check with the real tools on the real chart: it passes as the chart is, and each
 * of its parts fails on a render spoiled the way it is there to catch. Needs the deploy tools
 * (npm run infra:deploy-tools -- install); skips without them, fails under ORDERFLOW_REQUIRE_INFRA=1.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import { stringify } from 'yaml';
import { writeFileSync } from 'node:fs';
import { deployTools, executable, promtoolSkip } from '#test/infra.ts';
import { KUBERNETES_VERSION } from '#runtime/infra/deploy-tools.ts';
import { chartCases, chartProblems, checkChart, kubeconform, parseManifest, productionValuesFile, renderChart, type ChartCase } from './check.ts';
import type { ChartValues, K8sObject } from './rules.ts';
import { schemaFileName } from './schemas.ts';

const { tools, skip } = await deployTools();
const run = promisify(execFile);
const blueGreen = fileURLToPath(new URL('./blue-green.sh', import.meta.url));
const [defaults, production, canary, green] = chartCases;

test('schema file names are kubeconform\'s', () => {
  assert.equal(schemaFileName('apps/v1', 'Deployment'), 'deployment-apps-v1.json');
  assert.equal(schemaFileName('v1', 'Service'), 'service-v1.json');
  assert.equal(schemaFileName('networking.k8s.io/v1', 'NetworkPolicy'), 'networkpolicy-networking-v1.json');
  assert.equal(schemaFileName('keda.sh/v1alpha1', 'ScaledObject'), 'scaledobject-keda-v1alpha1.json');
});

describe('the Helm chart', { skip }, () => {
  let dir: string;
  const renders = new Map<string, { manifest: string; docs: K8sObject[]; values: ChartValues }>();
  before(async () => {
    dir = mkdtempSync(join(tmpdir(), 'orderflow-chart-test-'));
    for (const c of chartCases) renders.set(c.name, await renderChart(tools!, c, dir));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** A deep copy of a case's render, `spoil` applied to its objects; the problems the rules find in it. */
  const spoiled = (c: ChartCase, spoil: (find: (kind: string, name: string) => any, docs: K8sObject[]) => void): Promise<string[]> => {
    const { docs, values } = structuredClone(renders.get(c.name)!);
    const find = (kind: string, name: string) => {
      const found = docs.find((d) => d.kind === kind && d.metadata.name === name);
      assert.ok(found, `the render has no ${kind} ${name}`);
      return found;
    };
    spoil(find, docs);
    return chartProblems(docs, values);
  };
  const assertProblem = async (found: string[] | Promise<string[]>, pattern: RegExp) => {
    const problems = await found;
    assert.ok(problems.some((p) => pattern.test(p)), `no problem matches ${pattern}; got:\n${problems.join('\n')}`);
  };
  const container = (d: any) => d.spec.template.spec.containers[0];

  test('passes helm lint, kubeconform -strict and every rule, for each case', async () => {
    const reports = await checkChart(tools!);
    assert.deepEqual(reports.map((r) => r.name), chartCases.map((c) => c.name));
    for (const r of reports) {
      const count = renders.get(r.name)!.docs.length;
      assert.match(r.kubeconform, new RegExp(`${count} resources found in 1 file - Valid: ${count}, Invalid: 0, Errors: 0, Skipped: 0`), r.name);
      assert.match(r.lint, /1 chart\(s\) linted, 0 chart\(s\) failed/);
      assert.deepEqual(r.problems, []);
    }
  });

  test('renders what the issue asks for', () => {
    const kinds = (c: ChartCase) => renders.get(c.name)!.docs.map((d) => `${d.kind}/${d.metadata.name}`);
    const prod = kinds(production);
    for (const s of ['gateway', 'orders', 'inventory', 'payments', 'shipping', 'users', 'cart', 'notifications', 'ingestion', 'analytics']) {
      assert.ok(prod.includes(`Deployment/orderflow-${s}`) && prod.includes(`PodDisruptionBudget/orderflow-${s}`), s);
    }
    assert.ok(prod.includes('HorizontalPodAutoscaler/orderflow-gateway'));
    assert.ok(prod.includes('ScaledObject/orderflow-orders') && prod.includes('ScaledObject/orderflow-notifications'));
    assert.ok(prod.includes('NetworkPolicy/orderflow-default-deny'));
    assert.ok(prod.includes('TriggerAuthentication/orderflow-kafka'));
    assert.ok(prod.includes('PodMonitor/orderflow-gateway') && prod.includes('PodMonitor/orderflow-services'));
    const withCanary = kinds(canary);
    assert.ok(withCanary.includes('Rollout/orderflow-gateway') && !withCanary.includes('Deployment/orderflow-gateway'));
    assert.ok(withCanary.includes('AnalysisTemplate/orderflow-gateway-success-rate'));
    assert.deepEqual(kinds(green).sort(), ['ConfigMap/orderflow-green-env', 'Deployment/orderflow-green-gateway', 'HorizontalPodAutoscaler/orderflow-green-gateway', 'PodDisruptionBudget/orderflow-green-gateway', 'Service/orderflow-green-gateway-green']);
    const stable = renders.get(production.name)!.docs.find((d) => d.kind === 'Service' && d.metadata.name === 'orderflow-gateway')!;
    assert.equal(stable.spec.selector['orderflow.dev/track'], 'blue');
    const greenPod = renders.get(green.name)!.docs.find((d) => d.kind === 'Deployment')!.spec.template.metadata.labels;
    // The stable Service's selector, but for the track, matches the green pods: the switch is that one label.
    assert.ok(Object.entries(stable.spec.selector).every(([k, v]) => k === 'orderflow.dev/track' || greenPod[k] === v));
    assert.equal(greenPod['orderflow.dev/track'], 'green');
  });

  test('kubeconform -strict fails an unknown field, a wrong type, a kind without a schema', async () => {
    const { manifest } = renders.get(production.name)!;
    const cases: Array<[string, string, RegExp]> = [
      ['a Deployment field misspelt', manifest.replace('revisionHistoryLimit: 5', 'revisionHistoryLimt: 5'), /additional properties 'revisionHistoryLimt' not allowed/],
      ['a ScaledObject field misspelt (KEDA\'s CRD)', manifest.replace('pollingInterval: 15', 'pollingIntervall: 15'), /additional properties 'pollingIntervall' not allowed/],
      ['a PodMonitor field misspelt (the Prometheus Operator\'s CRD)', manifest.replace('podMetricsEndpoints:', 'podMetricEndpoints:'), /additional properties 'podMetricEndpoints' not allowed/],
      ['a Rollout field misspelt (Argo Rollouts\' CRD)', renders.get(canary.name)!.manifest.replace('startingStep: 1', 'startingStp: 1'), /additional properties 'startingStp' not allowed/],
      ['a TriggerAuthentication field misspelt (KEDA\'s CRD)', manifest.replace('secretTargetRef:', 'secretTargetRefs:'), /additional properties 'secretTargetRefs' not allowed/],
      ['a list where a number goes', manifest.replace('maxUnavailable: 0', 'maxUnavailable: [0]'), /maxUnavailable/],
      ['a kind no schema has', `${manifest}\n---\n${stringify({ apiVersion: 'monitoring.coreos.com/v1', kind: 'ServiceMonitor', metadata: { name: 'x' }, spec: {} })}`, /could not find schema for ServiceMonitor/],
    ];
    for (const [what, spoilt, pattern] of cases) {
      const ran = await kubeconform(tools!, spoilt, mkdtempSync(join(dir, 'kc-')));
      assert.notEqual(ran.code, 0, what);
      assert.match(ran.out, pattern, what);
    }
  });

  test('values.schema.json refuses a misspelt or mistyped value at template time', async () => {
    await assert.rejects(renderChart(tools!, { ...production, values: { services: { orders: { hpa: { maxReplica: 3 } } } } }, dir), /\/services\/orders\/hpa': additional properties 'maxReplica' not allowed/);
    await assert.rejects(renderChart(tools!, { ...production, values: { config: { arch: 'saga' } } }, dir), /\/config\/arch': value must be one of/);
    await assert.rejects(renderChart(tools!, { ...production, values: { services: { cart: { calls: ['gateway'] } } } }, dir), /\/services\/cart\/calls\/0/);
  });

  test('the chart refuses a KEDA bound past the partitions, and the defaults without a signing key', async () => {
    await assert.rejects(renderChart(tools!, { ...production, values: { services: { orders: { keda: { maxReplicaCount: 13 } } } } }, dir), /maxReplicaCount \(13\) exceeds config.partitions \(12\)/);
    await assert.rejects(renderChart(tools!, { ...defaults, values: undefined }, dir), /secrets.usersSigningKey \(USERS_SIGNING_KEY/);
  });

  test('the Deployment rules fail without probes, resources, maxUnavailable 0 or a PDB', async () => {
    await assertProblem(spoiled(production, (f) => delete container(f('Deployment', 'orderflow-orders')).readinessProbe), /orderflow-orders: container orders has no readiness probe/);
    await assertProblem(spoiled(production, (f) => delete container(f('Deployment', 'orderflow-cart')).livenessProbe), /orderflow-cart: container cart has no liveness probe/);
    await assertProblem(spoiled(production, (f) => delete container(f('Deployment', 'orderflow-users')).resources.limits), /orderflow-users: container users has no resources.limits.cpu/);
    await assertProblem(spoiled(production, (f) => (f('Deployment', 'orderflow-payments').spec.strategy.rollingUpdate.maxUnavailable = 1)), /orderflow-payments: its rolling update must have maxUnavailable 0/);
    await assertProblem(spoiled(production, (_, docs) => docs.splice(docs.findIndex((d) => d.kind === 'PodDisruptionBudget' && d.metadata.name === 'orderflow-shipping'), 1)), /orderflow-shipping: no PodDisruptionBudget/);
  });

  test('the scaling rules fail past the partitions, off CPU, on a foreign group or topic, with two autoscalers, with too few ORDERFLOW_REPLICAS', async () => {
    await assertProblem(spoiled(production, (f) => (f('ScaledObject', 'orderflow-inventory').spec.maxReplicaCount = 13)), /ScaledObject orderflow-inventory: maxReplicaCount 13 exceeds the 12 partitions/);
    await assertProblem(spoiled(production, (f) => (f('ScaledObject', 'orderflow-payments').spec.triggers[0].metadata.consumerGroup = 'orderflow.orders')), /consumerGroup orderflow.orders is not payments's group orderflow.payments/);
    await assertProblem(spoiled(production, (f) => (f('ScaledObject', 'orderflow-payments').spec.triggers[0].metadata.topic = 'orderflow.payments.command')), /topic orderflow.payments.command is none of the platform's topics/);
    await assertProblem(spoiled(production, (f) => (f('ScaledObject', 'orderflow-orders').spec.triggers = f('ScaledObject', 'orderflow-orders').spec.triggers.filter((t: any) => t.type !== 'cpu'))), /orders: no HorizontalPodAutoscaler \(nor KEDA cpu trigger\) scales it on CPU/);
    await assertProblem(spoiled(production, (_, docs) => docs.splice(docs.findIndex((d) => d.kind === 'HorizontalPodAutoscaler'), 1)), /gateway: no HorizontalPodAutoscaler/);
    await assertProblem(spoiled(production, (f, docs) => docs.push({ ...structuredClone(f('HorizontalPodAutoscaler', 'orderflow-gateway')), metadata: { name: 'extra' } })), /Deployment orderflow-gateway has more than one autoscaler/);
    await assertProblem(spoiled(production, (f) => (container(f('Deployment', 'orderflow-orders')).env.find((e: any) => e.name === 'ORDERFLOW_REPLICAS').value = '2')), /orderflow-orders: ORDERFLOW_REPLICAS is 2; up to 13 pods may run/);
    await assertProblem(spoiled(defaults, (f) => container(f('Deployment', 'orderflow-cart')).env.push({ name: 'ORDERFLOW_INSTANCE', value: 'cart-1' })), /orderflow-cart: ORDERFLOW_INSTANCE is set/);
    // KEDA must read the lag the way the services connect: TLS and SCRAM in production.
    const trigger = (f: any) => f('ScaledObject', 'orderflow-cart').spec.triggers[0];
    await assertProblem(spoiled(production, (f) => delete trigger(f).metadata.tls), /orderflow-cart: tls is disable but the services' KAFKA_SECURITY_PROTOCOL is SASL_SSL/);
    await assertProblem(spoiled(production, (f) => (trigger(f).metadata.sasl = 'scram_sha256')), /orderflow-cart: sasl is scram_sha256 but the services use scram_sha512/);
    await assertProblem(spoiled(production, (f) => delete trigger(f).authenticationRef), /orderflow-cart: SASL without a TriggerAuthentication the chart renders/);
  });

  test('the reference rules fail on a Secret, a key or a ConfigMap the chart does not render', async () => {
    const env = (f: any, name: string) => container(f('Deployment', 'orderflow-orders')).env.find((e: any) => e.name === name);
    await assertProblem(spoiled(defaults, (f) => (env(f, 'DATABASE_URL').valueFrom.secretKeyRef.key = 'DATABASE_URI')), /DATABASE_URL comes from key DATABASE_URI of Secret orderflow-secrets, which has only DATABASE_URL, USERS_SIGNING_KEY/);
    await assertProblem(spoiled(defaults, (f) => (env(f, 'DATABASE_URL').valueFrom.secretKeyRef.name = 'other')), /DATABASE_URL comes from Secret other, which the chart does not render/);
    await assertProblem(spoiled(production, (f) => (env(f, 'DATABASE_URL').valueFrom.secretKeyRef.name = 'orderflow-secret')), /Secret orderflow-secret, which the chart does not render/);
    await assertProblem(spoiled(defaults, (f) => (container(f('Deployment', 'orderflow-orders')).envFrom[0].configMapRef.name = 'orderflow-envs')), /envFrom names ConfigMap orderflow-envs/);
    await assertProblem(spoiled(production, (f) => (f('TriggerAuthentication', 'orderflow-kafka').spec.secretTargetRef[2].key = 'tls.crt')), /TriggerAuthentication orderflow-kafka: ca comes from key tls.crt of Secret kafka-ca/);
    await assertProblem(spoiled(defaults, (f) => (container(f('Deployment', 'orderflow-users')).env = container(f('Deployment', 'orderflow-users')).env.filter((e: any) => e.name !== 'USERS_SIGNING_KEY'))), /no USERS_SIGNING_KEY/);
  });

  test('the NetworkPolicy rules fail without the default deny, on a flow too many or one missing', async () => {
    const policy = (f: any, name: string) => f('NetworkPolicy', name).spec;
    await assertProblem(spoiled(production, (f) => (policy(f, 'orderflow-default-deny').podSelector.matchLabels['app.kubernetes.io/component'] = 'orders')), /no default-deny NetworkPolicy/);
    await assertProblem(spoiled(production, (f) => policy(f, 'orderflow-orders').ingress.push({ from: [{ podSelector: { matchLabels: { 'app.kubernetes.io/name': 'orderflow', 'app.kubernetes.io/part-of': 'orderflow' } } }] })), /orders: the NetworkPolicies allow "in pod:\* any", which is no listed flow/);
    await assertProblem(spoiled(production, (f) => (policy(f, 'orderflow-analytics').ingress = policy(f, 'orderflow-analytics').ingress.filter((r: any) => !r.from[0].namespaceSelector))), /analytics: the NetworkPolicies do not allow "in prometheus 8089\/TCP"/);
    await assertProblem(spoiled(production, (f) => policy(f, 'orderflow-payments').egress.push({})), /payments: the NetworkPolicies allow "out anyone any", which is no listed flow/);
    await assertProblem(spoiled(production, (f) => policy(f, 'orderflow-gateway').egress.push(policy(f, 'orderflow-orders').egress.find((r: any) => r.ports[0].port === 5432))), /gateway: the NetworkPolicies allow "out postgres 5432\/TCP"/);
    // Through the chart: a call the services do not make, added in the values, is a flow too many both ways.
    const { docs, values } = await renderChart(tools!, { ...production, values: { services: { payments: { calls: ['orders'] } } } }, dir);
    const problems = await chartProblems(docs, values);
    await assertProblem(problems, /payments: the NetworkPolicies allow "out pod:orders 8081\/TCP", which is no listed flow/);
    await assertProblem(problems, /orders: the NetworkPolicies allow "in pod:payments 8081\/TCP", which is no listed flow/);
  });

  test('the canary rules fail without an analysis, without its template or its arg, with a Deployment\'s HPA', async () => {
    const strategy = (f: any) => f('Rollout', 'orderflow-gateway').spec.strategy.canary;
    await assertProblem(spoiled(canary, (f) => delete strategy(f).analysis), /Rollout orderflow-gateway: its canary has no analysis/);
    await assertProblem(spoiled(canary, (_, docs) => docs.splice(docs.findIndex((d) => d.kind === 'AnalysisTemplate'), 1)), /its analysis names AnalysisTemplate orderflow-gateway-success-rate, which the chart does not render/);
    await assertProblem(spoiled(canary, (f) => (strategy(f).analysis.args = [])), /AnalysisTemplate orderflow-gateway-success-rate needs the arg canary-hash/);
    await assertProblem(spoiled(canary, (f) => (strategy(f).maxUnavailable = 1)), /Rollout orderflow-gateway: its canary must have maxUnavailable 0/);
    await assertProblem(spoiled(canary, (f) => Object.assign(f('HorizontalPodAutoscaler', 'orderflow-gateway').spec.scaleTargetRef, { apiVersion: 'apps/v1', kind: 'Deployment' })), /HorizontalPodAutoscaler orderflow-gateway: scales Deployment orderflow-gateway, which the chart does not render/);
    await assert.rejects(renderChart(tools!, { ...green, values: { ...green.values, gateway: { track: 'green', canary: { enabled: true } } } }, dir), /gateway.canary and gatewayOnly are two ways of one rollout/);
  });

  test('the monitoring rule fails on a pod no PodMonitor or two scrape, or on the wrong port', async () => {
    const monitor = (f: any, name: string) => f('PodMonitor', name).spec;
    await assertProblem(spoiled(production, (f) => (monitor(f, 'orderflow-services').selector.matchExpressions[0].values = ['gateway', 'cart'])), /Deployment orderflow-cart: 0 PodMonitors select its pods/);
    await assertProblem(spoiled(production, (f) => delete monitor(f, 'orderflow-services').selector.matchExpressions), /Deployment orderflow-gateway: 2 PodMonitors select its pods/);
    await assertProblem(spoiled(production, (f) => (monitor(f, 'orderflow-gateway').podMetricsEndpoints[0].port = 'http')), /orderflow-gateway: PodMonitor orderflow-gateway scrapes 8080, its annotation says 9080/);
    await assertProblem(spoiled(production, (f) => (monitor(f, 'orderflow-services').podMetricsEndpoints[0].port = 'metrics')), /orderflow-orders: PodMonitor orderflow-services scrapes port metrics, which its container does not name/);
  });

  test('the config rule runs each service\'s own loader on its pods\' env', async () => {
    const env = (f: any, name: string) => container(f('Deployment', name)).env;
    await assertProblem(spoiled(production, (f) => env(f, 'orderflow-ingestion').splice(env(f, 'orderflow-ingestion').findIndex((e: any) => e.name === 'ORDERFLOW_STORE'), 1)), /orderflow-ingestion: ingestion refuses its settings: ORDERFLOW_STORE=postgres needs DATABASE_URL/);
    await assertProblem(spoiled(production, (f) => env(f, 'orderflow-users').splice(env(f, 'orderflow-users').findIndex((e: any) => e.name === 'USERS_SIGNING_KEY'), 1)), /users refuses its settings: the users service needs its signing key/);
    await assertProblem(spoiled(production, (f) => env(f, 'orderflow-orders').push({ name: 'ORDERS_STEP_DEADLINE_MS', value: '1000' })), /orders refuses its settings: ORDERS_STEP_DEADLINE_MS \(1000\) must be greater/);
    await assertProblem(spoiled(production, (f) => (f('ConfigMap', 'orderflow-env').data.ORDERFLOW_ARCH = 'saga')), /refuses its settings: ORDERFLOW_ARCH must be one of/);
  });

  test('the canary\'s analysis query is PromQL Prometheus parses', { skip: promtoolSkip() }, async () => {
    const template = renders.get(canary.name)!.docs.find((d) => d.kind === 'AnalysisTemplate')!;
    const query: string = template.spec.metrics[0].provider.prometheus.query.replaceAll('{{args.canary-hash}}', '5d8f7c9b4');
    const rules = join(dir, 'analysis-rules.yml');
    writeFileSync(rules, stringify({ groups: [{ name: 'analysis', rules: [{ record: 'orderflow:gateway_canary_success_rate', expr: query }] }] }));
    const { stdout } = await run(executable('promtool')!, ['check', 'rules', rules]);
    assert.match(stdout, /SUCCESS: 1 rules found/);
    const spoilt = join(dir, 'spoilt-rules.yml');
    writeFileSync(spoilt, stringify({ groups: [{ name: 'analysis', rules: [{ record: 'x', expr: query.replace('[2m]', '[2m') }] }] }));
    await assert.rejects(run(executable('promtool')!, ['check', 'rules', spoilt]));
  });

  test('blue-green.sh installs the green gateway the check renders, and switches one label of the stable Service', async () => {
    const env = { ...process.env, DRY_RUN: '1', HELM: tools!.helm, NAMESPACE: 'shop' };
    const deploy = (await run('bash', [blueGreen, 'deploy', 'orderflow', '-f', productionValuesFile], { env })).stdout.trim().split('\n');
    const install = deploy[0].trim().split(' ');
    assert.deepEqual(install.slice(0, 4), [tools!.helm, 'upgrade', '--install', 'orderflow-green']);
    // The same command as a template: what it would install.
    const args = install.slice(3).filter((a, i, all) => !['--wait', '--timeout'].includes(a) && all[i - 1] !== '--timeout');
    const { stdout } = await run(tools!.helm, ['template', ...args, '--kube-version', KUBERNETES_VERSION]);
    const names = (docs: K8sObject[]) => docs.map((d) => `${d.kind}/${d.metadata.name}`).sort();
    assert.deepEqual(names(parseManifest(stdout)), names(renders.get(green.name)!.docs));
    assert.match(deploy[1], /kubectl --namespace shop rollout status deployment\/orderflow-green-gateway/);
    const patch = (await run('bash', [blueGreen, 'switch', 'orderflow', 'green'], { env })).stdout;
    assert.match(patch, /patch service orderflow-gateway --type merge -p .*orderflow\.dev\/track.*green/);
    await assert.rejects(run('bash', [blueGreen, 'switch', 'orderflow', 'purple'], { env }), (err: { code: number }) => err.code === 2);
  });
});

/**
 * What a schema cannot say about the chart's rendered objects, checked in code: each rule
 * returns the problems it finds (none: it holds). check.ts runs them on every render; the
 * tests spoil a real render to see each one fail.
 */
import { isDeepStrictEqual } from 'node:util';
import { allTopics } from '#contracts/topics.ts';
import { databaseServices, serviceNames, type ServiceName } from '#runtime/system.ts';

/** A rendered object's insides, as loosely as YAML gives them: the rules look, they do not trust. */
type Any = any;
export type K8sObject = { apiVersion: string; kind: string; metadata: { name: string; labels?: Record<string, string> }; spec?: Any; data?: Record<string, string>; stringData?: Record<string, string> };

/** The chart's values after the files and --set are laid over values.yaml (check.ts mergeValues). */
export type ChartValues = Any;

/**
 * Who calls whom over HTTP: the *_URL settings each service reads (services/<name>/config.ts).
 * The NetworkPolicies must allow exactly these between the chart's pods.
 */
export const serviceCalls: Readonly<Partial<Record<ServiceName, readonly ServiceName[]>>> = {
  gateway: serviceNames.filter((n) => n !== 'gateway'),
  cart: ['orders', 'inventory'],
  orders: ['inventory', 'payments', 'shipping'],
};

/** The keys of the stack's Secret (secrets.existingSecret must have those its services read). */
export const secretKeys = ['DATABASE_URL', 'USERS_SIGNING_KEY', 'SMTP_URL', 'KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD'] as const;

/** KEDA's name of each SASL mechanism (its kafka scaler's `sasl`). */
const kedaSasl: Record<string, string> = { 'SCRAM-SHA-512': 'scram_sha512', 'SCRAM-SHA-256': 'scram_sha256', PLAIN: 'plaintext' };

const of = (docs: K8sObject[], kind: string) => docs.filter((d) => d.kind === kind);
/** What runs the pods: Deployments, and the gateway's Argo Rollout when it is a canary. */
export const workloads = (docs: K8sObject[]) => docs.filter((d) => d.kind === 'Deployment' || (d.kind === 'Rollout' && d.apiVersion === 'argoproj.io/v1alpha1'));
const component = (labels: Record<string, string> | undefined) => labels?.['app.kubernetes.io/component'] ?? '?';
const matches = (selector: Record<string, string> | undefined, labels: Record<string, string>) => Object.entries(selector ?? {}).every(([k, v]) => labels[k] === v);
const podLabels = (d: K8sObject): Record<string, string> => d.spec?.template?.metadata?.labels ?? {};
const containers = (d: K8sObject): Any[] => d.spec?.template?.spec?.containers ?? [];
const configMapEnv = (docs: K8sObject[]): Record<string, string> => Object.assign({}, ...of(docs, 'ConfigMap').map((c) => c.data ?? {}));

/**
 * Every Deployment (and Rollout): probes, resources, an update that stops no pod before its
 * successor is ready, a PDB; a canary's analysis names a template the chart renders.
 */
export function deploymentRules(docs: K8sObject[]): string[] {
  const problems: string[] = [];
  const pdbs = of(docs, 'PodDisruptionBudget');
  for (const d of workloads(docs)) {
    const at = `${d.kind} ${d.metadata.name}`;
    for (const c of containers(d)) {
      if (c.readinessProbe?.httpGet?.path !== '/health/ready') problems.push(`${at}: container ${c.name} has no readiness probe on /health/ready`);
      if (c.livenessProbe?.httpGet?.path !== '/health/live') problems.push(`${at}: container ${c.name} has no liveness probe on /health/live`);
      for (const r of ['requests', 'limits']) {
        for (const what of ['cpu', 'memory']) if (!c.resources?.[r]?.[what]) problems.push(`${at}: container ${c.name} has no resources.${r}.${what}`);
      }
    }
    const strategy = d.spec?.strategy;
    const update = d.kind === 'Rollout' ? strategy?.canary : (strategy?.type ?? 'RollingUpdate') === 'RollingUpdate' ? strategy?.rollingUpdate : undefined;
    if (!['0', '0%'].includes(String(update?.maxUnavailable))) problems.push(`${at}: its ${d.kind === 'Rollout' ? 'canary' : 'rolling update'} must have maxUnavailable 0 (got ${JSON.stringify(update?.maxUnavailable)})`);
    if (d.kind === 'Rollout') {
      const names: string[] = (update?.analysis?.templates ?? []).map((t: Any) => t.templateName);
      if (names.length === 0) problems.push(`${at}: its canary has no analysis: nothing would stop a bad version`);
      for (const name of names) {
        const template = of(docs, 'AnalysisTemplate').find((a) => a.metadata.name === name);
        if (!template) problems.push(`${at}: its analysis names AnalysisTemplate ${name}, which the chart does not render`);
        const given = new Set((update.analysis.args ?? []).map((a: Any) => a.name));
        for (const arg of template?.spec?.args ?? []) if (arg.value === undefined && !given.has(arg.name)) problems.push(`${at}: AnalysisTemplate ${name} needs the arg ${arg.name}, which its analysis does not give`);
      }
    }
    if (!pdbs.some((p) => p.spec?.selector?.matchLabels && matches(p.spec.selector.matchLabels, podLabels(d)))) problems.push(`${at}: no PodDisruptionBudget selects its pods`);
  }
  return problems;
}

/**
 * Autoscaling: the gateway and orders scale on CPU (an HPA, or KEDA's cpu trigger: KEDA makes
 * the HPA); one autoscaler per Deployment; every ScaledObject's consumers are the service's
 * group on real topics, at most one per partition; ORDERFLOW_REPLICAS covers the most pods
 * that may run (a service above 1 keeps no cache another's commit could make stale).
 */
export function scalingRules(docs: K8sObject[]): string[] {
  const problems: string[] = [];
  const env = configMapEnv(docs);
  const partitions = Number(env.ORDERFLOW_PARTITIONS);
  const ns = env.ORDERFLOW_NAMESPACE;
  const deployments = new Map(workloads(docs).map((d) => [d.metadata.name, d]));
  const scalers = [...of(docs, 'HorizontalPodAutoscaler'), ...of(docs, 'ScaledObject')];
  const onCpu = new Set<string>();
  const most = new Map<string, number>();
  for (const s of scalers) {
    const at = `${s.kind} ${s.metadata.name}`;
    const target = deployments.get(s.spec?.scaleTargetRef?.name);
    if (!target || s.spec.scaleTargetRef.kind !== target.kind || s.spec.scaleTargetRef.apiVersion !== target.apiVersion) {
      problems.push(`${at}: scales ${s.spec?.scaleTargetRef?.kind} ${s.spec?.scaleTargetRef?.name}, which the chart does not render`);
      continue;
    }
    const service = component(podLabels(target));
    if (scalers.filter((o) => o.spec?.scaleTargetRef?.name === target.metadata.name).length > 1) problems.push(`${at}: ${target.kind} ${target.metadata.name} has more than one autoscaler`);
    if (s.kind === 'HorizontalPodAutoscaler') {
      if ((s.spec.metrics ?? []).some((m: Any) => m.type === 'Resource' && m.resource?.name === 'cpu')) onCpu.add(service);
      most.set(target.metadata.name, s.spec.maxReplicas);
      continue;
    }
    const triggers: Any[] = s.spec.triggers ?? [];
    if (triggers.some((t) => t.type === 'cpu')) onCpu.add(service);
    const max = s.spec.maxReplicaCount ?? 100;
    most.set(target.metadata.name, max);
    if (!(max <= partitions)) problems.push(`${at}: maxReplicaCount ${max} exceeds the ${partitions} partitions (ORDERFLOW_PARTITIONS)`);
    const kafka = triggers.filter((t) => t.type === 'kafka');
    if (kafka.length === 0) problems.push(`${at}: no kafka trigger (consumer lag)`);
    for (const t of kafka) {
      const m = t.metadata ?? {};
      if (m.consumerGroup !== `${ns}.${service}`) problems.push(`${at}: consumerGroup ${m.consumerGroup} is not ${service}'s group ${ns}.${service}`);
      if (!allTopics.some((topic) => m.topic === `${ns}.${topic}`)) problems.push(`${at}: topic ${m.topic} is none of the platform's topics (prefixed ${ns}.)`);
      if (m.bootstrapServers !== env.KAFKA_BROKERS) problems.push(`${at}: bootstrapServers ${m.bootstrapServers} are not the services' KAFKA_BROKERS ${env.KAFKA_BROKERS}`);
      if (m.allowIdleConsumers === 'true') problems.push(`${at}: allowIdleConsumers would scale past the partitions`);
      // KEDA reads the lag over the connection the services make: the same TLS and SASL.
      const protocol = env.KAFKA_SECURITY_PROTOCOL ?? 'PLAINTEXT';
      const tls = protocol === 'SSL' || protocol === 'SASL_SSL';
      if ((m.tls === 'enable') !== tls) problems.push(`${at}: tls is ${m.tls ?? 'disable'} but the services' KAFKA_SECURITY_PROTOCOL is ${protocol}`);
      const sasl = protocol.startsWith('SASL_') ? kedaSasl[env.KAFKA_SASL_MECHANISM] : undefined;
      if ((m.sasl ?? undefined) !== sasl) problems.push(`${at}: sasl is ${m.sasl ?? 'none'} but the services use ${sasl ?? 'none'} (${protocol} ${env.KAFKA_SASL_MECHANISM ?? ''})`.trim());
      const auth = t.authenticationRef?.name;
      if (sasl && !of(docs, 'TriggerAuthentication').some((a) => a.metadata.name === auth)) problems.push(`${at}: SASL without a TriggerAuthentication the chart renders (authenticationRef ${auth ?? 'none'})`);
    }
  }
  for (const service of ['gateway', 'orders']) {
    if (workloads(docs).some((d) => component(podLabels(d)) === service) && !onCpu.has(service)) problems.push(`${service}: no HorizontalPodAutoscaler (nor KEDA cpu trigger) scales it on CPU`);
  }
  for (const d of deployments.values()) {
    const value = containers(d).flatMap((c) => c.env ?? []).find((e: Any) => e.name === 'ORDERFLOW_REPLICAS')?.value;
    const bound = Math.max(2, (most.get(d.metadata.name) ?? d.spec.replicas ?? 1) + Number((d.spec.strategy?.rollingUpdate ?? d.spec.strategy?.canary)?.maxSurge ?? 1));
    if (!(Number(value) >= bound)) problems.push(`${d.kind} ${d.metadata.name}: ORDERFLOW_REPLICAS is ${value}; up to ${bound} pods may run (replicas or autoscaler's max, plus the rolling update's surge)`);
    if (containers(d).some((c) => (c.env ?? []).some((e: Any) => e.name === 'ORDERFLOW_INSTANCE'))) problems.push(`${d.kind} ${d.metadata.name}: ORDERFLOW_INSTANCE is set; its pods share it, and one static group member id fences the others`);
  }
  if ('ORDERFLOW_INSTANCE' in env) problems.push('ConfigMap: ORDERFLOW_INSTANCE is set for every pod; one static group member id fences the others');
  return problems;
}

/**
 * Every env reference to a Secret or ConfigMap names one the render has, and a key it has (so
 * does every TriggerAuthentication's); `externalSecrets` are made outside the chart, with their
 * keys (secrets.existingSecret: secretKeys; kafka.caSecret: ca.crt).
 * The services that need a key get it: DATABASE_URL for those with a database,
 * USERS_SIGNING_KEY for users (it will not start on PostgreSQL without it).
 */
export function referenceRules(docs: K8sObject[], externalSecrets: Readonly<Record<string, readonly string[]>> = {}): string[] {
  const problems: string[] = [];
  const keysOf = (kind: string, name: string): readonly string[] | undefined => {
    if (kind === 'Secret' && Object.hasOwn(externalSecrets, name)) return externalSecrets[name];
    const found = of(docs, kind).find((o) => o.metadata.name === name);
    return found ? Object.keys({ ...found.data, ...found.stringData }) : undefined;
  };
  for (const d of workloads(docs)) {
    for (const c of containers(d)) {
      const at = `${d.kind} ${d.metadata.name}`;
      for (const from of c.envFrom ?? []) {
        const [kind, name] = from.configMapRef ? ['ConfigMap', from.configMapRef.name] : ['Secret', from.secretRef?.name];
        if (!keysOf(kind, name)) problems.push(`${at}: envFrom names ${kind} ${name}, which the chart does not render`);
      }
      for (const e of c.env ?? []) {
        const ref = e.valueFrom?.secretKeyRef ?? e.valueFrom?.configMapKeyRef;
        if (!ref) continue;
        const kind = e.valueFrom.secretKeyRef ? 'Secret' : 'ConfigMap';
        const keys = keysOf(kind, ref.name);
        if (!keys) problems.push(`${at}: ${e.name} comes from ${kind} ${ref.name}, which the chart does not render`);
        else if (!keys.includes(ref.key)) problems.push(`${at}: ${e.name} comes from key ${ref.key} of ${kind} ${ref.name}, which has only ${keys.join(', ')}`);
      }
      const names = new Set((c.env ?? []).map((e: Any) => e.name));
      const service = component(podLabels(d)) as ServiceName;
      if (databaseServices.includes(service) && !names.has('DATABASE_URL')) problems.push(`${at}: no DATABASE_URL, and ${service} keeps a database`);
      if (service === 'users' && !names.has('USERS_SIGNING_KEY')) problems.push(`${at}: no USERS_SIGNING_KEY; users will not start on PostgreSQL without it`);
    }
  }
  for (const a of of(docs, 'TriggerAuthentication')) {
    for (const ref of a.spec?.secretTargetRef ?? []) {
      const keys = keysOf('Secret', ref.name);
      if (!keys?.includes(ref.key)) problems.push(`TriggerAuthentication ${a.metadata.name}: ${ref.parameter} comes from key ${ref.key} of Secret ${ref.name}, which the chart does not render with it`);
    }
  }
  return problems;
}

/** What a Secret's key stands for when a service's settings are tried: the shape, not the secret. */
const secretStandIns: Record<string, string> = {
  DATABASE_URL: 'postgres://orderflow@postgres:5432/postgres',
  USERS_SIGNING_KEY: '{"kty":"EC","crv":"P-256"}',
  SMTP_URL: 'smtp://smtp:587',
  KAFKA_SASL_USERNAME: 'orderflow',
  KAFKA_SASL_PASSWORD: 'secret',
};

/**
 * Each Deployment's environment, as its pods would see it (the ConfigMap, then its own env,
 * a Secret's key by a stand-in of its shape), through its service's own loadConfig
 * (services/<name>/config.ts): a setting it refuses, or one it needs and lacks, fails here
 * rather than in a crash-looping pod.
 */
export async function configRules(docs: K8sObject[]): Promise<string[]> {
  const problems: string[] = [];
  const maps = new Map(of(docs, 'ConfigMap').map((c) => [c.metadata.name, c.data ?? {}]));
  for (const d of workloads(docs)) {
    const service = component(podLabels(d));
    if (!(serviceNames as readonly string[]).includes(service)) {
      problems.push(`${d.kind} ${d.metadata.name}: component ${service} is no service`);
      continue;
    }
    const c = containers(d)[0] ?? {};
    const env: Record<string, string> = {};
    for (const from of c.envFrom ?? []) if (from.configMapRef) Object.assign(env, maps.get(from.configMapRef.name));
    for (const e of c.env ?? []) env[e.name] = e.value ?? secretStandIns[e.valueFrom?.secretKeyRef?.key] ?? maps.get(e.valueFrom?.configMapKeyRef?.name)?.[e.valueFrom?.configMapKeyRef?.key] ?? '';
    const { loadConfig } = (await import(`#services/${service}/config.ts`)) as { loadConfig: (env: Record<string, string>) => unknown };
    try {
      loadConfig(env);
    } catch (err) {
      problems.push(`${d.kind} ${d.metadata.name}: ${service} refuses its settings: ${(err as Error).message}`);
    }
  }
  return problems;
}

/** Whether a label selector (matchLabels and In/NotIn/Exists/DoesNotExist expressions) selects these labels. */
export function selects(selector: Any, labels: Record<string, string>): boolean {
  if (!selector) return false;
  const expressions: Any[] = selector.matchExpressions ?? [];
  return matches(selector.matchLabels, labels) && expressions.every((e) => {
    const has = Object.hasOwn(labels, e.key);
    if (e.operator === 'In') return has && e.values.includes(labels[e.key]);
    if (e.operator === 'NotIn') return !has || !e.values.includes(labels[e.key]);
    return e.operator === 'Exists' ? has : !has;
  });
}

/**
 * With PodMonitors: each Deployment's pods are scraped by exactly one, on a port its container
 * has, the one its prometheus.io/port annotation names, and the target gets the `service`
 * label the alert rules group by.
 */
export function monitoringRules(docs: K8sObject[]): string[] {
  const monitors = of(docs, 'PodMonitor');
  if (monitors.length === 0) return [];
  const problems: string[] = [];
  for (const d of workloads(docs)) {
    const at = `${d.kind} ${d.metadata.name}`;
    const mine = monitors.filter((m) => selects(m.spec?.selector, podLabels(d)));
    if (mine.length !== 1) {
      problems.push(`${at}: ${mine.length} PodMonitors select its pods (${mine.map((m) => m.metadata.name).join(', ') || 'none'}); one should`);
      continue;
    }
    const ports: Any[] = containers(d).flatMap((c) => c.ports ?? []);
    const annotated = Number(d.spec.template.metadata?.annotations?.['prometheus.io/port']);
    for (const e of mine[0].spec.podMetricsEndpoints ?? []) {
      const port = ports.find((p) => p.name === e.port);
      if (!port) problems.push(`${at}: PodMonitor ${mine[0].metadata.name} scrapes port ${e.port}, which its container does not name`);
      else if (annotated && port.containerPort !== annotated) problems.push(`${at}: PodMonitor ${mine[0].metadata.name} scrapes ${port.containerPort}, its annotation says ${annotated}`);
      if (!(e.relabelings ?? []).some((r: Any) => r.targetLabel === 'service')) problems.push(`${at}: PodMonitor ${mine[0].metadata.name} gives its targets no service label (the alert rules group by it)`);
    }
  }
  return problems;
}

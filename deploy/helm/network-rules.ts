/**
 * The NetworkPolicies allow exactly the listed flows, no more, no less: deny by default; anyone
 * (or networkPolicy.gatewayFrom) to the gateway; the gateway to the services and the services
 * to those they call (rules.ts serviceCalls, from their *_URL settings); the services to Kafka,
 * those with a database to PostgreSQL; Prometheus to each pod's /metrics port; every pod to
 * DNS, to the collector when tracing is on; notifications to SMTP when e-mail is on.
 *
 * Each pod's allowed flows are read off the rendered policies that select it, one statement per
 * peer and port ("in pod:gateway 8081/TCP", "out kafka 9092/TCP"), and compared with the
 * statements the list makes. Peers outside the chart are named by the values they came from.
 */
import { isDeepStrictEqual } from 'node:util';
import { databaseServices, type ServiceName } from '#runtime/system.ts';
import { serviceCalls, workloads, type ChartValues, type K8sObject } from './rules.ts';

type Any = any;
type Peer = Record<string, Any>;

const externalPeers = ['kafka', 'postgres', 'dns', 'telemetry', 'smtp'] as const;

export function networkPolicyRules(docs: K8sObject[], values: ChartValues): string[] {
  const np = values.networkPolicy;
  const policies = docs.filter((d) => d.kind === 'NetworkPolicy');
  // The gateway-only release relies on its stack's policies, which select its pods too.
  if (!np?.enabled || values.gatewayOnly) return policies.length === 0 ? [] : ['NetworkPolicies rendered though networkPolicy.enabled is off (or the release is gateway-only)'];
  const pods = workloads(docs).map((d) => {
    const labels: Record<string, string> = d.spec.template.metadata.labels;
    const ports: Any[] = d.spec.template.spec.containers[0].ports ?? [];
    const port = (name: string) => ports.find((p) => p.name === name)?.containerPort;
    return { name: labels['app.kubernetes.io/component'] as ServiceName, labels, http: port('http'), metrics: port('metrics') ?? port('http') };
  });
  const problems: string[] = [];
  if (pods.length === 0) return ['no Deployment rendered'];
  const stack = pods[0].labels['app.kubernetes.io/part-of'];
  const selects = (p: K8sObject, labels: Record<string, string>) => Object.entries(p.spec?.podSelector?.matchLabels ?? {}).every(([k, v]) => labels[k] === v) && !p.spec?.podSelector?.matchExpressions;

  const denyAll = policies.find((p) => pods.every((pod) => selects(p, pod.labels)) && ['Ingress', 'Egress'].every((t) => p.spec.policyTypes?.includes(t)) && !p.spec.ingress?.length && !p.spec.egress?.length);
  if (!denyAll) problems.push('no default-deny NetworkPolicy (every pod, Ingress and Egress, no rule)');

  const peerName = (peer: Peer): string => {
    if (peer.podSelector && !peer.namespaceSelector && !peer.ipBlock) {
      const m = peer.podSelector.matchLabels ?? {};
      if (m['app.kubernetes.io/part-of'] === stack && m['app.kubernetes.io/name'] === 'orderflow' && !peer.podSelector.matchExpressions) return `pod:${m['app.kubernetes.io/component'] ?? '*'}`;
    }
    for (const list of ['prometheus', 'gatewayFrom'] as const) if ((np[list] ?? []).some((p: Peer) => isDeepStrictEqual(p, peer))) return list;
    for (const list of externalPeers) if ((np[list]?.to ?? []).some((p: Peer) => isDeepStrictEqual(p, peer))) return list;
    return `unknown:${JSON.stringify(peer)}`;
  };
  const statements = (rules: Any[] | undefined, direction: 'in' | 'out'): string[] => (rules ?? []).flatMap((rule) => {
    const peers: Peer[] | undefined = direction === 'in' ? rule.from : rule.to;
    const names = peers?.length ? peers.map(peerName) : ['anyone'];
    const ports = rule.ports?.length ? rule.ports.map((p: Any) => `${p.port ?? 'any'}/${p.protocol ?? 'TCP'}`) : ['any'];
    return names.flatMap((n) => ports.map((port: string) => `${direction} ${n} ${port}`));
  });

  const tracing = values.telemetry?.tracesExporter !== 'none';
  const mail = Boolean(values.secrets?.smtpUrl || values.secrets?.existingSecret);
  const portOf = (name: string) => pods.find((p) => p.name === name)?.http;
  for (const pod of pods) {
    const mine = policies.filter((p) => selects(p, pod.labels));
    const actual = new Set([...mine.flatMap((p) => statements(p.spec.ingress, 'in')), ...mine.flatMap((p) => statements(p.spec.egress, 'out'))]);
    const expected = new Set<string>();
    if (pod.name === 'gateway') (np.gatewayFrom?.length ? ['gatewayFrom'] : ['anyone']).forEach((n) => expected.add(`in ${n} ${pod.http}/TCP`));
    for (const [caller, callees] of Object.entries(serviceCalls)) if (callees.includes(pod.name)) expected.add(`in pod:${caller} ${pod.http}/TCP`);
    expected.add(`in prometheus ${pod.metrics}/TCP`);
    for (const port of np.dns.ports) ['UDP', 'TCP'].forEach((proto) => expected.add(`out dns ${port}/${proto}`));
    for (const callee of serviceCalls[pod.name] ?? []) expected.add(`out pod:${callee} ${portOf(callee)}/TCP`);
    // Every pod reads or writes Kafka: the gateway only tails it (the admin's live view of every topic).
    const reaches = { kafka: true, postgres: databaseServices.includes(pod.name), telemetry: tracing, smtp: pod.name === 'notifications' && mail };
    for (const list of ['kafka', 'postgres', 'telemetry', 'smtp'] as const) if (reaches[list]) for (const port of np[list].ports) expected.add(`out ${list} ${port}/TCP`);
    for (const s of expected) if (!actual.has(s)) problems.push(`${pod.name}: the NetworkPolicies do not allow "${s}", a listed flow`);
    for (const s of actual) if (!expected.has(s)) problems.push(`${pod.name}: the NetworkPolicies allow "${s}", which is no listed flow`);
  }
  return problems;
}

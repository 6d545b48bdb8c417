/**
 * Overview (admin): the system as it runs, from GET /api/admin/overview every 2 s (and the
 * public GET /health): the architecture and deployment, a live diagram of who publishes
 * to which topic and which consumer group reads it (diagram.tsx), and per service its
 * health, instances, outbox backlog, circuit state and consumers' lag and message rates
 * (the growth of `handled` between two polls).
 */
import { useRef, useState } from 'preact/hooks';
import { attempt, type ApiError, type Health, type Overview } from '../api.ts';
import { rateText, time } from '../format.ts';
import { usePoll } from '../hooks.ts';
import { Diagram, type Rates } from './diagram.tsx';

const POLL_MS = 2_000;

export function OverviewPage() {
  const [overview, setOverview] = useState<Overview>();
  const [error, setError] = useState<ApiError>();
  const [health, setHealth] = useState<Health>();
  const [rates, setRates] = useState<Rates>(new Map());
  // A gateway without the overview (404) is not asked again; /health still is.
  const missing = useRef(false);
  const previous = useRef<{ at: number; handled: Map<string, number> } | undefined>(undefined);

  usePoll(async (signal) => {
    const [o, h] = await Promise.all([
      missing.current ? Promise.resolve(undefined) : attempt<Overview>('/api/admin/overview', { signal }),
      // 503 when a service is down: the body says which, and is shown all the same.
      fetch('/health', { signal, headers: { accept: 'application/json' } }).then((r) => r.json() as Promise<Health>).catch(() => undefined),
    ]);
    if (signal.aborted) return;
    setHealth(h);
    if (o === undefined) return;
    if (!o.ok) {
      if (o.error.status === 404) missing.current = true;
      return setError(o.error);
    }
    setError(undefined);
    setOverview(o.value);
    const at = Date.parse(o.value.at) || Date.now();
    const handled = new Map(o.value.services.flatMap((s) => s.consumers.map((c) => [`${c.groupId} ${c.topic}`, c.handled] as const)));
    const prev = previous.current;
    if (prev && at > prev.at) {
      const next: Rates = new Map();
      for (const [k, n] of handled) {
        const before = prev.handled.get(k);
        if (before !== undefined) next.set(k, Math.max(0, (n - before) / ((at - prev.at) / 1000)));
      }
      setRates(next);
    }
    previous.current = { at, handled };
  }, POLL_MS, []);

  return (
    <div class="overview">
      {error && (error.status === 404
        ? <p class="notice" role="status" data-testid="overview-unavailable">The overview is not available on this gateway (GET /api/admin/overview answered 404); the services' health below is from /health.</p>
        : <p class="error" role="alert" data-testid="overview-error">{error.message} ({error.code})</p>)}
      {overview && (
        <section class="system" aria-label="System">
          <dl class="facts inline">
            <dt>Architecture</dt><dd data-testid="overview-architecture">{overview.architecture}</dd>
            <dt>Bus</dt><dd data-testid="overview-bus">{overview.deployment.bus}</dd>
            <dt>Store</dt><dd data-testid="overview-store">{overview.deployment.store}</dd>
            <dt>Tracing</dt>
            <dd data-testid="overview-tracing">{overview.tracing ? <a href={`${overview.tracing.zipkinUrl}/zipkin/`} target="_blank" rel="noopener noreferrer">Zipkin</a> : 'off'}</dd>
            <dt>As of</dt><dd data-testid="overview-at">{time(overview.at)}</dd>
          </dl>
          <p class="muted">{architectureText[overview.architecture] ?? ''}</p>
        </section>
      )}
      {overview && <Diagram overview={overview} rates={rates} />}
      <ServicesTable overview={overview} health={health} rates={rates} />
    </div>
  );
}

const architectureText: Record<string, string> = {
  events: 'The orders service orchestrates the saga over the bus: commands out, replies back.',
  choreography: 'No orchestrator: each service reacts to the events of the one before.',
  rest: 'The orders service calls inventory, payments and shipping over HTTP inside the request.',
};

function ServicesTable(props: { overview?: Overview; health?: Health; rates: Rates }) {
  const names = [...new Set([...Object.keys(props.health?.services ?? {}), ...(props.overview?.services.map((s) => s.name) ?? [])])].sort();
  const circuit = (name: string) => props.overview?.circuits.filter((c) => c.to === name) ?? [];
  return (
    <section aria-label="Services">
      <h2>Services {props.health && <span class={`badge health-${props.health.status}`} data-testid="health-status">{props.health.status}</span>}</h2>
      <table class="services">
        <thead><tr><th>Service</th><th>Health</th><th>Instances</th><th>Outbox backlog</th><th>Circuit (gateway →)</th><th>Consumers: group · topic · lag · rate</th></tr></thead>
        <tbody>
          {names.map((name) => {
            const s = props.overview?.services.find((x) => x.name === name);
            const up = props.health?.services[name] ?? s?.status;
            return (
              <tr key={name} data-testid="service-row" data-name={name} data-status={up ?? ''}>
                <td>{name}</td>
                <td><span class={`dot ${up === 'up' ? 'up' : up === 'down' ? 'down' : ''}`} />{up ?? '?'}</td>
                <td class="num">{s?.instances ?? ''}</td>
                <td class="num">{s?.outboxBacklog ?? ''}</td>
                <td>{circuit(name).map((c) => <span key={c.from} class={`badge circuit-${c.state}`} data-testid="circuit-state" data-to={c.to}>{c.state}</span>)}</td>
                <td>
                  {s?.consumers.map((c) => (
                    <div key={`${c.groupId} ${c.topic}`} class="consumer" data-testid="consumer-row" data-group={c.groupId} data-topic={c.topic}>
                      {c.groupId} · {c.topic} · <span class={c.lag > 0 ? 'warn' : ''}>lag {c.lag}</span> · {rateText(props.rates.get(`${c.groupId} ${c.topic}`))}
                    </div>
                  ))}
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
    </section>
  );
}

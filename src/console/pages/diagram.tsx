/**
 * The topology as an SVG drawn here: on the left the services that publish (each topic's
 * owner, from the contracts), in the middle the topics, on the right the consumer groups
 * that read them, with their service. An edge owner → topic → group; a group's edge says its
 * lag and rate on that topic. Colours: a service up or down; a group by its lag. Rows are
 * ordered so that edges cross little: topics by owner, groups by the topics they read.
 */
import type { Overview } from '../api.ts';
import { rateText } from '../format.ts';

/** Messages a second, by `${groupId} ${topic}`. */
export type Rates = Map<string, number>;

const ROW = 30;
const BOX_H = 22;
const COL = { owner: 10, topic: 220, group: 600 } as const;
const WIDTH = { owner: 130, topic: 280, group: 270 } as const;
const SVG_W = COL.group + WIDTH.group + 10;

function column(names: string[], height: number): Map<string, number> {
  const gap = height / Math.max(1, names.length);
  return new Map(names.map((n, i) => [n, gap * i + gap / 2]));
}

function edge(x1: number, y1: number, x2: number, y2: number): string {
  const mid = (x1 + x2) / 2;
  return `M${x1},${y1} C${mid},${y1} ${mid},${y2} ${x2},${y2}`;
}

const lagClass = (lag: number) => (lag === 0 ? 'lag-none' : lag < 100 ? 'lag-some' : 'lag-high');

export function Diagram(props: { overview: Overview; rates: Rates }) {
  const { overview, rates } = props;
  const statusOf = new Map(overview.services.map((s) => [s.name, s.status]));
  const serviceOfGroup = new Map<string, string>();
  const consumption = new Map<string, { lag: number; handled: number }>();
  for (const s of overview.services) {
    for (const c of s.consumers) {
      serviceOfGroup.set(c.groupId, s.name);
      consumption.set(`${c.groupId} ${c.topic}`, { lag: c.lag, handled: c.handled });
    }
  }
  const topics = [...overview.topics].sort((a, b) => a.owner.localeCompare(b.owner) || a.name.localeCompare(b.name));
  const owners = [...new Set(topics.map((t) => t.owner))];
  const topicIndex = new Map(topics.map((t, i) => [t.name, i]));
  const reads = new Map<string, string[]>();
  for (const t of topics) for (const g of t.consumers) reads.set(g, [...(reads.get(g) ?? []), t.name]);
  // A group's place: the mean place of the topics it reads.
  const groups = [...reads.keys()].sort((a, b) => barycentre(reads.get(a)!, topicIndex) - barycentre(reads.get(b)!, topicIndex) || a.localeCompare(b));

  const height = Math.max(topics.length, groups.length, owners.length, 1) * ROW + 10;
  const ownerY = column(owners, height);
  const topicY = column(topics.map((t) => t.name), height);
  const groupY = column(groups, height);
  const groupLag = (g: string) => (reads.get(g) ?? []).reduce((n, t) => n + (consumption.get(`${g} ${t}`)?.lag ?? 0), 0);
  const groupRate = (g: string) => {
    const known = (reads.get(g) ?? []).map((t) => rates.get(`${g} ${t}`)).filter((r): r is number => r !== undefined);
    return known.length === 0 ? undefined : known.reduce((a, b) => a + b, 0);
  };

  return (
    <section class="diagram" aria-label="Topology">
      <svg viewBox={`0 0 ${SVG_W} ${height}`} width="100%" role="img" aria-label="Services, topics and consumer groups" data-testid="overview-diagram">
        <g class="edges">
          {topics.map((t) => (
            <path key={`o-${t.name}`} class="edge" d={edge(COL.owner + WIDTH.owner, ownerY.get(t.owner)!, COL.topic, topicY.get(t.name)!)} />
          ))}
          {topics.flatMap((t) => t.consumers.map((g) => {
            const c = consumption.get(`${g} ${t.name}`);
            return (
              <path key={`c-${t.name}-${g}`} class={`edge ${c ? lagClass(c.lag) : 'unknown'}`} data-testid="diagram-edge" data-topic={t.name} data-group={g}
                d={edge(COL.topic + WIDTH.topic, topicY.get(t.name)!, COL.group, groupY.get(g)!)}>
                <title>{`${t.name} → ${g}: ${c ? `lag ${c.lag}, ${c.handled} handled, ${rateText(rates.get(`${g} ${t.name}`))}` : 'no consumer reported'}`}</title>
              </path>
            );
          }))}
        </g>
        {owners.map((o) => (
          <Node key={o} kind="service" name={o} x={COL.owner} y={ownerY.get(o)!} w={WIDTH.owner} label={o}
            cls={`service ${statusOf.get(o) ?? 'unknown'}`} status={statusOf.get(o)} title={`${o}: ${statusOf.get(o) ?? 'not reported'}`} />
        ))}
        {topics.map((t) => (
          <Node key={t.name} kind="topic" name={t.name} x={COL.topic} y={topicY.get(t.name)!} w={WIDTH.topic} label={t.name} cls="topic" title={`${t.name}, owned by ${t.owner}`} round />
        ))}
        {groups.map((g) => {
          const service = serviceOfGroup.get(g);
          const lag = groupLag(g);
          const status = service ? statusOf.get(service) : undefined;
          return (
            <Node key={g} kind="group" name={g} x={COL.group} y={groupY.get(g)!} w={WIDTH.group}
              label={`${g}${service && service !== g ? ` · ${service}` : ''}`} sub={`lag ${lag} · ${rateText(groupRate(g))}`}
              cls={`group ${lagClass(lag)} ${status ?? 'unknown'}`} status={status} title={`${g} (${service ?? 'no service reports it'}): lag ${lag}`} />
          );
        })}
      </svg>
      <p class="legend muted">
        <span class="dot up" /> up <span class="dot down" /> down · edges to groups: <span class="swatch lag-none" /> no lag <span class="swatch lag-some" /> lag <span class="swatch lag-high" /> lag ≥ 100
      </p>
    </section>
  );
}

function barycentre(topics: string[], index: Map<string, number>): number {
  return topics.reduce((n, t) => n + (index.get(t) ?? 0), 0) / Math.max(1, topics.length);
}

function Node(props: { kind: string; name: string; x: number; y: number; w: number; label: string; sub?: string; cls: string; title: string; status?: string; round?: boolean }) {
  const h = props.sub ? BOX_H + 4 : BOX_H;
  return (
    <g class={`node ${props.cls}`} data-testid={`diagram-${props.kind}`} data-name={props.name} data-status={props.status}>
      <title>{props.title}</title>
      <rect x={props.x} y={props.y - h / 2} width={props.w} height={h} rx={props.round ? h / 2 : 4} />
      <text x={props.x + 8} y={props.sub ? props.y - 2 : props.y + 4}>{clip(props.label, props.w)}</text>
      {props.sub && <text class="sub" x={props.x + 8} y={props.y + 9}>{props.sub}</text>}
    </g>
  );
}

const clip = (s: string, w: number) => {
  const max = Math.floor((w - 12) / 6.6);
  return s.length > max ? `${s.slice(0, max - 1)}…` : s;
};

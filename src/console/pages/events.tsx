/**
 * Events (admin): the live tail of every topic (GET /api/admin/events/stream, server-sent
 * events), filtered by topic, type, key or order; a record's payload and headers; and the
 * dead letters, each with its error, to replay or discard.
 */
import { useEffect, useState } from 'preact/hooks';
import { authHeaders, type TailRecord } from '../api.ts';
import { pretty, time } from '../format.ts';
import { session } from '../session.ts';
import { openStream, type StreamState } from '../sse.ts';
import { DeadLetters } from './dead-letters.tsx';

/** Rows kept on screen: the newest. */
const KEPT = 500;
const filterNames = ['topic', 'type', 'key', 'order'] as const;
type Filters = Record<(typeof filterNames)[number], string>;
const noFilters: Filters = { topic: '', type: '', key: '', order: '' };

interface Row { cursor: string; record: TailRecord }

export function EventsPage() {
  const [draft, setDraft] = useState<Filters>(noFilters);
  const [filters, setFilters] = useState<Filters>(noFilters);
  const [rows, setRows] = useState<Row[]>([]);
  const [state, setState] = useState<StreamState>('connecting');
  const [error, setError] = useState<{ status: number; message: string }>();
  const [paused, setPaused] = useState(false);
  const [selected, setSelected] = useState<Row>();

  useEffect(() => {
    if (paused) return;
    setRows([]);
    setSelected(undefined);
    setError(undefined);
    // Under load thousands of records a second arrive: they are shown in batches, ten times a
    // second, not one render each.
    let arrived: Row[] = [];
    let timer: ReturnType<typeof setTimeout> | undefined;
    const flushSoon = () => {
      timer ??= setTimeout(() => {
        timer = undefined;
        const batch = arrived.reverse();
        arrived = [];
        setRows((old) => {
          const seen = new Set(old.map((r) => r.cursor));
          const fresh = batch.filter((r) => !seen.has(r.cursor) && Boolean(seen.add(r.cursor)));
          return [...fresh, ...old].slice(0, KEPT);
        });
      }, 100);
    };
    const query = new URLSearchParams(Object.entries(filters).filter(([, v]) => v.trim() !== '').map(([k, v]) => [k, v.trim()]));
    const stream = openStream({
      url: `/api/admin/events/stream${query.size > 0 ? `?${query}` : ''}`,
      headers: authHeaders,
      onEvent: (ev) => {
        if (ev.event !== 'record') return;
        const record = JSON.parse(ev.data) as TailRecord;
        arrived.push({ cursor: ev.id ?? `${record.topic}/${record.partition}/${record.offset}`, record });
        flushSoon();
      },
      onState: (s, err) => {
        setState(s);
        if (err) setError({ status: err.status, message: `${err.message} (${err.code})` });
      },
      onRefused: async (err) => err.status === 401 && session.refresh(),
    });
    return () => {
      stream.close();
      clearTimeout(timer);
    };
  }, [filters, paused]);

  const apply = (e: Event) => {
    e.preventDefault();
    setFilters({ ...draft });
  };

  return (
    <div class="events">
      <section aria-label="Live tail">
        <header class="section-head">
          <h2>Live tail</h2>
          <span class={`stream-state state-${paused ? 'closed' : state}`} data-testid="tail-state">{paused ? 'paused' : state === 'open' ? 'live' : state}</span>
          <button type="button" onClick={() => setPaused(!paused)} data-testid="tail-pause">{paused ? 'Resume' : 'Pause'}</button>
          <button type="button" onClick={() => setRows([])}>Clear</button>
        </header>
        <form class="filters" onSubmit={apply} aria-label="Tail filters">
          {filterNames.map((name) => (
            <label key={name}>
              {name}
              <input name={name} value={draft[name]} placeholder={placeholders[name]} data-testid={`tail-filter-${name}`}
                onInput={(e) => setDraft({ ...draft, [name]: e.currentTarget.value })} />
            </label>
          ))}
          <button type="submit" data-testid="tail-apply">Apply</button>
          <button type="button" onClick={() => { setDraft(noFilters); setFilters(noFilters); }}>Reset</button>
        </form>
        {error && (error.status === 404
          ? <p class="notice" role="status" data-testid="tail-unavailable">The live tail is not available on this gateway (GET /api/admin/events/stream answered 404).</p>
          : <p class="error" role="alert" data-testid="tail-error">{error.message}</p>)}
        <div class="tail-and-detail">
          <div class="tail-scroll">
            <table class="tail" data-testid="tail" aria-label="Records, newest first">
              <thead><tr><th>Time</th><th>Topic</th><th>P/offset</th><th>Type</th><th>Key</th></tr></thead>
              <tbody>
                {rows.map((row) => {
                  const r = row.record;
                  return (
                    <tr key={row.cursor} data-testid="tail-row" data-topic={r.topic} data-type={r.type ?? ''} data-key={r.key ?? ''}
                      class={`${selected?.cursor === row.cursor ? 'selected' : ''} ${r.topic.endsWith('.dlq') ? 'dlq' : ''}`}
                      tabIndex={0} aria-selected={selected?.cursor === row.cursor}
                      onClick={() => setSelected(row)} onKeyDown={(e) => { if (e.key === 'Enter') setSelected(row); }}>
                      <td>{time(r.occurredAt)}</td>
                      <td>{r.topic}</td>
                      <td class="num">{r.partition}/{String(r.offset)}</td>
                      <td>{r.type ?? <span class="warn">not a message</span>}</td>
                      <td><code>{r.key ?? ''}</code></td>
                    </tr>
                  );
                })}
              </tbody>
            </table>
            {rows.length === 0 && state === 'open' && <p class="muted">Waiting for records…</p>}
          </div>
          {selected && <RecordDetail row={selected} onClose={() => setSelected(undefined)} />}
        </div>
      </section>
      <DeadLetters />
    </div>
  );
}

const placeholders: Filters = { topic: 'orders.events', type: 'OrderPlaced', key: 'a record key', order: 'an order id' };

function RecordDetail(props: { row: Row; onClose: () => void }) {
  const r = props.row.record;
  return (
    <aside class="record" data-testid="record-detail" aria-label="Record">
      <header class="section-head">
        <h3>{r.type ?? 'record'} <span class="muted">v{r.version ?? '?'}</span></h3>
        <button type="button" class="link" onClick={props.onClose} aria-label="Close the record">close</button>
      </header>
      <dl class="facts">
        <dt>Topic</dt><dd>{r.topic} · partition {r.partition} · offset {String(r.offset)}</dd>
        <dt>Key</dt><dd><code>{r.key}</code></dd>
        <dt>Id</dt><dd><code>{r.id}</code></dd>
        <dt>Occurred</dt><dd>{r.occurredAt}</dd>
      </dl>
      <h4>Payload</h4>
      <pre data-testid="record-payload">{pretty(r.payload)}</pre>
      <h4>Headers</h4>
      <pre data-testid="record-headers">{pretty(r.headers)}</pre>
    </aside>
  );
}

/**
 * The dead letters of every consuming service (GET /api/admin/dead-letters), pending ones by
 * default, each with its error, and a Replay (POST /api/admin/dead-letters/replay) and a
 * Discard (POST /api/admin/dead-letters/discard) of its own. Refreshed every 5 s.
 */
import { useState } from 'preact/hooks';
import { api, attempt, errorText, type DeadLetter } from '../api.ts';
import { dateTime, pretty } from '../format.ts';
import { usePoll } from '../hooks.ts';

const states = ['pending', 'replayed', 'discarded', 'all'] as const;

export function DeadLetters() {
  const [state, setState] = useState<(typeof states)[number]>('pending');
  const [letters, setLetters] = useState<DeadLetter[]>();
  const [error, setError] = useState<string>();
  const [note, setNote] = useState<string>();
  const [busy, setBusy] = useState<string>();
  const [tick, setTick] = useState(0);

  usePoll(async (signal) => {
    const r = await attempt<{ deadLetters: DeadLetter[] }>(`/api/admin/dead-letters?state=${state}&limit=100`, { signal });
    if (signal.aborted) return;
    if (r.ok) setLetters(r.value.deadLetters);
    setError(r.ok ? undefined : errorText(r.error));
  }, 5_000, [state, tick]);

  const act = async (action: 'replay' | 'discard', letter: DeadLetter) => {
    setBusy(letter.id);
    setNote(undefined);
    try {
      const answer = await api<{ replayed?: string[]; discarded?: string[] }>(`/api/admin/dead-letters/${action}`, { method: 'POST', body: { ids: [letter.id] } });
      const done = (action === 'replay' ? answer.replayed : answer.discarded) ?? [];
      setNote(done.includes(letter.id)
        ? `${action === 'replay' ? 'Replayed' : 'Discarded'} ${letter.type ?? 'the record'} of ${letter.originalTopic} (key ${letter.key}).`
        : `Nothing to ${action}: it was no longer pending.`);
    } catch (err) {
      setNote(`${action} failed: ${errorText(err)}`);
    } finally {
      setBusy(undefined);
      setTick((t) => t + 1);
    }
  };

  return (
    <section class="dead-letters" aria-label="Dead letters" data-testid="dead-letters">
      <header class="section-head">
        <h2>Dead letters</h2>
        <select aria-label="Dead letter state" value={state} onChange={(e) => setState(e.currentTarget.value as (typeof states)[number])} data-testid="dead-letter-state">
          {states.map((s) => <option key={s} value={s}>{s}</option>)}
        </select>
        <button type="button" onClick={() => setTick((t) => t + 1)} data-testid="dead-letters-refresh">Refresh</button>
      </header>
      {note && <p class="notice" role="status" data-testid="dead-letter-note">{note}</p>}
      {error && <p class="error" role="alert">{error}</p>}
      {letters?.length === 0 && <p class="muted" data-testid="dead-letters-empty">No {state === 'all' ? '' : `${state} `}dead letters.</p>}
      {letters && letters.length > 0 && (
        <table class="dead-letter-table">
          <thead><tr><th>Failed</th><th>Service / group</th><th>Topic</th><th>Type</th><th>Key</th><th>Error</th><th>Attempts</th><th>State</th><th /></tr></thead>
          <tbody>
            {letters.map((d) => (
              <tr key={d.id} data-testid="dead-letter-row" data-id={d.id} data-topic={d.originalTopic} data-type={d.type ?? ''} data-key={d.key} data-state={d.state}>
                <td>{dateTime(d.failedAt)}</td>
                <td>{d.service}{d.group ? <div class="muted">{d.group}</div> : <div class="muted">{d.origin}</div>}</td>
                <td>{d.originalTopic}{d.partition !== null && <span class="muted"> {d.partition}/{d.offset}</span>}</td>
                <td>{d.type ?? <span class="warn">not a message</span>}</td>
                <td><code>{d.key}</code></td>
                <td class="dl-error" data-testid="dead-letter-error">
                  <code>{d.error.code}</code> {d.error.message}
                  {d.payload !== null && d.payload !== undefined && <details><summary>payload</summary><pre>{pretty(d.payload)}</pre></details>}
                </td>
                <td class="num">{d.attempts}</td>
                <td>{d.state}</td>
                <td class="actions">
                  {d.state === 'pending' && (
                    <>
                      <button type="button" data-testid="dead-letter-replay" disabled={busy !== undefined} onClick={() => void act('replay', d)}>Replay</button>
                      <button type="button" data-testid="dead-letter-discard" disabled={busy !== undefined} onClick={() => void act('discard', d)}>Discard</button>
                    </>
                  )}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </section>
  );
}

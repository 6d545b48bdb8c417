/**
 * The caller's notifications, live: the latest from GET /api/me/notifications, then the
 * stream (GET /api/me/notifications/stream) from the newest of them on, so none falls in
 * between; a dropped stream resumes with Last-Event-ID (sse.ts).
 */
import { useEffect, useState } from 'preact/hooks';
import { attempt, authHeaders, type Notification } from '../api.ts';
import { dateTime } from '../format.ts';
import { session } from '../session.ts';
import { openStream, type StreamState } from '../sse.ts';

const SHOWN = 20;

export function Notifications() {
  const [items, setItems] = useState<Notification[]>([]);
  const [state, setState] = useState<StreamState>('connecting');
  const [error, setError] = useState<string>();

  useEffect(() => {
    let closed = false;
    let stream: { close(): void } | undefined;
    void (async () => {
      const first = await attempt<{ notifications: Notification[] }>('/api/me/notifications?limit=10');
      if (closed) return;
      if (!first.ok) {
        setState('failed');
        return setError(first.error.message);
      }
      setItems(first.value.notifications);
      stream = openStream({
        url: '/api/me/notifications/stream',
        headers: authHeaders,
        // From the newest shown; with none yet, from the start (cursor 0): a new account's first few.
        lastEventId: first.value.notifications[0]?.cursor ?? '0',
        onEvent: (ev) => {
          if (ev.event !== 'notification') return;
          const n = JSON.parse(ev.data) as Notification;
          setItems((old) => (old.some((o) => o.id === n.id) ? old : [n, ...old].slice(0, SHOWN)));
        },
        onState: (s, err) => {
          setState(s);
          setError(err?.message);
        },
        onRefused: async (err) => err.status === 401 && session.refresh(),
      });
    })();
    return () => {
      closed = true;
      stream?.close();
    };
  }, []);

  return (
    <section class="notifications" aria-label="Notifications" data-testid="notifications">
      <header class="section-head">
        <h2>Notifications</h2>
        <span class={`stream-state state-${state}`} data-testid="notifications-state">{state === 'open' ? 'live' : state}</span>
      </header>
      {error && <p class="error" role="alert">{error}</p>}
      {items.length === 0 ? <p class="muted">None yet: they come as your orders are confirmed, cancelled, shipped.</p> : (
        <ul class="notification-list">
          {items.map((n) => (
            <li key={n.id} data-testid="notification" data-kind={n.kind} data-order-id={n.data.orderId}>
              <strong>{n.subject}</strong>
              <span class="muted"> · {dateTime(n.occurredAt)}</span>
              <div>{n.text}</div>
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}

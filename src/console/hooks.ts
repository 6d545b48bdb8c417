/** The hooks the pages share: the session, the route, polling, a stream. */
import { useEffect, useRef, useState } from 'preact/hooks';
import { session, type Session } from './session.ts';

export function useSession(): Session | undefined {
  const [s, setS] = useState(session.get());
  useEffect(() => session.subscribe(setS), []);
  return s;
}

/** The hash route, split: `#/orders/abc` is ['orders', 'abc']. */
export function useRoute(): string[] {
  const parse = () => location.hash.replace(/^#\/?/, '').split('?')[0].split('/').filter(Boolean).map(decodeURIComponent);
  const [route, setRoute] = useState(parse);
  useEffect(() => {
    const on = () => setRoute(parse());
    addEventListener('hashchange', on);
    return () => removeEventListener('hashchange', on);
  }, []);
  return route;
}

export const navigate = (path: string): void => {
  location.hash = `#/${path}`;
};

/**
 * Calls `tick` now and then every `ms` while `active`, one call at a time (a slow answer
 * delays the next rather than piling calls up). `deps` restart it.
 */
export function usePoll(tick: (signal: AbortSignal) => Promise<unknown>, ms: number, deps: unknown[], active = true): void {
  const latest = useRef(tick);
  latest.current = tick;
  useEffect(() => {
    if (!active) return;
    const abort = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const loop = async () => {
      try {
        await latest.current(abort.signal);
      } catch {
        // The tick shows its own errors; polling goes on.
      }
      if (!abort.signal.aborted) timer = setTimeout(() => void loop(), ms);
    };
    void loop();
    return () => {
      abort.abort();
      clearTimeout(timer);
    };
  }, [...deps, active, ms]);
}

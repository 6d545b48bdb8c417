/**
 * Live progress on stderr while load runs: on a terminal one line rewritten every second,
 * otherwise (a log file, CI) a plain line every 5 s.
 */
import type { OrderRun } from './order-run.ts';

export interface Progress {
  /** Reports on `run` until the returned function is called. */
  watch(label: string, run: OrderRun, origin: number, lag: () => number | null): () => void;
}

export const silentProgress: Progress = { watch: () => () => {} };

export function stderrProgress(stream: NodeJS.WriteStream = process.stderr): Progress {
  const tty = stream.isTTY === true;
  return {
    watch(label, run, origin, lag) {
      let last = { offered: 0, accepted: 0, completed: 0 };
      let ticks = 0;
      const line = () => {
        const t = run.totals();
        const elapsed = (performance.now() - origin) / 1000;
        const l = lag();
        const text = `${label} ${elapsed.toFixed(0)}s  offered ${t.offered - last.offered}/s  accepted ${t.accepted - last.accepted}/s  completed ${t.completed - last.completed}/s  errors ${t.failed}  in flight ${t.inFlight}  pending ${t.pending}${l === null ? '' : `  lag ${l}`}  p99 ${run.completion.percentile(99).toFixed(0)} ms`;
        last = { offered: t.offered, accepted: t.accepted, completed: t.completed };
        return text;
      };
      const timer = setInterval(() => {
        ticks++;
        const text = line();
        if (tty) stream.write(`\r\x1b[K${text}`);
        else if (ticks % 5 === 0) stream.write(`${text}\n`);
      }, 1000);
      timer.unref();
      return () => {
        clearInterval(timer);
        if (tty) stream.write('\r\x1b[K');
      };
    },
  };
}

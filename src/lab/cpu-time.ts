/**
 * Exact CPU time of the watched processes, for CPU milliseconds per order: cumulative CPU
 * read from /proc/<pid>/stat before and after a step, not percentages averaged over
 * samples. utime + stime are the process's own (all its threads: the JVM's, libuv's);
 * for PostgreSQL the postmaster's cutime + cstime add the backends it has reaped, so the
 * delta over a step holds every backend that ran in it, including those that started or
 * ended mid-step (a backend alive at the start and gone at the end: its time before the
 * step is in the first reading, its whole life in the second).
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import type { Watched } from './sampler.ts';

/** Per watched name: its processes' cumulative CPU in ms, by pid, at one moment. */
export type CpuSnapshot = Map<string, Map<number, number>>;

let ticksPerSecond: number | undefined;
function clockTicks(): number {
  if (ticksPerSecond === undefined) {
    try {
      ticksPerSecond = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
    } catch {
      ticksPerSecond = 100; // Linux's USER_HZ on every common architecture
    }
  }
  return ticksPerSecond;
}

/**
 * The cumulative CPU of one /proc/<pid>/stat line, in clock ticks: utime + stime, plus
 * cutime + cstime when `withChildren`. The command name (field 2) may hold spaces and
 * parentheses, so fields are counted from the last ')'.
 */
export function parseStatTicks(stat: string, withChildren: boolean): number | null {
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  // fields[0] is field 3 (state): utime is field 14, stime 15, cutime 16, cstime 17.
  const [utime, stime, cutime, cstime] = [11, 12, 13, 14].map((i) => Number(fields[i]));
  if (![utime, stime, cutime, cstime].every(Number.isFinite)) return null;
  return utime + stime + (withChildren ? cutime + cstime : 0);
}

function cpuMsOf(pid: number, withChildren: boolean): number | null {
  try {
    const ticks = parseStatTicks(readFileSync(`/proc/${pid}/stat`, 'utf8'), withChildren);
    return ticks === null ? null : (ticks * 1000) / clockTicks();
  } catch {
    return null; // gone between listing and reading
  }
}

export function cpuSnapshot(watched: Watched[]): CpuSnapshot {
  const out: CpuSnapshot = new Map();
  for (const w of watched) {
    const byPid = new Map<number, number>();
    w.pids().forEach((pid, i) => {
      const ms = cpuMsOf(pid, !!w.reapsChildren && i === 0);
      if (ms !== null) byPid.set(pid, ms);
    });
    out.set(w.name, byPid);
  }
  return out;
}

/**
 * CPU ms each watched name used between two snapshots. Reaping groups (PostgreSQL) are
 * compared as totals (a reaped backend's time moved into the postmaster's); others pid by
 * pid, so a process restarted in between counts from its start rather than going negative.
 */
export function cpuDelta(before: CpuSnapshot, after: CpuSnapshot, reaping: ReadonlySet<string>): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name, now] of after) {
    const then = before.get(name) ?? new Map<number, number>();
    let ms = 0;
    if (reaping.has(name)) {
      const sum = (m: Map<number, number>) => [...m.values()].reduce((a, b) => a + b, 0);
      ms = sum(now) - sum(then);
    } else {
      for (const [pid, v] of now) ms += v - Math.min(v, then.get(pid) ?? 0);
    }
    out[name] = Math.max(0, ms);
  }
  return out;
}

/**
 * Lab runs started from the console: `orderflow lab --quick` as a child process of the
 * `orderflow up` that serves the console, one at a time, its output kept as progress and its
 * reports listed. A child process, not a call: a lab run starts whole systems of its own and
 * loads them to saturation; a crash or a Ctrl-C of it must not touch the system it was
 * started from, and its CPU is its own.
 *
 * Each run has a folder `<dir>/<id>/` with `run.json` (what was asked, how it ended) and the
 * lab's `<timestamp>/` folder with report.html, report.json and summary.md. Runs of earlier
 * `up`s are listed from those folders; a run whose `up` died while it ran reads as stopped.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, readdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { v7 as uuidv7 } from 'uuid';
import { architectures, type Architecture } from '#platform/config.ts';
import { defineError } from '#platform/errors.ts';

export const LabBusy = defineError('PLT_ERR_LAB_BUSY', 409);
export const LabRunNotFound = defineError('PLT_ERR_LAB_RUN_NOT_FOUND', 404);
export const LabReportNotFound = defineError('PLT_ERR_LAB_REPORT_NOT_FOUND', 404);

/** The files a lab run writes, the only ones served. */
export const labReportNames = ['summary.md', 'report.html', 'report.json'] as const;
export type LabReportName = (typeof labReportNames)[number];

export interface LabRunRequest {
  arch: Architecture;
  /** The fault scenarios (kill -9 and added latency on payments) after the load steps. */
  faults: boolean;
}

export interface LabRunView extends LabRunRequest {
  id: string;
  status: 'running' | 'passed' | 'failed' | 'stopped';
  startedAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  /** The command's last output lines, oldest first. */
  progress: string[];
  /** Which of labReportNames the run wrote. */
  reports: LabReportName[];
}

export interface LabRuns {
  start(req: LabRunRequest): LabRunView;
  list(): LabRunView[];
  get(id: string): LabRunView;
  /** The path of one report of a run; LabReportNotFound when it did not write it. */
  reportPath(id: string, name: string): string;
  /** Stops a run in progress (SIGTERM: the lab stops its systems) and waits for it. */
  close(): Promise<void>;
}

const cli = fileURLToPath(new URL('../cli.ts', import.meta.url));
const ID = /^[0-9a-f-]{36}$/;

export function createLabRuns(opts: { dir: string; maxProgressLines?: number; command?: (req: LabRunRequest, out: string) => { file: string; args: string[] } }): LabRuns {
  const maxLines = opts.maxProgressLines ?? 200;
  const command = opts.command ?? ((req, out) => ({ file: process.execPath, args: [cli, 'lab', '--quick', '--arch', req.arch, ...(req.faults ? [] : ['--no-faults']), '--out', out] }));
  const live = new Map<string, { view: LabRunView; child: ChildProcess; done: Promise<void> }>();

  const runDir = (id: string) => join(opts.dir, id);
  // The lab writes into <out>/<timestamp>/: the newest such folder is the run's.
  const reportsDir = (id: string): string | undefined => {
    const dir = runDir(id);
    if (!existsSync(dir)) return undefined;
    const stamps = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name).sort();
    return stamps.length > 0 ? join(dir, stamps[stamps.length - 1]) : undefined;
  };
  const reportsOf = (id: string): LabReportName[] => {
    const dir = reportsDir(id);
    return dir === undefined ? [] : labReportNames.filter((n) => existsSync(join(dir, n)));
  };
  const save = (view: LabRunView) => writeFileSync(join(runDir(view.id), 'run.json'), JSON.stringify(view, null, 2));

  function fromDisk(id: string): LabRunView | undefined {
    const file = join(runDir(id), 'run.json');
    if (!existsSync(file)) return undefined;
    const view = JSON.parse(readFileSync(file, 'utf8')) as LabRunView;
    // Written at the start and never again: its `up` ended while it ran.
    if (view.status === 'running') return { ...view, status: 'stopped', reports: reportsOf(id) };
    return { ...view, reports: reportsOf(id) };
  }

  function get(id: string): LabRunView {
    const running = live.get(id);
    if (running) return { ...running.view, progress: [...running.view.progress], reports: reportsOf(id) };
    const view = ID.test(id) ? fromDisk(id) : undefined;
    if (!view) throw LabRunNotFound(`no lab run ${id}`);
    return view;
  }

  return {
    start(req) {
      if (!(architectures as readonly string[]).includes(req.arch)) throw new TypeError(`unknown architecture ${req.arch}`);
      const busy = [...live.values()].find((r) => r.view.status === 'running');
      if (busy) throw LabBusy(`lab run ${busy.view.id} is still running: one at a time (each starts whole systems and loads them)`);
      const id = uuidv7();
      mkdirSync(runDir(id), { recursive: true });
      const view: LabRunView = { id, ...req, status: 'running', startedAt: new Date().toISOString(), finishedAt: null, exitCode: null, progress: [], reports: [] };
      save(view);
      const { file, args } = command(req, runDir(id));
      const child = spawn(file, args, { stdio: ['ignore', 'pipe', 'pipe'] });
      let partial = '';
      const take = (chunk: Buffer) => {
        const lines = (partial + chunk.toString('utf8')).split('\n');
        partial = lines.pop() ?? '';
        // Progress bars rewrite their line with \r: keep what the line ended as.
        for (const line of lines) view.progress.push(line.slice(line.lastIndexOf('\r') + 1));
        if (view.progress.length > maxLines) view.progress.splice(0, view.progress.length - maxLines);
      };
      child.stdout?.on('data', take);
      child.stderr?.on('data', take);
      const done = new Promise<void>((resolve) => {
        child.once('close', (code, signal) => {
          if (partial !== '') view.progress.push(partial);
          view.exitCode = code;
          view.status = code === 0 ? 'passed' : signal ? 'stopped' : 'failed';
          view.finishedAt = new Date().toISOString();
          live.delete(id);
          try {
            view.reports = reportsOf(id);
            save(view);
          } catch (err) {
            // Its folder went away (removed by hand): what it did is still answered from memory until then.
            view.progress.push(`could not record the run: ${(err as Error).message}`);
          } finally {
            resolve();
          }
        });
        child.once('error', (err) => {
          view.progress.push(`could not start the lab: ${err.message}`);
        });
      });
      live.set(id, { view, child, done });
      return get(id);
    },
    list() {
      const ids = existsSync(opts.dir) ? readdirSync(opts.dir).filter((n) => ID.test(n)) : [];
      for (const id of live.keys()) if (!ids.includes(id)) ids.push(id);
      // uuidv7 ids sort by time: newest first.
      return ids.sort().reverse().flatMap((id) => {
        try {
          return [get(id)];
        } catch {
          return [];
        }
      });
    },
    get,
    reportPath(id, name) {
      get(id);
      const dir = reportsDir(id);
      if (!(labReportNames as readonly string[]).includes(name) || dir === undefined || !existsSync(join(dir, name))) {
        throw LabReportNotFound(`lab run ${id} wrote no ${name} (it writes ${labReportNames.join(', ')} when it ends)`);
      }
      return join(dir, name);
    },
    async close() {
      const running = [...live.values()];
      for (const r of running) r.child.kill('SIGTERM');
      await Promise.all(running.map((r) => r.done));
    },
  };
}

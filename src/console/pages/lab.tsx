/**
 * The lab, for an admin: start a quick lab run (`orderflow lab --quick` for one architecture,
 * run by the `orderflow up` that serves this console), follow its output, and read the
 * reports it wrote (GET/POST /api/admin/lab/runs...). Where the system was deployed without
 * `up` (compose, Kubernetes) there is no lab, and the page says so.
 */
import { useState } from 'preact/hooks';
import { ApiError, api, attempt, authHeaders, errorText } from '../api.ts';
import { dateTime } from '../format.ts';
import { usePoll } from '../hooks.ts';

type Report = 'summary.md' | 'report.html' | 'report.json';
interface LabRun {
  id: string;
  arch: string;
  faults: boolean;
  status: 'running' | 'passed' | 'failed' | 'stopped';
  startedAt: string;
  finishedAt: string | null;
  exitCode: number | null;
  progress: string[];
  reports: Report[];
}

export function LabPage() {
  const [runs, setRuns] = useState<{ available: boolean; runs: LabRun[] }>();
  const [selected, setSelected] = useState<string>();
  const [error, setError] = useState<string>();
  const [arch, setArch] = useState('events');
  const [faults, setFaults] = useState(false);
  const running = runs?.runs.some((r) => r.status === 'running') ?? false;

  usePoll(async (signal) => {
    const r = await attempt<{ available: boolean; runs: LabRun[] }>('/api/admin/lab/runs', { signal });
    if (r.ok) setRuns(r.value);
    else setError(errorText(r.error));
  }, running ? 1_000 : 5_000, [running]);

  const start = async (e: Event) => {
    e.preventDefault();
    setError(undefined);
    try {
      const run = await api<LabRun>('/api/admin/lab/runs', { method: 'POST', body: { arch, faults } });
      setSelected(run.id);
      setRuns((before) => ({ available: true, runs: [run, ...(before?.runs ?? [])] }));
    } catch (err) {
      setError(errorText(err));
    }
  };

  if (runs && !runs.available) {
    return (
      <section class="notice" data-testid="lab-unavailable">
        <h2>No lab in this deployment</h2>
        <p>Lab runs start where <code>orderflow up</code> runs. Here, run <code>npm run lab -- --quick</code> on a machine of your own.</p>
      </section>
    );
  }
  const current = runs?.runs.find((r) => r.id === selected) ?? runs?.runs[0];
  return (
    <div class="lab">
      <section>
        <h2>Quick lab run</h2>
        <p>Starts a system of its own for the architecture, drives orders through its gateway at 20 and 40 a second, and writes a report: latency, throughput and what one order cost. About 20 seconds; a minute with the fault scenarios.</p>
        <form onSubmit={start} aria-label="Start a lab run" class="lab-form">
          <label>
            Architecture
            <select value={arch} onChange={(e) => setArch(e.currentTarget.value)} data-testid="lab-arch">
              <option value="events">events (orchestrated saga)</option>
              <option value="choreography">choreography</option>
              <option value="rest">rest (synchronous twin)</option>
            </select>
          </label>
          <label>
            <input type="checkbox" checked={faults} onChange={(e) => setFaults(e.currentTarget.checked)} data-testid="lab-faults" /> fault scenarios
          </label>
          <button type="submit" disabled={running} data-testid="lab-start">{running ? 'A run is going…' : 'Start'}</button>
        </form>
        {error && <p class="error" role="alert" data-testid="lab-error">{error}</p>}
      </section>
      <section>
        <h2>Runs</h2>
        {runs?.runs.length === 0 && <p data-testid="lab-no-runs">No run yet.</p>}
        <table data-testid="lab-runs">
          <tbody>
            {runs?.runs.map((r) => (
              <tr key={r.id} data-testid="lab-run" data-status={r.status} aria-selected={r.id === current?.id} onClick={() => setSelected(r.id)} class="clickable">
                <td>{dateTime(r.startedAt)}</td>
                <td>{r.arch}{r.faults ? ' + faults' : ''}</td>
                <td><span class={`badge ${r.status}`} data-testid="lab-run-status">{r.status}</span></td>
                <td>{r.finishedAt ? `${Math.round((Date.parse(r.finishedAt) - Date.parse(r.startedAt)) / 1000)} s` : '…'}</td>
              </tr>
            ))}
          </tbody>
        </table>
      </section>
      {current && <RunView key={`${current.id}-${current.status}`} run={current} />}
    </div>
  );
}

function RunView(props: { run: LabRun }) {
  const { run } = props;
  const [summary, setSummary] = useState<string>();
  const [error, setError] = useState<string>();
  const path = (name: Report) => `/api/admin/lab/runs/${run.id}/reports/${name}`;
  const fetchReport = async (name: Report): Promise<Blob> => {
    const res = await fetch(path(name), { headers: await authHeaders() });
    if (!res.ok) throw new ApiError(res.status, 'REPORT', `${name}: ${res.status}`);
    return res.blob();
  };
  usePoll(async () => {
    if (!run.reports.includes('summary.md') || summary !== undefined) return;
    try {
      setSummary(await (await fetchReport('summary.md')).text());
    } catch (err) {
      setError(errorText(err));
    }
  }, 60_000, [run.id, run.reports.length]);
  // The report is the admin's: fetched with the token, then saved as a file (a link could not carry the token).
  const download = async (name: Report) => {
    try {
      const url = URL.createObjectURL(await fetchReport(name));
      const a = Object.assign(document.createElement('a'), { href: url, download: `lab-${run.id.slice(0, 8)}-${name}` });
      a.click();
      setTimeout(() => URL.revokeObjectURL(url), 10_000);
    } catch (err) {
      setError(errorText(err));
    }
  };
  return (
    <section data-testid="lab-run-view" data-status={run.status}>
      <h2>Run of {dateTime(run.startedAt)}: {run.status}{run.exitCode !== null && run.exitCode !== 0 ? ` (exit ${run.exitCode})` : ''}</h2>
      <pre class="lab-progress" data-testid="lab-progress">{run.progress.join('\n')}</pre>
      {run.reports.length > 0 && (
        <p>
          Reports:{' '}
          {run.reports.map((name) => <button key={name} type="button" onClick={() => void download(name)} data-testid={`lab-report-${name}`}>{name}</button>)}
        </p>
      )}
      {summary !== undefined && <pre class="lab-summary" data-testid="lab-summary">{summary}</pre>}
      {error && <p class="error" role="alert">{error}</p>}
    </section>
  );
}

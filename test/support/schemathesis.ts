/**
 * Fuzzing an HTTP API from its OpenAPI document with Schemathesis (npm run infra:schemathesis
 * installs it): `runSchemathesis` spawns `schemathesis run`, bounded (examples per operation,
 * a wall-clock limit) and seeded (the same seed sends the same requests again), reads its
 * JUnit report and returns each failure with the check that found it and a curl that replays it.
 * Assert on `failures` with `formatFailures` as the message.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { infraDir } from '#runtime/infra/config.ts';
import { installedSchemathesis } from '#runtime/infra/schemathesis.ts';

/** The checks issue 10 asks for: no 5xx, and no answer outside the document. */
export const DOCUMENT_CHECKS = [
  'not_a_server_error',
  'status_code_conformance',
  'content_type_conformance',
  'response_headers_conformance',
  'response_schema_conformance',
] as const;

export type SchemathesisCheck =
  | (typeof DOCUMENT_CHECKS)[number]
  | 'negative_data_rejection' | 'positive_data_acceptance' | 'missing_required_header' | 'unsupported_method' | 'allow_header_conformance'
  | 'use_after_free' | 'ensure_resource_availability' | 'ignored_auth' | 'object_level_authorization';
export type SchemathesisPhase = 'examples' | 'coverage' | 'fuzzing' | 'stateful';

export interface SchemathesisOptions {
  /** Where the OpenAPI document is served, e.g. http://127.0.0.1:8080/docs/openapi.json. */
  schemaUrl: string;
  /** Where the operations are called (the document's paths are appended to it). */
  baseUrl: string;
  /** Sent with every request, e.g. `{ authorization: 'Bearer …' }`. */
  headers?: Readonly<Record<string, string>>;
  /** Test cases generated per operation and phase (default 25). */
  maxExamples?: number;
  /** The same seed (and the same pinned Schemathesis) generates the same requests (default 1). */
  seed?: number;
  /** Schemathesis's phases; all of them when absent. */
  phases?: readonly SchemathesisPhase[];
  checks?: readonly SchemathesisCheck[];
  /** positive (valid input only), negative (invalid only) or all (default). */
  mode?: 'positive' | 'negative' | 'all';
  /** The whole run's bound: past it the process is killed and the run throws (default 90 s). */
  timeoutMs?: number;
  /** One request's bound (default 10 s); a request past it is reported as an error. */
  requestTimeoutMs?: number;
  /** Only these operations, by name (`POST /api/products`): those one role may call, say. */
  include?: readonly string[];
  /** Operations left out, by name. */
  exclude?: readonly string[];
  /** Operations left out by path, a regular expression (`--exclude-path-regex`), e.g. a stream. */
  excludePathRegex?: string;
  /** The schemathesis command; the one `orderflow infra schemathesis` installed when absent. */
  command?: string;
}

export interface FuzzFailure {
  /** `POST /api/orders`, or `Stateful tests` for a sequence of them. */
  operation: string;
  /** The check that failed (`not_a_server_error`...), or `error` for a request or schema that could not be tested. */
  check: string;
  /** Schemathesis's failure code (`ST101`...), `error` for an error. */
  code: string;
  title: string;
  message: string;
  /** The status of the answer that failed the check. */
  status?: number;
  caseId?: string;
  /** A curl command that sends the failing request again (secret headers show as [Filtered]). */
  reproduce?: string;
}

export interface FuzzResult {
  /** The operations tested, `POST /api/orders`... */
  operations: string[];
  failures: FuzzFailure[];
  /** The WARNINGS section of the output (e.g. every answer was a 401), '' when none. */
  warnings: string;
  /** Schemathesis's own output, for a failure message. */
  output: string;
  /** The JUnit XML report, to keep as a CI artifact. */
  junit: string;
}

// Failure codes (schemathesis/failure_codes.py) of the checks above. ST108 is also a header
// that fails its schema under response_headers_conformance, told apart by its title below.
const CHECK_OF_CODE: Record<string, string> = {
  ST101: 'not_a_server_error',
  ST102: 'not_a_server_error',
  ST103: 'status_code_conformance',
  ST104: 'content_type_conformance',
  ST105: 'content_type_conformance',
  ST106: 'content_type_conformance',
  ST107: 'response_headers_conformance',
  ST108: 'response_schema_conformance',
  ST109: 'response_schema_conformance',
  ST110: 'response_schema_conformance',
  ST111: 'response_schema_conformance',
  ST112: 'max_response_time',
  ST201: 'negative_data_rejection',
  ST202: 'positive_data_acceptance',
  ST203: 'missing_required_header',
  ST204: 'unsupported_method',
  ST205: 'allow_header_conformance',
  ST301: 'use_after_free',
  ST302: 'ensure_resource_availability',
  ST401: 'ignored_auth',
  ST402: 'object_level_authorization',
};

function checkOf(code: string, title: string): string {
  if (code === 'ST108' && title.startsWith('Response header')) return 'response_headers_conformance';
  return CHECK_OF_CODE[code] ?? code;
}

/** The arguments of `schemathesis run` for these options, the JUnit report written to `junitFile`. */
export function schemathesisArgs(o: SchemathesisOptions, junitFile: string): string[] {
  const args = [
    'run', o.schemaUrl,
    '--url', o.baseUrl,
    '--checks', (o.checks ?? DOCUMENT_CHECKS).join(','),
    '--max-examples', String(o.maxExamples ?? 25),
    '--seed', String(o.seed ?? 1),
    // Hypothesis's example database would replay earlier runs' failures first: a run is its seed alone.
    '--generation-database', 'none',
    '--mode', o.mode ?? 'all',
    // One worker: requests in one order, so a run against a stateful API replays too.
    '--workers', '1',
    '--request-timeout', String((o.requestTimeoutMs ?? 10_000) / 1000),
    '--report', 'junit',
    '--report-junit-path', junitFile,
    '--no-color',
  ];
  if (o.phases) args.push('--phases', o.phases.join(','));
  for (const name of o.include ?? []) args.push('--include-name', name);
  for (const name of o.exclude ?? []) args.push('--exclude-name', name);
  if (o.excludePathRegex) args.push('--exclude-path-regex', o.excludePathRegex);
  for (const [name, value] of Object.entries(o.headers ?? {})) args.push('--header', `${name}: ${value}`);
  return args;
}

/**
 * Runs Schemathesis against a served OpenAPI document and returns what it found. Throws when
 * it could not test at all (the document unreachable or invalid, the time limit passed).
 * Schemathesis's own --max-time is no bound: it keeps fuzzing until the time is spent.
 */
export async function runSchemathesis(o: SchemathesisOptions): Promise<FuzzResult> {
  const command = o.command ?? installedSchemathesis(infraDir());
  if (command === undefined) throw new Error('Schemathesis is not installed: npm run infra:schemathesis');
  const dir = mkdtempSync(join(tmpdir(), 'orderflow-fuzz-'));
  try {
    const junitFile = join(dir, 'junit.xml');
    const timeoutMs = o.timeoutMs ?? 90_000;
    // cwd: a folder of its own, so that no schemathesis.toml of a parent folder configures the run.
    const { code, output } = await spawnBounded(command, schemathesisArgs(o, junitFile), { cwd: dir, timeoutMs });
    // 0: no failure, 1: failures, anything else: the run itself went wrong.
    let junit = '';
    try {
      junit = readFileSync(junitFile, 'utf8');
    } catch {
      // reported below
    }
    if ((code !== 0 && code !== 1) || junit === '') {
      throw new Error(`schemathesis exited with ${code}${junit === '' ? ' and wrote no report' : ''}:\n${lastLines(output, 40)}`);
    }
    const result = { ...parseJunit(junit), warnings: section(output, 'WARNINGS'), output, junit };
    if (code === 1 && result.failures.length === 0) throw new Error(`schemathesis reported failures that its report does not hold:\n${lastLines(output, 40)}`);
    // A stateful run alone is one testcase (`Stateful tests`), no operation of its own.
    if (!/<testcase /.test(junit)) throw new Error(`schemathesis tested nothing:\n${lastLines(output, 40)}`);
    return result;
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

function spawnBounded(command: string, args: string[], o: { cwd: string; timeoutMs: number }): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: o.cwd, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NO_COLOR: '1' } });
    let output = '';
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), 5000).unref();
    }, o.timeoutMs);
    child.once('error', (cause) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${command}: ${cause.message}`, { cause }));
    });
    child.once('close', (code) => {
      clearTimeout(timer);
      if (timedOut) reject(new Error(`schemathesis ran past ${o.timeoutMs} ms and was stopped; fewer examples or operations:\n${lastLines(output, 20)}`));
      else resolve({ code, output });
    });
  });
}

const lastLines = (text: string, n: number): string => text.trimEnd().split('\n').slice(-n).join('\n');

/** A `==== NAME ====` section of the output, without its heading. */
function section(output: string, name: string): string {
  const m = new RegExp(`^=+ ${name} =+$\\n([\\s\\S]*?)(?=^=+ [A-Z ]+ =+$|(?![\\s\\S]))`, 'm').exec(output);
  return m ? m[1].trim() : '';
}

function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-f]+|#\d+|lt|gt|amp|quot|apos);/gi, (_, e: string) => {
    if (e[0] === '#') return String.fromCodePoint(e[1] === 'x' || e[1] === 'X' ? parseInt(e.slice(2), 16) : Number(e.slice(1)));
    return ({ lt: '<', gt: '>', amp: '&', quot: '"', apos: "'" } as Record<string, string>)[e.toLowerCase()];
  });
}

const dedent = (text: string): string => text.split('\n').map((l) => l.replace(/^ {4}/, '')).join('\n').trim();

/**
 * Schemathesis's JUnit report (reporting/junitxml.py): a testcase per operation, a failure per
 * scenario holding numbered test cases, each listing its failed checks (`- ST108 Title` and
 * the details indented), the answer (`[500] Internal Server Error:`) and `Reproduce with:` a curl.
 */
export function parseJunit(xml: string): { operations: string[]; failures: FuzzFailure[] } {
  const operations: string[] = [];
  const failures: FuzzFailure[] = [];
  for (const tc of xml.matchAll(/<testcase name="([^"]*)"[^>]*?(?:\/>|>([\s\S]*?)<\/testcase>)/g)) {
    const operation = unescapeXml(tc[1]);
    const body = tc[2] ?? '';
    const outcomes = [...body.matchAll(/<(failure|error|skipped)\b[^>]*?(?:\/>|>([\s\S]*?)<\/\1>)/g)].map((m) => ({ kind: m[1], text: unescapeXml(m[2] ?? '') }));
    // Not every testcase is an operation: `Stateful tests` runs sequences of them.
    const tested = !(outcomes.length > 0 && outcomes.every((x) => x.kind === 'skipped'));
    if (tested && /^[A-Z]+ \//.test(operation)) operations.push(operation);
    for (const { kind, text } of outcomes) {
      if (kind === 'failure') failures.push(...parseScenario(operation, text));
      else if (kind === 'error') failures.push({ operation, check: 'error', code: 'error', title: text.trim().split('\n')[0] ?? 'error', message: text.trim() });
    }
  }
  return { operations, failures };
}

function parseScenario(operation: string, text: string): FuzzFailure[] {
  const out: FuzzFailure[] = [];
  // Each test case begins `N. Test Case ID: <id>`; one without an id is the whole text.
  const parts = text.split(/^\d+\. Test Case ID: (\S+)$/m);
  const cases = parts.length === 1 ? [{ caseId: undefined, body: parts[0] }] : Array.from({ length: (parts.length - 1) / 2 }, (_, i) => ({ caseId: parts[1 + 2 * i], body: parts[2 + 2 * i] }));
  for (const { caseId, body } of cases) {
    const [beforeCurl, curl] = body.split(/^Reproduce with:$/m);
    const reproduce = curl === undefined ? undefined : dedent(curl.replace(/^\s*\n/, ''));
    const statusMatch = /^\[(\d{3})\] /m.exec(beforeCurl);
    const checks = statusMatch ? beforeCurl.slice(0, statusMatch.index) : beforeCurl;
    const headings = [...checks.matchAll(/^- (\S+) (.+?)(?: \(\d+ violations\))?$/gm)];
    headings.forEach((h, i) => {
      const details = checks.slice(h.index + h[0].length, headings[i + 1]?.index ?? checks.length);
      const [code, title] = [h[1], h[2]];
      out.push({ operation, check: checkOf(code, title), code, title, message: dedent(details) || title, status: statusMatch ? Number(statusMatch[1]) : undefined, caseId, reproduce });
    });
    if (headings.length === 0 && body.trim() !== '') out.push({ operation, check: 'unknown', code: 'unknown', title: 'unrecognised failure', message: body.trim(), caseId, reproduce });
  }
  return out;
}

/** The failures, one paragraph each, for an assertion's message. */
export function formatFailures(failures: readonly FuzzFailure[]): string {
  return failures
    .map((f) => [`${f.operation}: ${f.check} (${f.code} ${f.title})${f.status ? `, answered ${f.status}` : ''}`, indent(f.message), f.reproduce ? indent(`reproduce: ${f.reproduce}`) : ''].filter(Boolean).join('\n'))
    .join('\n\n');
}

const indent = (text: string): string => text.split('\n').map((l) => `    ${l}`).join('\n');

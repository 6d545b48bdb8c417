/**
 * The e-mail delivery queue's rules: what a failed send means, and when to try again.
 * Pure: the random draw for the jitter comes in as an argument.
 */

export interface RetryPolicy {
  /** Attempts in all, the first included; past them a row is dead. */
  maxAttempts: number;
  baseMs: number;
  maxMs: number;
}

/**
 * What a send failure says of the next attempt. An SMTP reply code says it: 5xx is the
 * server refusing this message for good (RFC 5321 §4.2.1), 4xx a temporary refusal.
 * Without a reply (a refused connection, a timeout, a dropped socket) the server was not
 * reached: temporary. An envelope nodemailer cannot build (no valid recipient) never will be.
 */
export function classifyFailure(err: { code?: unknown; responseCode?: unknown }): 'transient' | 'permanent' {
  const reply = typeof err.responseCode === 'number' ? err.responseCode : undefined;
  if (reply !== undefined) return reply >= 500 ? 'permanent' : 'transient';
  return err.code === 'EENVELOPE' ? 'permanent' : 'transient';
}

/**
 * The wait before attempt `attempts + 1`: exponential from baseMs, capped at maxMs, with
 * full jitter (a uniform draw below it), so that customers whose mail failed together in an
 * outage do not all come back at the same instant. `random` is in [0, 1).
 */
export function backoffMs(policy: RetryPolicy, attempts: number, random: number): number {
  const ceiling = Math.min(policy.maxMs, policy.baseMs * 2 ** Math.max(0, attempts - 1));
  return Math.max(1, Math.floor(ceiling * random));
}

export type Outcome =
  | { kind: 'sent' }
  | { kind: 'retry'; delayMs: number; error: string }
  | { kind: 'dead'; error: string };

/** After attempt number `attempts` (1 for the first) failed with `err`. */
export function afterFailure(policy: RetryPolicy, attempts: number, err: { code?: unknown; responseCode?: unknown; message?: string }, random: number): Outcome {
  const error = describe(err);
  if (classifyFailure(err) === 'permanent') return { kind: 'dead', error };
  if (attempts >= policy.maxAttempts) return { kind: 'dead', error: `${attempts} attempts failed; the last: ${error}` };
  return { kind: 'retry', delayMs: backoffMs(policy, attempts, random), error };
}

const describe = (err: { code?: unknown; responseCode?: unknown; message?: string }): string =>
  [err.responseCode, err.code, err.message].filter((x) => x !== undefined && x !== '').join(' ').slice(0, 500);

/** The Message-ID of one notification's e-mail: the same on every attempt, so that a second copy (a crash between sending and recording it) is recognisable as one. */
export const messageIdOf = (eventId: string): string => `<${eventId}.email@orderflow>`;

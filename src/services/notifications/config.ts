/**
 * The notifications service's settings: where e-mail goes (SMTP_URL; unset, the e-mail
 * channel is off and only in-app notifications are made), the delivery queue's retries, and
 * the live streams.
 */
import { loadServiceConfig, type ServiceConfig } from '#platform/config.ts';
import { ConfigError } from '#platform/errors.ts';
import type { RetryPolicy } from './domain/delivery.ts';

type Env = Record<string, string | undefined>;

export interface MailConfig {
  /** smtp://host:port or smtps://user:pass@host:port, as nodemailer takes it. */
  smtpUrl: string;
  from: string;
  retry: RetryPolicy;
  /** How often the queue is looked at when nothing woke it (a retry coming due, another replica's rows). */
  pollMs: number;
  /** Rows one pass claims; they are sent concurrently. */
  batch: number;
  /** One send's limit (connection, greeting and the whole message). */
  sendTimeoutMs: number;
}

export interface NotificationsConfig extends ServiceConfig {
  /** Absent: SMTP_URL is not set. */
  mail?: MailConfig;
  /** How often a replica looks for notifications another replica committed, while it has streams open. */
  feedPollMs: number;
  heartbeatMs: number;
  maxStreams: number;
  retentionDays: number;
}

export const DEFAULT_NOTIFICATIONS_PORT = 8087;

function int(env: Env, name: string, fallback: number, min: number, max = Number.MAX_SAFE_INTEGER): number {
  const raw = env[name];
  const n = raw === undefined || raw === '' ? fallback : Number(raw);
  if (!Number.isInteger(n) || n < min || n > max) throw ConfigError(`${name} must be an integer from ${min} to ${max}; got "${raw}"`);
  return n;
}

function smtpUrl(value: string): string {
  let url: URL | undefined;
  try {
    url = new URL(value);
  } catch {
    // reported below
  }
  if (!url || !/^smtps?:$/.test(url.protocol) || url.hostname === '') throw ConfigError(`SMTP_URL must be smtp://host:port or smtps://host:port; got "${value}"`);
  return value;
}

export function loadConfig(env: Env = process.env): Readonly<NotificationsConfig> {
  const service = loadServiceConfig(env, DEFAULT_NOTIFICATIONS_PORT);
  const mail: MailConfig | undefined = env.SMTP_URL
    ? Object.freeze({
      smtpUrl: smtpUrl(env.SMTP_URL),
      from: env.NOTIFICATIONS_MAIL_FROM || 'orderflow <no-reply@orderflow.local>',
      retry: Object.freeze({
        maxAttempts: int(env, 'NOTIFICATIONS_MAIL_MAX_ATTEMPTS', 10, 1, 100),
        baseMs: int(env, 'NOTIFICATIONS_MAIL_BACKOFF_MS', 1_000, 1),
        maxMs: int(env, 'NOTIFICATIONS_MAIL_BACKOFF_MAX_MS', 600_000, 1),
      }),
      pollMs: int(env, 'NOTIFICATIONS_MAIL_POLL_MS', 1_000, 10),
      batch: int(env, 'NOTIFICATIONS_MAIL_BATCH', 20, 1, 500),
      sendTimeoutMs: int(env, 'NOTIFICATIONS_MAIL_TIMEOUT_MS', 15_000, 100),
    })
    : undefined;
  return Object.freeze({
    ...service,
    mail,
    feedPollMs: int(env, 'NOTIFICATIONS_FEED_POLL_MS', 1_000, 10),
    heartbeatMs: int(env, 'NOTIFICATIONS_SSE_HEARTBEAT_MS', 15_000, 100),
    maxStreams: int(env, 'NOTIFICATIONS_MAX_STREAMS', 1_000, 1),
    retentionDays: int(env, 'NOTIFICATIONS_RETENTION_DAYS', 90, 1),
  });
}

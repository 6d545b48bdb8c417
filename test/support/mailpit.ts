/**
 * Reading e-mails back from a real Mailpit (MAILPIT_URL, `npm run infra:mailpit`) through its
 * REST API, for the tests of what the services send over SMTP (SMTP_URL).
 */
import { setTimeout as sleep } from 'node:timers/promises';

/** An address as Mailpit parses it: `Name` is '' when the header had none. */
export interface MailAddress {
  Name: string;
  Address: string;
}

/** Who sent a message to whom, as Mailpit names the fields in lists and in a whole message. */
interface MailEnvelope {
  ID: string;
  MessageID: string;
  From: MailAddress | null;
  To: MailAddress[] | null;
  Cc: MailAddress[] | null;
  Bcc: MailAddress[] | null;
  Subject: string;
}

/** One message of a list or a search, without its bodies. */
export interface MailSummary extends MailEnvelope {
  /** When Mailpit received it, ISO 8601. */
  Created: string;
  Snippet: string;
  Attachments: number;
}

export interface MailAttachment {
  PartID: string;
  FileName: string;
  ContentType: string;
  Size: number;
}

/** One message whole: its text and HTML bodies (each '' when absent), attachments and headers. */
export interface Mail extends MailEnvelope {
  ReplyTo: MailAddress[] | null;
  /** The Date header, ISO 8601. */
  Date: string;
  Text: string;
  HTML: string;
  Attachments: MailAttachment[];
  Inline: MailAttachment[];
  /** Every header by its name as sent, each with all its values in order. */
  headers: Record<string, string[]>;
}

type ListAnswer = { total: number; messages_count: number; messages: MailSummary[] };

export type Mailpit = Readonly<{
  url: string;
  /** The newest messages first, at most `limit`. */
  messages: (limit?: number) => Promise<MailSummary[]>;
  /** One message with its bodies and headers. */
  message: (id: string) => Promise<Mail>;
  /** Mailpit's search syntax: `to:a@b.c`, `subject:"order shipped"`, `from:…`, plain words… */
  search: (query: string, limit?: number) => Promise<MailSummary[]>;
  /** The messages sent to `address` (To, Cc or Bcc), newest first. */
  to: (address: string) => Promise<MailSummary[]>;
  /** Polls until `count` messages were sent to `address` and returns them whole, newest first; throws after `timeoutMs`. */
  waitFor: (address: string, opts?: { count?: number; timeoutMs?: number }) => Promise<Mail[]>;
  /** Empties the mailbox. */
  deleteAll: () => Promise<void>;
}>;

/** The Mailpit of the tests, without a trailing slash; undefined when MAILPIT_URL is not set. */
export const mailpitUrl = process.env.MAILPIT_URL?.replace(/\/+$/, '');

async function call<T>(method: string, url: string, what: string): Promise<T> {
  const res = await fetch(url, { method, headers: { accept: 'application/json' } });
  const text = await res.text();
  if (res.status !== 200) throw new Error(`Mailpit answered ${res.status} to ${what}: ${text.slice(0, 200)}`);
  return (text === '' || text === 'ok' ? undefined : JSON.parse(text)) as T;
}

/** A client of the Mailpit at `url` (MAILPIT_URL by default). */
export function mailpit(url: string | undefined = mailpitUrl): Mailpit {
  if (!url) throw new Error('MAILPIT_URL is not set: start Mailpit (npm run infra:mailpit) and export MAILPIT_URL');
  const base = url.replace(/\/+$/, '');
  const api = `${base}/api/v1`;

  const messages = async (limit = 50): Promise<MailSummary[]> =>
    (await call<ListAnswer>('GET', `${api}/messages?limit=${limit}`, 'the list of messages')).messages;

  const message = async (id: string): Promise<Mail> => {
    const path = `${api}/message/${encodeURIComponent(id)}`;
    const [mail, headers] = await Promise.allSettled([
      call<Omit<Mail, 'headers'>>('GET', path, `message ${id}`),
      call<Record<string, string[]>>('GET', `${path}/headers`, `the headers of message ${id}`),
    ]);
    // Both at once; the message's own answer says first whether it exists (whichever came back first).
    if (mail.status === 'rejected') throw mail.reason;
    if (headers.status === 'rejected') throw headers.reason;
    return { ...mail.value, headers: headers.value };
  };

  const search = async (query: string, limit = 50): Promise<MailSummary[]> =>
    (await call<ListAnswer>('GET', `${api}/search?query=${encodeURIComponent(query)}&limit=${limit}`, `the search ${query}`)).messages;

  // Mailpit's to: looks at the To header only and matches substrings (to:bob@x.io finds
  // alice.bob@x.io): addressed: narrows it down on the server, the exact match is made here.
  const to = async (address: string): Promise<MailSummary[]> => {
    const wanted = address.toLowerCase();
    const found = await search(`addressed:"${address}"`, 1000);
    return found.filter((m) => [...(m.To ?? []), ...(m.Cc ?? []), ...(m.Bcc ?? [])].some((a) => a.Address.toLowerCase() === wanted));
  };

  const waitFor = async (address: string, opts: { count?: number; timeoutMs?: number } = {}): Promise<Mail[]> => {
    const count = opts.count ?? 1;
    const deadline = Date.now() + (opts.timeoutMs ?? 10_000);
    for (;;) {
      const found = await to(address);
      if (found.length >= count) return Promise.all(found.map((m) => message(m.ID)));
      if (Date.now() >= deadline) throw new Error(`Mailpit holds ${found.length} message(s) to ${address}, not ${count}, after ${opts.timeoutMs ?? 10_000} ms`);
      await sleep(100);
    }
  };

  const deleteAll = async (): Promise<void> => {
    await call<void>('DELETE', `${api}/messages`, 'delete all');
  };

  return Object.freeze({ url: base, messages, message, search, to, waitFor, deleteAll });
}

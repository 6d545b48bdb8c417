/**
 * The SMTP transport (nodemailer): a small pool of connections kept open between passes,
 * each wait bounded. Its errors carry nodemailer's `code` and, for an answer of the server,
 * `responseCode`, which the delivery rules read (domain/delivery.ts).
 */
import nodemailer from 'nodemailer';
import type { Send } from './mailer.ts';

export interface SmtpTransport {
  send: Send;
  close(): void;
}

export function createSmtpTransport(url: string, timeoutMs: number): SmtpTransport {
  const transport = nodemailer.createTransport({
    url,
    pool: true,
    maxConnections: 5,
    connectionTimeout: timeoutMs,
    greetingTimeout: timeoutMs,
    socketTimeout: timeoutMs,
  } as Parameters<typeof nodemailer.createTransport>[0]);
  return {
    async send(mail) {
      await transport.sendMail({ from: mail.from, to: mail.to, subject: mail.subject, text: mail.text, html: mail.html, messageId: mail.messageId });
    },
    close: () => transport.close(),
  };
}

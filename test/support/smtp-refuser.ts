/**
 * A real SMTP server on 127.0.0.1 (node:net) that takes a session and refuses every
 * recipient with `550 5.1.1`: the permanent failure Mailpit cannot be told to give for one
 * recipient only. A fault injector: it stores nothing.
 */
import { createServer, type Socket } from 'node:net';
import { once } from 'node:events';
import type { TestContext } from 'node:test';

export async function startSmtpRefuser(t: TestContext): Promise<{ url: string; refused: string[] }> {
  const refused: string[] = [];
  const sockets = new Set<Socket>();
  const server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    socket.setEncoding('utf8');
    socket.write('220 refuser ESMTP\r\n');
    let buffered = '';
    socket.on('data', (chunk: string) => {
      buffered += chunk;
      for (let i = buffered.indexOf('\r\n'); i >= 0; i = buffered.indexOf('\r\n')) {
        const line = buffered.slice(0, i);
        buffered = buffered.slice(i + 2);
        const verb = line.slice(0, 4).toUpperCase();
        if (verb === 'EHLO' || verb === 'HELO') socket.write('250 refuser\r\n');
        else if (verb === 'RCPT') {
          refused.push(line.replace(/^RCPT TO:\s*/i, ''));
          socket.write('550 5.1.1 mailbox unavailable\r\n');
        } else if (verb === 'QUIT') socket.end('221 bye\r\n');
        else socket.write('250 OK\r\n');
      }
    });
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  t.after(async () => {
    for (const s of sockets) s.destroy();
    server.close();
    await once(server, 'close');
  });
  const address = server.address() as { port: number };
  return { url: `smtp://127.0.0.1:${address.port}`, refused };
}

/**
 * Which local addresses listen on a TCP port, read from /proc/net/tcp and tcp6 (Linux): for
 * tests that check a server binds loopback only, not every interface.
 */
import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';

const LISTEN = '0A';

function ipv4(hex: string): string {
  // /proc prints each 32-bit word in host (little-endian) order.
  return [6, 4, 2, 0].map((i) => parseInt(hex.slice(i, i + 2), 16)).join('.');
}

function ipv6(hex: string): string {
  const words = [0, 8, 16, 24].map((i) => ipv4(hex.slice(i, i + 8)).split('.').map(Number));
  const bytes = words.flat();
  if (bytes.slice(0, 10).every((b) => b === 0) && bytes[10] === 255 && bytes[11] === 255) return `::ffff:${bytes.slice(12).join('.')}`;
  const groups = [];
  for (let i = 0; i < 16; i += 2) groups.push(((bytes[i] << 8) | bytes[i + 1]).toString(16));
  return groups.join(':');
}

/** The addresses with a socket listening on `port`: `127.0.0.1`, `::ffff:127.0.0.1`, `0.0.0.0`, `0:0:0:0:0:0:0:0` (`::`)... */
export function listeningAddresses(port: number): string[] {
  const out: string[] = [];
  for (const [file, decode] of [['/proc/net/tcp', ipv4], ['/proc/net/tcp6', ipv6]] as const) {
    let text: string;
    try {
      text = readFileSync(file, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.trim().split('\n').slice(1)) {
      const [, local, , state] = line.trim().split(/\s+/);
      const [addr, hexPort] = local.split(':');
      if (state === LISTEN && parseInt(hexPort, 16) === port) out.push(decode(addr));
    }
  }
  return out;
}

export const isLoopback = (address: string): boolean => address.startsWith('127.') || address.startsWith('::ffff:127.') || address === '0:0:0:0:0:0:0:1';

/** A port nothing listens on (bound, then closed): what a call to a service that is down meets. */
export async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  await new Promise((resolve) => server.close(resolve));
  return port;
}

/**
 * Listening sockets held by the supervisor's process and handed to the processes it starts
 * (as systemd's socket activation does): the gateway's public and metrics ports. A rollout
 * starts the new gateway beside the old one on the same sockets, then stops the old one;
 * the kernel queues every connection on the one socket both accept from, so none is refused
 * or reset while the gateway changes. Two sockets bound with SO_REUSEPORT would not hold:
 * closing one drops the connections waiting in its own accept queue (unless the kernel's
 * net.ipv4.tcp_migrate_req is on, which it is not by default).
 *
 * The socket is bound here, not listened on: this process must accept nothing, and Node
 * listens on a server it creates at once. The children listen on it (`listen({ fd })`);
 * from the first child's listen until this process closes it, connections queue on it even
 * while no gateway runs (a crash restart), and wait instead of being refused.
 */
import net from 'node:net';
import { defineError } from '#platform/errors.ts';

export const ListenSocketFailed = defineError('PLT_ERR_LISTEN_SOCKET_FAILED', 500);

export interface ListenSocket {
  fd: number;
  port: number;
  close(): void;
}

interface TcpHandle {
  fd: number;
  getsockname(out: { port?: number }): number;
  close(): void;
}

// Node's own way to make a bound, not yet listening, server socket (its cluster module
// shares handles so); not in its public API, hence the check.
const createServerHandle = (net as unknown as { _createServerHandle?: (address: string, port: number, addressType: number) => TcpHandle | number })._createServerHandle;

/** A TCP socket bound to host:port (0: a free port), IPv4, for children to listen on. */
export function bindListenSocket(host: string, port: number): ListenSocket {
  if (typeof createServerHandle !== 'function') throw ListenSocketFailed('this Node has no net._createServerHandle: cannot hold a socket for the gateway');
  const handle = createServerHandle(host, port, 4);
  if (typeof handle === 'number') {
    const code = handle === -98 ? 'EADDRINUSE' : handle === -13 ? 'EACCES' : `errno ${handle}`;
    throw ListenSocketFailed(`cannot bind ${host}:${port}: ${code}${code === 'EADDRINUSE' ? ' (another orderflow, or another program, has it)' : ''}`);
  }
  const out: { port?: number } = {};
  handle.getsockname(out);
  return { fd: handle.fd, port: out.port ?? port, close: () => handle.close() };
}

/**
 * A graceful drain before an HTTP server closes, so that restarting one instance of a
 * service fails none of its callers' requests:
 * 1. readiness (/health/ready) answers 503: what routes by it (a Kubernetes Service, the
 *    supervisor) moves away;
 * 2. the listening socket stops accepting: a new connection is refused, and a refused
 *    connection is one the callers' balancer (platform/resilience/balanced-upstream.ts) may
 *    send to another instance, a POST included, since nothing was sent;
 * 3. the connections callers already hold are still served, every answer carrying
 *    `connection: close` (so each socket ends after an answer, never under a request) and
 *    `x-orderflow-draining` (so the balancer stops choosing this instance at once);
 * 4. once every connection has ended, or after `graceMs`, the app's close ends the idle
 *    sockets left and waits for the requests in flight.
 * Closing idle keep-alive sockets at once, as a bare close does, races a caller that is
 * writing a request into one: the request is lost in the close, and the caller cannot tell
 * whether it was read. Step 3 lets each caller's own socket end cleanly first.
 */
import { Server } from 'node:net';
import type { FastifyInstance } from 'fastify';

/** The answer header of an instance draining: its callers should choose another one. */
export const drainingHeader = 'x-orderflow-draining';

export interface Drainer {
  draining(): boolean;
  /** Steps 1 to 3 above; resolves when the app may be closed. Idempotent. */
  drain(): Promise<void>;
}

export function installDrain(app: FastifyInstance, opts: { graceMs: number }): Drainer {
  let draining = false;
  let drained: Promise<void> | undefined;
  // At the answer, not the request: a request in flight when the drain began ends its socket too.
  app.addHook('onSend', async (_req, reply, payload) => {
    if (draining) reply.header('connection', 'close').header(drainingHeader, '1');
    return payload;
  });
  return {
    draining: () => draining,
    drain() {
      drained ??= (async () => {
        draining = true;
        const server = app.server;
        if (!server.listening) return;
        // net's close, not http's: http's also ends the idle keep-alive sockets at once (step 4's race).
        Server.prototype.close.call(server);
        const deadline = Date.now() + opts.graceMs;
        while (Date.now() < deadline && (await connections(server)) > 0) await new Promise((resolve) => setTimeout(resolve, 50));
      })();
      return drained;
    },
  };
}

const connections = (server: Server) => new Promise<number>((resolve) => server.getConnections((err, n) => resolve(err ? 0 : n)));

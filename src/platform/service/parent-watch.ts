/**
 * Keeps a supervised process from outliving its supervisor. `orderflow up` starts every
 * service with an IPC channel; the channel closes when the supervisor goes away, however
 * it goes (exit, crash, SIGKILL). The child then sends itself SIGTERM, so the service's
 * own graceful shutdown runs (or, before it installed one, the default: exit).
 */

let watching = false;

/**
 * Call once, early in a service's main. Does nothing when the process was not started
 * with an IPC channel (run by hand, in a container), so it is always safe to call.
 */
export function exitWithParent(opts: { graceMs?: number } = {}): void {
  if (watching || !process.channel) return;
  watching = true;
  // The channel must never be what keeps a finished service alive.
  process.channel.unref();
  process.once('disconnect', () => {
    process.kill(process.pid, 'SIGTERM');
    // Should the shutdown stall, the orphan still goes.
    setTimeout(() => process.exit(1), opts.graceMs ?? 25_000).unref();
  });
}

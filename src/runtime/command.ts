/**
 * What the `orderflow` subcommands share: a mistake in how one was called (an unknown
 * subcommand, a missing or malformed option) is printed with that command's usage and exits
 * 2; anything else is the command failing and propagates to cli.ts.
 */

/** A mistake in the command line: its message is shown above the usage. */
export class UsageError extends Error {}

/** node:util's parseArgs throws these for an unknown or malformed option. */
const isParseArgsError = (err: unknown) => String((err as { code?: unknown }).code ?? '').startsWith('ERR_PARSE_ARGS');

/**
 * Runs `run`; a UsageError, a parseArgs error, or an error `alsoUsage` accepts becomes
 * `orderflow <name>: <message>` and the usage on stderr, exit 2.
 */
export async function runCommand(name: string, usage: string, run: () => Promise<number>, alsoUsage: (err: unknown) => boolean = () => false): Promise<number> {
  try {
    return await run();
  } catch (err) {
    if (!(err instanceof UsageError) && !isParseArgsError(err) && !alsoUsage(err)) throw err;
    process.stderr.write(`orderflow ${name}: ${(err as Error).message}\n\nusage:\n${usage}\n`);
    return 2;
  }
}

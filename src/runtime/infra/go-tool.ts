/**
 * A command-line tool built from its Go module with `go install` into a folder of its own
 * (Mailpit, helm, kubeconform): nothing to download but the module from the Go module proxy.
 * A marker file, written after a build and holding the version, is what says the binary is
 * whole and the wanted one. The module and Go's build cache are Go's own (GOMODCACHE,
 * GOCACHE), shared by every infra dir: a second infra dir links in seconds.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { InfraError, run, seconds, stdIo, type InfraIo } from './processes.ts';

export type GoTool = Readonly<{
  /** The binary's name, as `go install` names it (the package path's last element). */
  name: string;
  /** The package to install: module path plus the command's folder. */
  pkg: string;
  version: string;
  /** Go version the tool needs, for the error when Go is missing. */
  needsGo: string;
}>;

export function goToolPaths(home: string, tool: GoTool) {
  return {
    gobin: home,
    bin: join(home, tool.name),
    /** Holds the version built: a binary without it is half made or another version. */
    installed: join(home, 'installed.txt'),
  };
}

/** The binary when `tool` at its version is built in `home`, else undefined. */
export function installedGoTool(home: string, tool: GoTool): string | undefined {
  const p = goToolPaths(home, tool);
  try {
    if (readFileSync(p.installed, 'utf8').trim() !== tool.version) return undefined;
  } catch {
    return undefined;
  }
  return existsSync(p.bin) ? p.bin : undefined;
}

/** Builds `tool` into `home` unless that version is there already; resolves to the binary. */
export async function installGoTool(home: string, tool: GoTool, io: InfraIo = stdIo): Promise<string> {
  const ready = installedGoTool(home, tool);
  if (ready !== undefined) return ready;
  const p = goToolPaths(home, tool);
  const started = Date.now();
  io.say(`${tool.name}: building ${tool.pkg}@${tool.version} with go install into ${p.gobin} (the first build takes minutes)`);
  await run('go', ['version'], { capture: true }).catch((cause: unknown) => {
    throw InfraError(`${tool.name}: Go is not installed (${tool.name} is built from its Go module; it needs Go ${tool.needsGo} or newer)`, { cause });
  });
  rmSync(p.installed, { force: true });
  mkdirSync(p.gobin, { recursive: true });
  // CGO off: these tools are pure Go, and the binary then needs no C toolchain.
  await run('env', [`GOBIN=${p.gobin}`, 'CGO_ENABLED=0', 'go', 'install', `${tool.pkg}@${tool.version}`]);
  if (!existsSync(p.bin)) throw InfraError(`${tool.name}: go install left no binary at ${p.bin}`);
  writeFileSync(p.installed, `${tool.version}\n`);
  io.say(`${tool.name}: built in ${seconds(started)}`);
  return p.bin;
}

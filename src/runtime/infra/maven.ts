/**
 * Jars from Maven Central for the JVM infrastructure (the Kafka broker, Kafka's tools, Kafka
 * Connect with Debezium): a pom that lists what is wanted, and `mvn dependency:copy-dependencies`
 * into a folder of its own, fetched once and kept while the pom stays the same. A server that
 * ships as one self-contained jar (Zipkin's exec jar) is one `mvn dependency:copy` instead.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { InfraError, run, seconds, type InfraIo } from './processes.ts';

/** groupId:artifactId:version */
export type MavenCoordinate = `${string}:${string}:${string}`;

export function mavenPom(artifactId: string, dependencies: readonly MavenCoordinate[]): string {
  const deps = dependencies.map((c) => {
    const [g, a, v] = c.split(':');
    return `    <dependency><groupId>${g}</groupId><artifactId>${a}</artifactId><version>${v}</version></dependency>`;
  });
  return `<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>orderflow</groupId><artifactId>${artifactId}</artifactId><version>1</version>
  <dependencies>
${deps.join('\n')}
  </dependencies>
</project>
`;
}

/**
 * Writes `pom` to `pomFile` and copies its dependencies into `libs` (through a temporary
 * folder, so a failed fetch leaves no half folder). Skipped when the same pom was fetched
 * before and `marker` (a jar expected in `libs`) is there.
 */
export async function fetchJars(o: { pom: string; pomFile: string; libs: string; marker: string; what: string; io: InfraIo }): Promise<void> {
  if (existsSync(o.pomFile) && readFileSync(o.pomFile, 'utf8') === o.pom && existsSync(join(o.libs, o.marker))) return;
  const home = join(o.pomFile, '..');
  mkdirSync(home, { recursive: true });
  const started = Date.now();
  o.io.say(`${o.what}: fetching jars from Maven Central into ${o.libs}`);
  writeFileSync(o.pomFile, o.pom);
  const tmp = `${o.libs}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  await run('mvn', ['-q', '-B', '-Dstyle.color=never', '-f', o.pomFile, 'dependency:copy-dependencies', `-DoutputDirectory=${tmp}`], { cwd: home, capture: true });
  rmSync(o.libs, { recursive: true, force: true });
  renameSync(tmp, o.libs);
  o.io.say(`${o.what}: jars fetched in ${seconds(started)}`);
}

/**
 * Copies one artifact (`group:artifact:version[:packaging[:classifier]]`) from Maven Central to
 * `file` (through a temporary folder, so a failed fetch leaves no half jar); skipped when
 * `file` is there. For a self-contained jar: its dependencies are not fetched.
 */
export async function fetchArtifact(o: { artifact: string; file: string; what: string; io: InfraIo }): Promise<void> {
  if (existsSync(o.file)) return;
  const home = dirname(o.file);
  mkdirSync(home, { recursive: true });
  const started = Date.now();
  o.io.say(`${o.what}: fetching ${o.artifact} from Maven Central into ${home}`);
  const tmp = `${o.file}.tmp`;
  rmSync(tmp, { recursive: true, force: true });
  await run('mvn', ['-q', '-B', '-Dstyle.color=never', 'dependency:copy', `-Dartifact=${o.artifact}`, `-DoutputDirectory=${tmp}`], { cwd: home, capture: true });
  const [jar, ...others] = readdirSync(tmp);
  if (!jar || others.length > 0) throw InfraError(`${o.what}: mvn dependency:copy of ${o.artifact} left ${[jar, ...others].filter(Boolean).join(', ') || 'nothing'}, not one file`);
  renameSync(join(tmp, jar), o.file);
  rmSync(tmp, { recursive: true, force: true });
  o.io.say(`${o.what}: fetched in ${seconds(started)}`);
}

/**
 * `infra kafka start --secure`: the local broker gets a second client listener, SASL_SSL on
 * port + 2, beside the plaintext one the tests use. Its key and self-signed certificate are
 * made with keytool (for 127.0.0.1), its SCRAM user is created when the storage is formatted
 * (or, for a storage formatted before, with Kafka's ConfigCommand once the broker is up),
 * and the passwords are random, kept in `<infra>/kafka/secure`, never in the code.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { run } from './processes.ts';

export const SECURE_USER = 'orderflow';
export const SECURE_MECHANISM = 'SCRAM-SHA-512';

export interface SecureMaterial {
  dir: string;
  keystore: string;
  keystorePassword: string;
  /** The broker's certificate, PEM: what clients trust (KAFKA_SSL_CA_FILE). */
  caFile: string;
  username: string;
  password: string;
}

const secret = (file: string): string => {
  if (!existsSync(file)) writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  return readFileSync(file, 'utf8').trim();
};

/** Makes the keystore, certificate and passwords once; later calls read them. */
export async function secureMaterial(home: string): Promise<SecureMaterial> {
  const dir = join(home, 'secure');
  mkdirSync(dir, { recursive: true, mode: 0o700 });
  const m: SecureMaterial = {
    dir,
    keystore: join(dir, 'broker.p12'),
    keystorePassword: secret(join(dir, 'keystore-password')),
    caFile: join(dir, 'broker-cert.pem'),
    username: SECURE_USER,
    password: secret(join(dir, 'scram-password')),
  };
  if (!existsSync(m.keystore)) {
    await run('keytool', [
      '-genkeypair', '-alias', 'broker', '-keyalg', 'EC', '-groupname', 'secp256r1', '-sigalg', 'SHA256withECDSA',
      '-dname', 'CN=127.0.0.1, O=orderflow local broker', '-ext', 'SAN=ip:127.0.0.1,dns:localhost',
      '-validity', '3650', '-storetype', 'PKCS12', '-keystore', m.keystore, '-storepass', m.keystorePassword, '-keypass', m.keystorePassword,
    ], { capture: true });
  }
  if (!existsSync(m.caFile)) {
    await run('keytool', ['-exportcert', '-rfc', '-alias', 'broker', '-keystore', m.keystore, '-storepass', m.keystorePassword, '-file', m.caFile], { capture: true });
  }
  return m;
}

/** The server.properties lines of the SASL_SSL listener (the listener lines themselves are kafka.ts's). */
export function secureProperties(m: SecureMaterial): string[] {
  return [
    `sasl.enabled.mechanisms=${SECURE_MECHANISM}`,
    `listener.name.sasl_ssl.${SECURE_MECHANISM.toLowerCase()}.sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required;`,
    'ssl.keystore.type=PKCS12',
    `ssl.keystore.location=${m.keystore}`,
    `ssl.keystore.password=${m.keystorePassword}`,
    `ssl.key.password=${m.keystorePassword}`,
  ];
}

/** StorageTool format's arguments that create the SCRAM user with the storage. */
export const scramFormatArgs = (m: SecureMaterial): string[] => ['--add-scram', `${SECURE_MECHANISM}=[name=${m.username},password=${m.password}]`];

/** Creates (or resets) the SCRAM user on a running broker, through its plaintext listener. */
export async function ensureScramUser(java: (main: string, ...args: string[]) => string[], port: number, m: SecureMaterial): Promise<void> {
  await run('java', java('kafka.admin.ConfigCommand', '--bootstrap-server', `127.0.0.1:${port}`, '--alter',
    '--add-config', `${SECURE_MECHANISM}=[password=${m.password}]`, '--entity-type', 'users', '--entity-name', m.username), { capture: true });
}

/** What a client of the secure listener needs, emitted apart from KAFKA_BROKERS (which stays plaintext). */
export function secureSettings(port: number, m: SecureMaterial): Record<string, string> {
  return {
    KAFKA_SECURE_BROKERS: `127.0.0.1:${port + 2}`,
    KAFKA_SECURE_CA_FILE: m.caFile,
    KAFKA_SECURE_MECHANISM: SECURE_MECHANISM,
    KAFKA_SECURE_USERNAME: m.username,
    KAFKA_SECURE_PASSWORD: m.password,
  };
}

/**
 * The key that signs access tokens (ES256) and the JWKS the gateway verifies them with.
 * Where it comes from, in order: USERS_SIGNING_KEY (a private JWK, as JSON), the file
 * USERS_SIGNING_KEY_FILE names, or, on the embedded default only, a key generated into the
 * data directory on first start (and read from there at every start after, by every
 * replica). Nothing is hard-coded; elsewhere a missing key stops the service (config.ts).
 */
import { existsSync, linkSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { randomUUID } from 'node:crypto';
import { calculateJwkThumbprint, exportJWK, generateKeyPair, importJWK, type CryptoKey, type JWK } from 'jose';
import { SigningKeyInvalid } from './errors.ts';

export const ALG = 'ES256';

export type KeySource = { kind: 'jwk'; json: string } | { kind: 'file'; path: string; generate: boolean };

export interface SigningKey {
  kid: string;
  privateKey: CryptoKey;
  /** The public half, as served on /.well-known/jwks.json. */
  publicJwk: JWK;
}

export async function loadSigningKey(source: KeySource): Promise<SigningKey> {
  const json = source.kind === 'jwk' ? source.json : await fileKey(source.path, source.generate);
  let jwk: JWK;
  try {
    jwk = JSON.parse(json) as JWK;
  } catch (cause) {
    throw SigningKeyInvalid('the signing key is not a JSON Web Key', { cause });
  }
  if (jwk.kty !== 'EC' || jwk.crv !== 'P-256' || typeof jwk.d !== 'string') {
    throw SigningKeyInvalid('the signing key must be a private EC P-256 JWK (kty "EC", crv "P-256", with "d") for ES256');
  }
  let privateKey: CryptoKey;
  try {
    privateKey = (await importJWK(jwk, ALG)) as CryptoKey;
  } catch (cause) {
    throw SigningKeyInvalid(`the signing key cannot be imported: ${(cause as Error).message}`, { cause });
  }
  const publicJwk: JWK = { kty: jwk.kty, crv: jwk.crv, x: jwk.x, y: jwk.y };
  const kid = await calculateJwkThumbprint(publicJwk);
  return { kid, privateKey, publicJwk: { ...publicJwk, kid, alg: ALG, use: 'sig' } };
}

/** A new private key as JWK JSON (for the data directory, or for an operator to keep as a secret). */
export async function newSigningKeyJson(): Promise<string> {
  const { privateKey } = await generateKeyPair(ALG, { extractable: true });
  return JSON.stringify(await exportJWK(privateKey));
}

async function fileKey(path: string, generate: boolean): Promise<string> {
  if (!existsSync(path)) {
    if (!generate) throw SigningKeyInvalid(`no signing key at ${path}`);
    // Written aside and linked into place: of replicas starting together, the first link
    // wins and every one reads the winner's key.
    mkdirSync(dirname(path), { recursive: true });
    const temp = `${path}.${randomUUID()}.tmp`;
    writeFileSync(temp, await newSigningKeyJson(), { mode: 0o600 });
    try {
      linkSync(temp, path);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    } finally {
      rmSync(temp, { force: true });
    }
  }
  return readFileSync(path, 'utf8');
}

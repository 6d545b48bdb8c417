/**
 * Access tokens: short-lived JWTs signed with the service's key (ES256), verified by
 * anyone with the JWKS. Refresh tokens: 32 random bytes, opaque to their holder, stored as
 * their SHA-256 (store.ts), rotated at every use.
 */
import { createHash, randomBytes } from 'node:crypto';
import { SignJWT } from 'jose';
import type { Role } from './domain/user.ts';
import { ALG, type SigningKey } from './keys.ts';

export interface TokenSettings {
  issuer: string;
  audience: string;
  accessTtlS: number;
  refreshTtlS: number;
}

export interface AccessClaims {
  sub: string;
  role: Role;
}

export async function signAccessToken(key: SigningKey, settings: TokenSettings, claims: AccessClaims, now: Date): Promise<string> {
  const iat = Math.floor(now.getTime() / 1000);
  return new SignJWT({ role: claims.role })
    .setProtectedHeader({ alg: ALG, kid: key.kid, typ: 'JWT' })
    .setSubject(claims.sub)
    .setIssuer(settings.issuer)
    .setAudience(settings.audience)
    .setIssuedAt(iat)
    .setExpirationTime(iat + settings.accessTtlS)
    .sign(key.privateKey);
}

export const newRefreshToken = (): string => randomBytes(32).toString('base64url');

export const hashRefreshToken = (token: string): string => createHash('sha256').update(token).digest('hex');

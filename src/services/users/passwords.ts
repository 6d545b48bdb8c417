/**
 * Password hashing with argon2id (the `argon2` package, prebuilt native code). The cost is
 * OWASP's recommended minimum for argon2id (19 MiB, 2 passes, 1 lane): about 20–40 ms on
 * one core of this machine, so a login costs little and a stolen table costs a lot.
 */
import { argon2id, hash, needsRehash, verify } from 'argon2';

export interface PasswordCost {
  memoryCost: number;
  timeCost: number;
  parallelism: number;
}

export const defaultPasswordCost: PasswordCost = { memoryCost: 19_456, timeCost: 2, parallelism: 1 };

export interface Passwords {
  hash(password: string): Promise<string>;
  /** True when `password` is the one hashed; false for any other or a malformed hash. */
  verify(hashed: string, password: string): Promise<boolean>;
  /** Spends a verify's time for an unknown email, so a login does not tell which emails exist by its speed. */
  burn(password: string): Promise<void>;
  /** True when the hash was made with another cost (rehash it at the next login). */
  outdated(hashed: string): boolean;
}

export function createPasswords(cost: PasswordCost = defaultPasswordCost): Passwords {
  const options = { type: argon2id as 2, ...cost };
  let dummy: Promise<string> | undefined;
  return {
    hash: (password) => hash(password, options),
    async verify(hashed, password) {
      try {
        return await verify(hashed, password);
      } catch {
        return false;
      }
    },
    async burn(password) {
      dummy ??= hash('not a password of anyone', options);
      await verify(await dummy, password).catch(() => false);
    },
    outdated: (hashed) => needsRehash(hashed, cost),
  };
}

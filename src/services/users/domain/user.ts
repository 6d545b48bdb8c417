/**
 * What a user is and the rules of its fields. Pure: no I/O.
 */
import type { Role } from '#platform/http/access-tokens.ts';

export type { Role };

export interface User {
  id: string;
  email: string;
  name: string;
  role: Role;
  createdAt: string;
}

/** What anyone may see of a user: never the hash. */
export type PublicUser = Pick<User, 'id' | 'email' | 'name' | 'role'>;

export const toPublic = (u: User): PublicUser => ({ id: u.id, email: u.email, name: u.name, role: u.role });

/**
 * One account per address whatever its case: the domain part is case-insensitive by RFC
 * 5321 and people do not expect the local part to be otherwise.
 */
export const normalizeEmail = (email: string): string => email.trim().toLowerCase();

export const PASSWORD_MIN = 10;
// argon2 takes any length, but hashing a megabyte per attempt is a denial of service.
export const PASSWORD_MAX = 128;

/**
 * The password rule (NIST SP 800-63B): a minimum length and nothing that makes people pick
 * worse ones (no composition rules). Returns why it is refused, or undefined.
 */
export function passwordProblem(password: string, email: string): string | undefined {
  if ([...password].length < PASSWORD_MIN) return `the password must have at least ${PASSWORD_MIN} characters`;
  if (password.length > PASSWORD_MAX) return `the password must have at most ${PASSWORD_MAX} characters`;
  if (normalizeEmail(password) === normalizeEmail(email)) return 'the password must not be the email address';
  return undefined;
}

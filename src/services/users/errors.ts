import { defineError } from '#platform/errors.ts';

export const EmailTaken = defineError('ORD_ERR_EMAIL_TAKEN', 409);
export const WeakPassword = defineError('ORD_ERR_WEAK_PASSWORD', 400);
export const InvalidCredentials = defineError('ORD_ERR_INVALID_CREDENTIALS', 401);
export const InvalidRefreshToken = defineError('ORD_ERR_INVALID_REFRESH_TOKEN', 401);
export const UserNotFound = defineError('ORD_ERR_USER_NOT_FOUND', 404);
export const SigningKeyInvalid = defineError('ORD_ERR_SIGNING_KEY_INVALID', 500);
export const SeedFileInvalid = defineError('ORD_ERR_SEED_FILE_INVALID', 500);

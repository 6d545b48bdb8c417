import { defineError } from '#platform/errors.ts';

export const InvalidCursor = defineError('NTF_ERR_INVALID_CURSOR', 400);
/** This process holds as many live streams as NOTIFICATIONS_MAX_STREAMS allows. */
export const TooManyStreams = defineError('NTF_ERR_TOO_MANY_STREAMS', 503);

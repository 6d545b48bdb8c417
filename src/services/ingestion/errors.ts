import { defineError } from '#platform/errors.ts';

// An event's own problem: reported per event in the 202, the rest of the batch goes on.
export const UnknownEventType = defineError('ING_ERR_UNKNOWN_EVENT_TYPE', 422);
export const InvalidEvent = defineError('ING_ERR_INVALID_EVENT', 422);
export const EventTimeOutOfRange = defineError('ING_ERR_EVENT_TIME_OUT_OF_RANGE', 422);

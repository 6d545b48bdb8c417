/**
 * Coded errors. Every error the system raises on purpose is an OrderflowError with a
 * stable `code` (PLT_ERR_* for platform, ORD_ERR_* for the order domain) and, where it
 * maps to HTTP, a status. HTTP turns them into `{"error":{"code","message"}}` in one place
 * (platform/http/errors.ts).
 */
export class OrderflowError extends Error {
  readonly code: string;
  readonly statusCode: number;
  readonly details?: unknown;
  /** For a 503: the seconds after which a retry may succeed (HTTP's Retry-After); 1 unless told. */
  readonly retryAfterS?: number;

  constructor(code: string, message: string, opts: { statusCode?: number; cause?: unknown; details?: unknown; retryAfterS?: number } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'OrderflowError';
    this.code = code;
    this.statusCode = opts.statusCode ?? 500;
    this.details = opts.details;
    this.retryAfterS = opts.retryAfterS;
  }
}

/**
 * Declares an error kind once, so a code always carries the same status:
 *   const UnknownProduct = defineError('ORD_ERR_UNKNOWN_PRODUCT', 422)
 *   throw UnknownProduct('product 42 does not exist')
 */
export function defineError(code: string, statusCode = 500) {
  const make = (message: string, opts: { cause?: unknown; details?: unknown; retryAfterS?: number } = {}) =>
    new OrderflowError(code, message, { statusCode, ...opts });
  make.code = code;
  return make;
}

export function isOrderflowError(err: unknown, code?: string): err is OrderflowError {
  return err instanceof OrderflowError && (code === undefined || err.code === code);
}

// Platform errors shared by several modules.
export const ConfigError = defineError('PLT_ERR_CONFIG', 500);
export const MalformedMessage = defineError('PLT_ERR_MALFORMED_MESSAGE', 400);
export const InvalidMessage = defineError('PLT_ERR_INVALID_MESSAGE', 400);
/** A newer version of a known message type than this consumer knows: a deploy in progress. */
export const UnknownMessageVersion = defineError('PLT_ERR_UNKNOWN_MESSAGE_VERSION', 503);
export const ConcurrencyConflict = defineError('PLT_ERR_CONCURRENCY_CONFLICT', 409);
export const DependencyUnavailable = defineError('PLT_ERR_DEPENDENCY_UNAVAILABLE', 503);
export const ShuttingDown = defineError('PLT_ERR_SHUTTING_DOWN', 503);
/** Refused at once, nothing done: a queue or backlog is past its bound (load shedding). */
export const Overloaded = defineError('PLT_ERR_OVERLOADED', 503);
/** A caller past its rate limit (the gateway's edge): 429 with Retry-After and the RateLimit headers. */
export const RateLimited = defineError('PLT_ERR_RATE_LIMITED', 429);
/**
 * A record the bus refuses for its size (Kafka: MESSAGE_TOO_LARGE, or the producer's own
 * check; the embedded log: its limit). `details.records`, when present, holds the indices of
 * the refused records in the publish call; absent when the broker refused a whole batch.
 */
export const RecordTooLarge = defineError('PLT_ERR_RECORD_TOO_LARGE', 413);
/** A record published to a partition its topic does not have (OutRecord.toPartition), or a read of one. */
export const UnknownPartition = defineError('PLT_ERR_UNKNOWN_PARTITION', 500);

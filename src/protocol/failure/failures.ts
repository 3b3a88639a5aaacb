// Failure records: every way a request can fail inside the proxy, as a stable code with its source and whether a retry elsewhere may succeed.
// Pure data: policy (backoff, ejection, failure detection, failover) keys on these codes; client wording lives in each protocol's errors table.

export type FailureSource = 'client' | 'backend' | 'peer' | 'internal';

export interface FailureRecord {
  readonly code: FailureCode;
  readonly source: FailureSource;
  readonly retryable: boolean;
}

/** Numbered so a request carries its failure as a small integer (no object per failure on the hot path). */
export const F_NONE = 0;
/** The datastore or peer refused, reset or closed the connection, or is in reconnect backoff. */
export const F_CONNECTION = 1;
/** No answer within the pool's timeout. */
export const F_TIMEOUT = 2;
/** The other side sent bytes that are not a reply (or answered a request it was not asked). */
export const F_PROTOCOL = 3;
/** The datastore refused the proxy's AUTH, or a peer failed the peer_secret handshake. */
export const F_AUTH = 4;
/** The failure detector (or an operator) marks the peer down: nothing was sent. */
export const F_PEER_DOWN = 5;
/** The other side answered with an error reply (the request reached it and was refused). */
export const F_ERROR_REPLY = 6;
/** A bounded queue on the way (replication ring, held writes) was full: nothing was sent. */
export const F_QUEUE_FULL = 7;
/** No live server to send to (every backend ejected). */
export const F_NO_BACKEND = 8;

export const FAILURE_CODES = [
  'DYN_ERR_NONE',
  'DYN_ERR_CONNECTION',
  'DYN_ERR_TIMEOUT',
  'DYN_ERR_PROTOCOL',
  'DYN_ERR_AUTH',
  'DYN_ERR_PEER_DOWN',
  'DYN_ERR_ERROR_REPLY',
  'DYN_ERR_QUEUE_FULL',
  'DYN_ERR_NO_BACKEND',
] as const;

export type FailureCode = (typeof FAILURE_CODES)[number];

const RETRYABLE = [false, true, true, false, false, true, false, true, true];

/** The record for a numbered failure, as posted between threads and logged (plain data: structured clone keeps it). */
export function failureRecord(f: number, source: FailureSource): FailureRecord {
  return { code: FAILURE_CODES[f] ?? 'DYN_ERR_NONE', source, retryable: RETRYABLE[f] ?? false };
}

export function isRetryable(f: number): boolean {
  return RETRYABLE[f] ?? false;
}

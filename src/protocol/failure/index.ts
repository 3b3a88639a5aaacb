// Public face of protocol/failure: failure records (codes, source, retryable) shared by every protocol's error table.
// Pure: imports nothing of ours and does no I/O.
export {
  F_NONE, F_CONNECTION, F_TIMEOUT, F_PROTOCOL, F_AUTH, F_PEER_DOWN, F_ERROR_REPLY, F_QUEUE_FULL, F_NO_BACKEND,
  FAILURE_CODES, failureRecord, isRetryable,
} from './failures.ts';
export type { FailureCode, FailureRecord, FailureSource } from './failures.ts';

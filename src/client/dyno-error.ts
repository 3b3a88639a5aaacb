// DynoError: the one error shape of the token-aware client, a stable code per failure the caller can switch on.
// Never wraps a Redis reply error (WRONGTYPE ...): those reach the caller as ioredis raised them.

export type DynoErrorCode =
  /** No seed answered /cluster_describe (down, refused, timed out, HTTP error). */
  | 'SEED_UNREACHABLE'
  /** A seed answered, but not with a topology the client can use (garbage JSON, missing fields, a memcached pool). */
  | 'BAD_TOPOLOGY'
  /** The chosen datacenter/rack has no node in the topology. */
  | 'NO_NODE_IN_RACK'
  /** The ring cannot place the key: its rack has several nodes and no token. */
  | 'NO_OWNER'
  /** Every replica of the key was tried (or is down, not NORMAL, or has no client port) and none served it. */
  | 'NO_REPLICA'
  /** The retry policy's total time budget ran out before a replica served the request. */
  | 'RETRY_BUDGET_EXHAUSTED'
  /** A quota (token bucket per client or per node) or another interceptor shed the request. */
  | 'QUOTA_EXCEEDED'
  /** A node's pool is at its limit of requests in flight. */
  | 'POOL_EXHAUSTED'
  /** The node did not answer in time, or its connection failed. */
  | 'NODE_UNAVAILABLE'
  /** The command cannot go through the client (unknown, refused by the proxy, or not routable by key). */
  | 'UNSUPPORTED_COMMAND'
  /** The arguments are not what the command takes (keys cannot be found). */
  | 'BAD_ARGUMENTS'
  /** The client was closed. */
  | 'CLOSED';

export class DynoError extends Error {
  readonly code: DynoErrorCode;
  /** Another replica or a later attempt may succeed. */
  readonly retryable: boolean;
  /** host:port of the node concerned, when one is. */
  readonly node: string | undefined;

  constructor(code: DynoErrorCode, message: string, opts: { retryable?: boolean; node?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = 'DynoError';
    this.code = code;
    this.retryable = opts.retryable ?? false;
    this.node = opts.node;
  }
}

/** Replies by which a dynoproxy/Dynomite node says it could not serve (its datastore, a peer, its state), not the data. */
const NODE_FAULT_REPLY = /^(ERR (Storage|Peer|Dynomite):|LOADING|MASTERDOWN|TRYAGAIN)/;
/** The node's state (STANDBY, WRITES_ONLY for reads) refused the request. */
const STATE_REPLY = /^ERR Dynomite: Dynomite's current state/;

export function isNodeFaultReply(message: string): boolean {
  return NODE_FAULT_REPLY.test(message);
}

export function isStateReply(message: string): boolean {
  return STATE_REPLY.test(message);
}

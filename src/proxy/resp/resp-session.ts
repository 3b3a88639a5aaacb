// RespSession: what RESP routing, transactions, local answers and the node-state gate need of a RESP client connection.
// Never implemented here: RespClient implements it, so the request path depends on this face and not on the connection class.
import type { Socket } from 'node:net';
import type { RespRequestParser } from '../../protocol/resp/index.ts';
import type { Consistency } from '../../config/index.ts';
import type { TxState } from './tx-block.ts';
import type { ClientSubs } from './pubsub-hub.ts';
import type { TrackingState } from './resp-tracking.ts';
import type { AclUser } from './acl-user.ts';
import type { PoolContext } from '../pool-context.ts';
import type { BackendConnection, Request } from '../../io/index.ts';

export interface RespSession {
  readonly id: number;
  readonly socket: Socket;
  readonly pool: PoolContext;
  readonly closed: boolean;
  readonly parser: RespRequestParser;
  authed: boolean;
  /** The `users:` entry this connection authenticated as; null = the default user (requirepass), who may run everything. */
  user: AclUser | null;
  /** Failed AUTH budget (resp-local.ts): tokens left, and when the last one was counted back (ms). */
  authTokens: number;
  authRefillAt: number;
  /** CLIENT SETNAME. */
  name: Buffer | null;
  /** CLIENT TRACKING state (resp-tracking.ts), or null. */
  tracking: TrackingState | null;
  pushLocal(message: Uint8Array): void;
  /** The connection speaks RESP3 (HELLO 3). */
  resp3: boolean;
  /** Pub/sub subscriptions, or null (resp-pubsub.ts). */
  subs: ClientSubs | null;
  /** A pub/sub message for this subscriber. */
  deliverMessage(message: Buffer): void;
  /** The MULTI being queued, or null. */
  tx: TxState | null;
  /** The backend connection a WATCH pinned for this client (resp-watch.ts), or null; pinReleasing: the watch ended, the pin drains. */
  pin: BackendConnection | null;
  pinReleasing: boolean;
  /** client-connection.ts: requests for conn's server go on it from `first` on, after the client's earlier requests. */
  pinConnection(conn: BackendConnection, first: Request): void;
  unpinConnection(now?: boolean): void;
  /** DYNO_CONFIG:CONN_CONSISTENCY for this connection (reads and writes), or null for the node's levels. */
  consistency: Consistency | null;
  /** Queue a request in reply order (its reply comes later). */
  enqueue(req: Request): void;
  /** Answer now, in reply order, with bytes the proxy made. */
  replyLocal(reply: Uint8Array, closeAfter?: boolean): void;
  /** The buffer a large request was gathered in, handed over (no copy). */
  takeGathered(): Buffer;
}

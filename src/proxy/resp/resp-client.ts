// RespClient: a client connection speaking RESP (Redis' protocol) — parsing with RespRequestParser, routing in resp-dispatch.
// Never holds request bytes past the read callback: forwarding copies them into backend buffers.
import type { Socket } from 'node:net';
import { RespRequestParser } from '../../protocol/resp/index.ts';
import { ClientConnection } from '../client-connection.ts';
import { dispatchRequest } from './resp-dispatch.ts';
import { releasePin } from './resp-watch.ts';
import { unsubscribeAll, PUBSUB_MAX_BUFFERED } from './resp-pubsub.ts';
import type { ClientSubs } from './pubsub-hub.ts';
import type { TrackingState } from './resp-tracking.ts';
import { P } from '../../stats/index.ts';
import { RESP_ADAPTER } from '../protocol-adapter.ts';
import type { PoolContext } from '../pool-context.ts';
import type { TxState } from './tx-block.ts';
import type { RespSession } from './resp-session.ts';
import type { Consistency } from '../../config/index.ts';
import { AUTH_FAILURE_BURST } from './resp-local.ts';
import type { AclUser } from './acl-user.ts';

export class RespClient extends ClientConnection implements RespSession {
  readonly parser: RespRequestParser;
  readonly adapter = RESP_ADAPTER;
  authed: boolean;
  user: AclUser | null = null;
  authTokens = AUTH_FAILURE_BURST;
  authRefillAt = 0;
  name: Buffer | null = null;
  tx: TxState | null = null;
  /** DYNO_CONFIG:CONN_CONSISTENCY for this connection (reads and writes), or null for the node's levels. */
  consistency: Consistency | null = null;
  /** Pub/sub subscriptions (resp-pubsub.ts), or null. */
  subs: ClientSubs | null = null;
  /** CLIENT TRACKING (resp-tracking.ts), or null. */
  tracking: TrackingState | null = null;

  constructor(socket: Socket, pool: PoolContext, id: number) {
    super(socket, pool, id);
    this.parser = RESP_ADAPTER.newParser(pool);
    this.authed = pool.settings.requirepass === null && pool.settings.users.size === 0;
  }

  protected frame(buf: Buffer, start: number, end: number, gathered: boolean): void {
    if (this.parser.argc === 0) return;
    dispatchRequest(this, buf, start, end, gathered);
  }


  protected onClosed(): void {
    this.tx = null;
    releasePin(this, false);
    unsubscribeAll(this);
    if (this.tracking !== null) this.pool.tracking().disable(this);
  }

  /** A pub/sub message for this subscriber; one that stopped reading is disconnected past Redis' 32 MiB pub/sub limit. */
  deliverMessage(message: Buffer): void {
    if (this.closed) return;
    if (this.bufferedBytes > PUBSUB_MAX_BUFFERED) {
      this.pool.st[P.pubsub_slow_disconnects_total]++;
      this.socket.destroy();
      return;
    }
    this.pool.st[P.pubsub_messages_total]++;
    if (!this.resp3) return this.pushLocal(message);
    // RESP3: the same array as a push (>), Redis' out-of-band type for messages.
    const push = Buffer.from(message);
    push[0] = 0x3e;
    this.pushLocal(push);
  }
}

// RespClient: a client connection speaking RESP (Redis' protocol) — parsing with RespRequestParser, routing in resp-dispatch.
// Never holds request bytes past the read callback: forwarding copies them into backend buffers.
import type { Socket } from 'node:net';
import { RespRequestParser } from '../../protocol/resp/index.ts';
import { ClientConnection } from '../client-connection.ts';
import { dispatchRequest } from './resp-dispatch.ts';
import { releasePin } from './resp-watch.ts';
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
  }
}

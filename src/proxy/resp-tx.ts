// MULTI/EXEC through a sharding proxy: commands are queued in the proxy, then sent as one MULTI..EXEC block to the one backend that owns every key.
// Never splits a transaction over backends: a command whose keys live elsewhere is refused and the transaction aborts at EXEC, as Redis does for queue-time errors.
import { keyIndexes, type CommandSpec } from '../commands/index.ts';
import { acquireRequest, completeLocally, K_CLIENT, K_INTERNAL_DISCARD } from './request.ts';
import type { BackendServer } from './backend.ts';
import { monotonicMs } from './clock.ts';
import { scratch, ensureScratch, encReset, encHeader, encBulk } from './scratch.ts';
import * as R from './resp-replies.ts';
import type { RespClient } from './resp-client.ts';

const MULTI = Buffer.from('*1\r\n$5\r\nMULTI\r\n');
const EXEC = Buffer.from('*1\r\n$4\r\nEXEC\r\n');

/** Proxy-answered commands that Redis also accepts inside MULTI and that need no connection state. */
const FORWARDABLE_IN_TX = new Set(['ping', 'echo', 'time']);
const CLUSTER_TX = R.errReply(
  'ERR dynoproxy: MULTI/EXEC is not supported on a cluster node (as in Dynomite); use EVAL with the keys under one hash tag',
);

export class TxState {
  count = 0;
  dirty = false;
  server: BackendServer | null = null;
  buf = Buffer.allocUnsafe(4096);
  len = 0;
  ends: number[] = [];

  append(src: Uint8Array, start: number, end: number): void {
    const n = end - start;
    if (this.len + n > this.buf.length) {
      const nb = Buffer.allocUnsafe(Math.max(this.buf.length * 2, this.len + n));
      this.buf.copy(nb, 0, 0, this.len);
      this.buf = nb;
    }
    this.buf.set(src.subarray(start, end), this.len);
    this.len += n;
    this.ends.push(this.len);
    this.count++;
  }
}

export function isTxControl(spec: CommandSpec): boolean {
  const n = spec.name;
  return n === 'exec' || n === 'discard' || n === 'multi' || n === 'quit' || n === 'reset' || n === 'watch' || n === 'unwatch';
}

export function txBegin(c: RespClient): void {
  if (c.tx !== null) return c.replyLocal(R.errReply('ERR MULTI calls can not be nested'));
  // A transaction's replicas would be applied one command at a time on other racks: refused, as Dynomite does.
  if (c.pool.cluster !== null) return c.replyLocal(CLUSTER_TX);
  c.tx = new TxState();
  c.replyLocal(R.OK);
}

/** A queue-time error: the client sees it now and EXEC aborts, as in Redis. */
export function txError(c: RespClient, reply: Uint8Array): void {
  if (c.tx !== null) c.tx.dirty = true;
  c.replyLocal(reply);
}

export function txQueue(c: RespClient, spec: CommandSpec, buf: Buffer, start: number, end: number): void {
  const tx = c.tx as TxState;
  const p = c.parser;
  if (spec.route === 'refused') return txError(c, R.refusedReply(spec));
  if (spec.route === 'proxy' && !FORWARDABLE_IN_TX.has(spec.name)) {
    return txError(c, R.errReply(`ERR dynoproxy: '${spec.name.replace('|', ' ').toUpperCase()}' is answered by the proxy and cannot be part of MULTI`));
  }
  if (spec.route === 'broadcast' || spec.route === 'broadcast-sum') {
    return txError(c, R.errReply(`ERR dynoproxy: '${spec.name.replace('|', ' ').toUpperCase()}' goes to every backend and cannot be part of MULTI`));
  }
  ensureScratch(p.argc, c.pool.servers.length);
  const n = keyIndexes(spec, p.argBuf, p.argOff, p.argLen, p.argc, scratch.keyIdx);
  if (n < 0) return txError(c, R.keyErrorReply(n, spec, p.argBuf, p.argOff, p.argLen, p.argc));
  for (let i = 0; i < n; i++) {
    const k = scratch.keyIdx[i];
    const s = c.pool.router.serverFor(p.argBuf, p.argOff[k], p.argOff[k] + p.argLen[k]);
    if (s === null) return txError(c, R.NO_BACKEND);
    if (tx.server === null) tx.server = s;
    else if (tx.server !== s) {
      return txError(c, R.errReply('ERR dynoproxy: every key of a MULTI transaction must map to one backend; put them under one hash tag, e.g. {user1}a and {user1}b'));
    }
  }
  if (p.inline) {
    encReset();
    encHeader(0x2a, p.argc);
    for (let i = 0; i < p.argc; i++) encBulk(p.argBuf, p.argOff[i], p.argLen[i]);
    tx.append(scratch.enc, 0, scratch.encLen);
  } else tx.append(buf, start, end);
  c.replyLocal(R.QUEUED);
}

export function txExec(c: RespClient): void {
  const tx = c.tx;
  if (tx === null) return c.replyLocal(R.errReply('ERR EXEC without MULTI'));
  c.tx = null;
  if (tx.dirty) return c.replyLocal(R.EXECABORT);
  if (tx.count === 0) return c.replyLocal(R.EMPTY_ARRAY);
  const server = tx.server ?? c.pool.router.anyServer();
  const execReq = acquireRequest(K_CLIENT);
  c.enqueue(execReq);
  if (server === null) return completeLocally(execReq, R.NO_BACKEND);
  const conn = server.pick(monotonicMs());
  if (conn === null) return completeLocally(execReq, R.storageErrorReply(server.lastError));
  // One contiguous block on one pipelined connection: no other client's request can land inside it.
  conn.send(acquireRequest(K_INTERNAL_DISCARD), MULTI, 0, MULTI.length);
  let from = 0;
  for (const e of tx.ends) {
    conn.send(acquireRequest(K_INTERNAL_DISCARD), tx.buf, from, e);
    from = e;
  }
  conn.send(execReq, EXEC, 0, EXEC.length);
}

export function txDiscard(c: RespClient, reply = false): void {
  if (c.tx === null) {
    if (reply) c.replyLocal(R.errReply('ERR DISCARD without MULTI'));
    return;
  }
  c.tx = null;
  if (reply) c.replyLocal(R.OK);
}

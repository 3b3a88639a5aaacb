// MULTI/EXEC through a sharding proxy: commands are queued in the proxy, then sent as one MULTI..EXEC block to the one backend (or, on a
// cluster node, the one owner in each rack) that owns every key. Never splits a transaction over owners and never sends anything before EXEC:
// a command whose keys live elsewhere is refused and the transaction aborts at EXEC, as Redis does for queue-time errors.
import { keyIndexes, isWrite, type CommandSpec } from '../../commands/index.ts';
import { acquireRequest, completeLocally, K_CLIENT } from '../../io/index.ts';
import { scratch, ensureScratch, encReset, encHeader, encBulk } from '../routing/scratch.ts';
import * as R from './resp-replies.ts';
import { TxState, MULTI, EXEC } from './tx-block.ts';
import { clusterTxPlace, clusterTxExec } from './resp-cluster-tx.ts';
import type { RespSession } from './resp-session.ts';
import { releasePin, watchedServer } from './resp-watch.ts';

export { TxState };

/** MULTI and EXEC around the queued commands. */
const TX_BLOCK_OVERHEAD = MULTI.length + EXEC.length;

/** Proxy-answered commands that Redis also accepts inside MULTI and that need no connection state. */
const FORWARDABLE_IN_TX = new Set(['ping', 'echo', 'time']);

export function isTxControl(spec: CommandSpec): boolean {
  const n = spec.name;
  return n === 'exec' || n === 'discard' || n === 'multi' || n === 'quit' || n === 'reset' || n === 'watch' || n === 'unwatch';
}

export function txBegin(c: RespSession): void {
  if (c.tx !== null) return c.replyLocal(R.errReply('ERR MULTI calls can not be nested'));
  c.tx = new TxState();
  c.replyLocal(R.OK);
}

/** A queue-time error: the client sees it now and EXEC aborts, as in Redis; nothing queued is kept. */
export function txError(c: RespSession, reply: Uint8Array): void {
  if (c.tx !== null) c.tx.drop();
  c.replyLocal(reply);
}

export function txQueue(c: RespSession, spec: CommandSpec, buf: Buffer, start: number, end: number): void {
  const tx = c.tx as TxState;
  const p = c.parser;
  const limits = c.pool.config;
  // Counted before anything else: a client queueing without end is refused past the bound whatever it sends.
  if (++tx.count > limits.maxTxCommands) return txError(c, R.txTooManyCommands(limits.maxTxCommands));
  if (spec.route === 'refused') return txError(c, R.refusedReply(spec));
  if (spec.route === 'proxy' && !FORWARDABLE_IN_TX.has(spec.name)) return txError(c, R.txProxyAnswered(spec));
  if (spec.route === 'broadcast' || spec.route === 'broadcast-sum' || spec.route === 'keyspace') return txError(c, R.txBroadcast(spec));
  ensureScratch(p.argc, c.pool.servers.length);
  const n = keyIndexes(spec, p.argBuf, p.argOff, p.argLen, p.argc, scratch.keyIdx);
  if (n < 0) return txError(c, R.keyErrorReply(n, spec, p.argBuf, p.argOff, p.argLen, p.argc));
  const cl = c.pool.cluster;
  if (cl !== null) {
    const refusal = clusterTxPlace(cl, tx, spec, p, n);
    if (refusal !== null) return txError(c, refusal);
  } else {
    const watched = watchedServer(c);
    for (let i = 0; i < n; i++) {
      const k = scratch.keyIdx[i];
      const s = c.pool.router.serverFor(p.argBuf, p.argOff[k], p.argOff[k] + p.argLen[k]);
      if (s === null) return txError(c, R.NO_BACKEND);
      if (tx.server === null) tx.server = s;
      else if (tx.server !== s) return txError(c, R.TX_ONE_BACKEND);
      if (watched !== null && s !== watched) return txError(c, R.TX_NOT_WATCHED);
    }
  }
  if (isWrite(spec)) tx.write = true;
  // A transaction already refused is discarded at EXEC: its later commands are checked, answered, and not kept.
  if (tx.dirty) return c.replyLocal(R.QUEUED);
  let src: Uint8Array = buf;
  let s = start;
  let e = end;
  if (p.inline) {
    encReset();
    encHeader(0x2a, p.argc);
    for (let i = 0; i < p.argc; i++) encBulk(p.argBuf, p.argOff[i], p.argLen[i]);
    src = scratch.enc;
    s = 0;
    e = scratch.encLen;
  }
  // On a cluster node the block may travel to a peer as one request: it must also fit the peers' max_request_bytes.
  const maxBytes = cl === null ? limits.maxTxBytes : Math.min(limits.maxTxBytes, limits.maxRequestBytes - TX_BLOCK_OVERHEAD);
  if (tx.len + (e - s) > maxBytes) return txError(c, R.txTooManyBytes(maxBytes));
  tx.append(src, s, e);
  c.replyLocal(R.QUEUED);
}

export function txExec(c: RespSession): void {
  const tx = c.tx;
  if (tx === null) return c.replyLocal(R.errReply('ERR EXEC without MULTI'));
  c.tx = null;
  if (tx.dirty) {
    releasePin(c, false);
    return c.replyLocal(R.EXECABORT);
  }
  // Under WATCH even an empty transaction goes to the datastore: its EXEC answers nil when a watched key changed.
  if (tx.count === 0 && watchedServer(c) === null) return c.replyLocal(R.EMPTY_ARRAY);
  const cl = c.pool.cluster;
  if (cl !== null) {
    clusterTxExec(c, cl, tx);
    // EXEC unwatches: the pinned connection is clean once the block is on it.
    return releasePin(c, true);
  }
  const server = watchedServer(c) ?? tx.server ?? c.pool.router.anyServer();
  const execReq = acquireRequest(K_CLIENT);
  c.enqueue(execReq);
  if (server === null) return completeLocally(execReq, R.NO_BACKEND);
  // One contiguous block on one pipelined connection (the client's pinned one under WATCH): no other client's request lands inside it.
  server.sendBlock(execReq, tx.block(), 0, tx.blockEnds(), MULTI.length + tx.len + EXEC.length);
  releasePin(c, true);
}

export function txDiscard(c: RespSession, reply = false): void {
  if (c.tx === null) {
    if (reply) c.replyLocal(R.errReply('ERR DISCARD without MULTI'));
    return;
  }
  c.tx = null;
  // DISCARD unwatches, as in Redis.
  releasePin(c, false);
  if (reply) c.replyLocal(R.OK);
}

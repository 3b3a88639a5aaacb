// RESP's front of cluster routing: a keyed command's keys hashed, then one strategy (routing/strategies.ts, routing/split.ts) chosen
// for it; RespSplit is RESP's SplitRequest (key positions, piece encoding, merges). Never sends a byte itself: the strategies do.
import { RESP_ADAPTER } from '../protocol-adapter.ts';
import { isWrite, blockTimeoutMs, F_BLOCKING, type CommandSpec } from '../../commands/index.ts';
import { clusterBlocking } from './resp-blocking.ts';
import { acquireRequest, failRequest, K_CLIENT, type Merge, monotonicMs } from '../../io/index.ts';
import { scratch, encodeKeyPiece, type Args } from '../routing/scratch.ts';
import { SumMerge, AllOkMerge } from '../routing/merge.ts';
import { MgetStreamMerge } from '../routing/mget-stream-merge.ts';
import { F_NO_BACKEND } from '../../protocol/failure/index.ts';
import type { ClusterRuntime, RespClientLike } from '../routing/cluster-runtime.ts';
import { colocated, hashScratch, keyRoute, routeToReplicas, SPLIT, type ClusterWords, type SplitRequest } from '../routing/cluster-walk.ts';

export type { ClusterRuntime, DynomiteCheck, RespClientLike } from '../routing/cluster-runtime.ts';

const RESP_WORDS: ClusterWords = RESP_ADAPTER.words;
const NO_ARGS: Args = { argBuf: new Uint8Array(0), argOff: new Int32Array(0), argLen: new Int32Array(0), argc: 0 };

/**
 * RESP's SplitRequest: the keys are argv entries scratch.keyIdx[0..count) of `a`; a piece keeps the client's command name and,
 * for MSET-like commands (split-pairs), each key's value. One per worker, bound per request.
 */
export class RespSplit implements SplitRequest {
  count = 0;
  write = false;
  readonly replyKind = 0;
  readonly group = -1;
  private a: Args = NO_ARGS;
  private route: CommandSpec['route'] = 'single';

  bind(a: Args, n: number, spec: CommandSpec, write: boolean): this {
    this.a = a;
    this.count = n;
    this.route = spec.route;
    this.write = write;
    return this;
  }

  keyBuf(): Uint8Array {
    return this.a.argBuf;
  }

  keyStart(i: number): number {
    return this.a.argOff[scratch.keyIdx[i]];
  }

  keyEnd(i: number): number {
    const k = scratch.keyIdx[i];
    return this.a.argOff[k] + this.a.argLen[k];
  }

  encodePiece(owner: Int32Array, node: number): void {
    encodeKeyPiece(this.a, this.count, owner, node, this.route === 'split-pairs');
  }

  /** MGET: values streamed back in key order; DEL/EXISTS/TOUCH/UNLINK: a sum; MSET: OK when every piece is. */
  newMerge(pieces: number): Merge {
    if (this.route === 'split-concat') {
      const m = new MgetStreamMerge(pieces, this.count);
      m.setKeyParts(scratch.keyPiece);
      return m;
    }
    return this.route === 'split-pairs' ? new AllOkMerge() : new SumMerge();
  }
}

export const respSplit = new RespSplit();

/** Hash every key once (scratch.keyIdx[0..n)). */
export function hashKeys(cl: ClusterRuntime, a: Args, n: number): Float64Array {
  const hashes = hashScratch(n);
  const k = scratch.keyIdx;
  for (let i = 0; i < n; i++) hashes[i] = cl.keyHash(a.argBuf, a.argOff[k[i]], a.argOff[k[i]] + a.argLen[k[i]]);
  return hashes;
}

/**
 * Route a keyed request in cluster mode. `bytes[start,end)` is the request as RESP; its keys are scratch.keyIdx[0..n).
 * Returns false when the keys cannot be served together (the caller answers with the same-node error).
 */
export function clusterRoute(c: RespClientLike, cl: ClusterRuntime, spec: CommandSpec, a: Args, n: number, bytes: Uint8Array, start: number, end: number, splittable: boolean): boolean {
  const gate = cl.dynomite === null ? -1 : cl.dynomite.admit(c, spec, a, n, splittable);
  if (gate >= 0) return gate === 1;
  const view = cl.current();
  const write = isWrite(spec);
  if (n === 0) {
    // Keyless (EVAL with no keys ...): this node's datastore.
    const req = acquireRequest(K_CLIENT);
    req.startedAt = monotonicMs();
    c.enqueue(req);
    const s = cl.localServerFor(a.argBuf, 0, 0);
    if (s === null) {
      const why = cl.localRefusal();
      failRequest(req, F_NO_BACKEND, why === null ? RESP_WORDS.noBackend : RESP_WORDS.noBackendBecause(why));
    } else s.send(req, bytes, start, end);
    return true;
  }
  const h = hashKeys(cl, a, n);
  if ((spec.flags & F_BLOCKING) !== 0) {
    const blockMs = blockTimeoutMs(spec, a.argBuf, a.argOff, a.argLen, a.argc);
    if (blockMs >= 0) return clusterBlocking(c, cl, view, spec, a, n, h, bytes, start, end, blockMs, RESP_WORDS);
  }
  if (colocated(view, write ? view.allRacksByDc : view.localRacks, h, n)) {
    const level = c.consistency ?? (write ? cl.writeConsistency() : cl.readConsistency());
    const key = scratch.keyIdx[0];
    // One owner per rack: the strategy for the level sends, waits on a quorum if asked, and replicates.
    const r = keyRoute.key(a.argBuf, a.argOff[key], a.argOff[key] + a.argLen[key], h[0]).payload(bytes, start, end, write, 0, 0, -1);
    r.repairable = n === 1;
    routeToReplicas(c, cl, view, level, r, RESP_WORDS);
    return true;
  }
  if (!splittable) return false;
  SPLIT.route(c, cl, view, respSplit.bind(a, n, spec, write), h, RESP_WORDS);
  return true;
}

/** A RESP write split per owner, for the racks nobody waits on (see SPLIT.replicate); the peer server's fan-out uses it. */
export function replicatePieces(cl: ClusterRuntime, a: Args, n: number, h: Float64Array, spec: CommandSpec, localOnly: boolean): void {
  SPLIT.replicate(cl, respSplit.bind(a, n, spec, true), h, localOnly);
}

/** A RESP write split per owner, for one rack of this datacenter (see SPLIT.toRack). */
export function replicatePiecesToRack(cl: ClusterRuntime, a: Args, n: number, h: Float64Array, spec: CommandSpec, rack: number): void {
  SPLIT.toRack(cl, respSplit.bind(a, n, spec, true), h, rack);
}

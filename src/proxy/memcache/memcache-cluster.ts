// Memcached requests on a cluster node (data_store 1 with dyn_listen): one-key commands and multi-gets over the shared cluster walk
// (cluster-walk.ts). Never sends a peer or replica `noreply` or the meta `q` flag as-is (a peer's reply stream would desync): they are
// cut here and the reply is dropped at this node. A `cas` is checked by the local rack's owner only and replicated as a `set` once it stored.
import { MEMCACHE_ADAPTER } from '../protocol-adapter.ts';
import * as M from '../../protocol/memcache/index.ts';
import { newComposite, newPart, DROP_ALL, DROP_EN, DROP_HD, DROP_HD_VA, DROP_NONE, type Merge, monotonicMs } from '../../io/index.ts';
import { scratch, ensureScratch, encReset, encRaw } from '../routing/scratch.ts';
import { MemcacheGetStreamMerge } from './memcache-merge.ts';
import { commandGroupIndex } from '../../stats/index.ts';
import type { ClusterRuntime } from '../routing/cluster-runtime.ts';
import {
  colocated, hashScratch, keyRoute, routeToReplicas, sendToNode, KeyRoute, REPLICATE, SPLIT, type ClusterClient, type ClusterWords, type SplitRequest,
} from '../routing/cluster-walk.ts';

const GROUP = commandGroupIndex('memcached');
const CRLF = Buffer.from('\r\n');
const SPACE = Buffer.from(' ');
const SET = Buffer.from('set');
const DELETE = Buffer.from('delete ');

/** What the cluster walk answers itself, in Dynomite's memcached words. */
export const MEMCACHE_WORDS: ClusterWords = MEMCACHE_ADAPTER.words;

/** What cluster routing needs of a memcached client connection. */
export interface MemcacheClusterClient extends ClusterClient {
  readonly parser: M.MemcacheRequestParser;
  readonly pool: { readonly st: Float64Array };
  replyLocal(reply: Uint8Array): void;
}

/** Commands that change the datastore: written to every rack and datacenter. mg and me are reads (as gat/gats are). */
export function isMemcacheWrite(cmd: number): boolean {
  return (cmd >= M.CMD_SET && cmd <= M.CMD_TOUCH) || cmd === M.CMD_MS || cmd === M.CMD_MD || cmd === M.CMD_MA;
}

/** Which replies a meta `q` request does not show. */
function quietDrop(cmd: number): number {
  return cmd === M.CMD_MG ? DROP_EN : cmd === M.CMD_MA ? DROP_HD_VA : DROP_HD;
}

/** One-key commands: storage, delete, incr/decr, touch, meta. */
export function clusterKeyed(c: MemcacheClusterClient, cl: ClusterRuntime, buf: Buffer, start: number, end: number): void {
  const p = c.parser;
  const view = cl.current();
  const write = isMemcacheWrite(p.cmd);
  let drop = DROP_NONE;
  let cut = -1;
  let cutLen = 0;
  if (p.noreply) {
    drop = DROP_ALL;
    cut = M.noreplyTokenStart(p, buf);
    cutLen = M.NOREPLY_CUT;
  } else if (p.quiet) {
    drop = quietDrop(p.cmd);
    cut = M.quietFlagStart(p, buf);
    cutLen = M.QUIET_CUT;
  }
  let bytes: Uint8Array = buf;
  let s = start;
  let e = end;
  if (cut >= 0) {
    encReset();
    encRaw(buf, start, cut);
    encRaw(buf, cut + cutLen, end);
    bytes = scratch.enc;
    s = 0;
    e = scratch.encLen;
  }
  // The meta b flag: placement hashes the decoded key, so it agrees with clients that send the key unencoded.
  const kb: Uint8Array = p.keyBinary ? p.decodedKey : buf;
  const ks = p.keyBinary ? 0 : p.keyOff[0];
  const ke = p.keyBinary ? p.decodedKeyLen : p.keyOff[0] + p.keyLen[0];
  const r = keyRoute.key(kb, ks, ke, cl.keyHash(kb, ks, ke)).payload(bytes, s, e, write, M.replyKindFor(p.cmd), drop, GROUP);
  if (p.cmd === M.CMD_CAS) return casThenReplicate(c, cl, r, casAsSet(p, buf));
  if (p.cmd === M.CMD_MS && p.hasMetaFlag(0x43)) return casThenReplicate(c, cl, r, msWithoutCompare(r));
  // A cas unique belongs to one memcached server: a read that returns one asks the local rack's owner only.
  const level = write ? cl.writeConsistency() : p.cmd === M.CMD_MG && p.hasMetaFlag(0x63) ? 'DC_ONE' : cl.readConsistency();
  routeToReplicas(c, cl, view, level, r, MEMCACHE_WORDS);
}

/** get/gets/gat/gats: keys with one owner per local rack go as they are; others are split per owner in this rack and merged in key order. */
export function clusterRetrieval(c: MemcacheClusterClient, cl: ClusterRuntime, buf: Buffer, start: number, end: number): void {
  const p = c.parser;
  const n = p.keyCount;
  if (n === 0) return c.replyLocal(M.REPLY_END);
  const view = cl.current();
  ensureScratch(n, 0);
  const h = hashScratch(n);
  for (let i = 0; i < n; i++) h[i] = cl.keyHash(buf, p.keyOff[i], p.keyOff[i] + p.keyLen[i]);
  if (colocated(view, view.localRacks, h, n)) {
    const r = keyRoute.key(buf, p.keyOff[0], p.keyOff[0] + p.keyLen[0], h[0]).payload(buf, start, end, false, M.RK_RETRIEVAL, DROP_NONE, GROUP);
    // gets/gats return cas uniques, which belong to one memcached server: the local rack's owner answers alone.
    const level = p.cmd === M.CMD_GETS || p.cmd === M.CMD_GATS ? 'DC_ONE' : cl.readConsistency();
    return routeToReplicas(c, cl, view, level, r, MEMCACHE_WORDS);
  }
  SPLIT.route(c, cl, view, memcacheGetSplit.bind(p, buf, start), h, MEMCACHE_WORDS);
}

/**
 * memcached's SplitRequest for get/gets/gat/gats: the parser's keys; a piece is the command word (and the exptime of gat/gats)
 * followed by the piece's keys; the merge puts values back in the client's key order. One per worker, bound per request.
 */
class MemcacheGetSplit implements SplitRequest {
  count = 0;
  readonly write = false;
  readonly replyKind = M.RK_RETRIEVAL;
  readonly group = GROUP;
  private p: M.MemcacheRequestParser | null = null;
  private buf: Buffer = Buffer.alloc(0);
  private start = 0;

  bind(p: M.MemcacheRequestParser, buf: Buffer, start: number): this {
    this.p = p;
    this.buf = buf;
    this.start = start;
    this.count = p.keyCount;
    return this;
  }

  keyBuf(): Uint8Array {
    return this.buf;
  }

  keyStart(i: number): number {
    return (this.p as M.MemcacheRequestParser).keyOff[i];
  }

  keyEnd(i: number): number {
    const p = this.p as M.MemcacheRequestParser;
    return p.keyOff[i] + p.keyLen[i];
  }

  encodePiece(owner: Int32Array, node: number): void {
    encodeGetKeys(this.p as M.MemcacheRequestParser, this.buf, this.start, this.count, owner, node);
  }

  newMerge(pieces: number): Merge {
    return getMerge(this.p as M.MemcacheRequestParser, this.buf, this.count, pieces);
  }
}

const memcacheGetSplit = new MemcacheGetSplit();

/** The command word (everything before the first key) and the keys i with owner[i] === which, into scratch.enc. Returns the first such key. */
function encodeGetKeys(p: M.MemcacheRequestParser, buf: Buffer, start: number, n: number, owner: Int32Array, which: number): number {
  let first = -1;
  encReset();
  encRaw(buf, start, p.keyOff[0]);
  for (let i = 0; i < n; i++) {
    if (owner[i] !== which) continue;
    if (first >= 0) encRaw(SPACE, 0, 1);
    else first = i;
    encRaw(buf, p.keyOff[i], p.keyOff[i] + p.keyLen[i]);
  }
  encRaw(CRLF, 0, 2);
  return first;
}

/** The merge of a multi-get split into `pieces` (groupByOwner's keyPiece): values back in the client's key order. */
export function getMerge(p: M.MemcacheRequestParser, buf: Buffer, n: number, pieces: number): MemcacheGetStreamMerge {
  const merge = new MemcacheGetStreamMerge(pieces, n);
  merge.setKeyParts(scratch.keyPiece);
  merge.setKeys(buf, p.keyOff, p.keyLen);
  return merge;
}

/**
 * One piece of a multi-get into scratch.enc: the command word (and, for gat/gats, the exptime: everything before the first key),
 * then the keys groupByOwner put in `piece`, in the client's order. Returns the index of the piece's first key.
 */
export function encodeGetPiece(p: M.MemcacheRequestParser, buf: Buffer, start: number, n: number, piece: number): number {
  return encodeGetKeys(p, buf, start, n, scratch.keyPiece, piece);
}

/** The key of a too-large value is deleted on every replica, as memcached unlinks it (replies dropped, failures counted). */
export function clusterUnlink(cl: ClusterRuntime, p: M.MemcacheRequestParser, buf: Buffer): void {
  const ks = p.keyOff[0];
  const ke = ks + p.keyLen[0];
  encReset();
  encRaw(DELETE, 0, DELETE.length);
  encRaw(buf, ks, ke);
  encRaw(CRLF, 0, 2);
  REPLICATE.all(cl, keyRoute.key(buf, ks, ke, cl.keyHash(buf, ks, ke)).payload(scratch.enc, 0, scratch.encLen, true, M.RK_DELETE, DROP_NONE, GROUP), true);
}

const casOut = new Int32Array(1);
/** Replication of a cas that stored; its own route, since the reply arrives outside any routing call. */
const casRoute = new KeyRoute();

/**
 * A cas unique belongs to one memcached server: only the owner in this rack can check it. Once it answers STORED, the other racks and
 * datacenters get the same value as a `set` (fire-and-forget, like every replica write). Any consistency level is DC_ONE for cas.
 */
function casThenReplicate(c: MemcacheClusterClient, cl: ClusterRuntime, r: KeyRoute, set: Buffer | null): void {
  const key = Buffer.from(r.kb.subarray(r.ks, r.ke));
  const parent = newComposite(c, new CasThenReplicate(cl, set, key, r.hash), 1, GROUP, monotonicMs());
  parent.dropMode = r.dropMode;
  const view = cl.view;
  sendToNode(cl, view.ownerInRack(view.localRacks[0], r.hash), r, newPart(parent, 0, M.RK_STORAGE), MEMCACHE_WORDS);
}

/** `cas <key> <flags> <exptime> <bytes> <unique>` + data as `set <key> <flags> <exptime> <bytes>` + data (null if not so shaped). */
function casAsSet(p: M.MemcacheRequestParser, buf: Buffer): Buffer | null {
  const at = M.casUniqueStart(p, buf, casOut);
  if (at < 0 || p.dataLen < 0) return null;
  const cmdEnd = casOut[0];
  const set = Buffer.allocUnsafe(SET.length + (at - cmdEnd) + 2 + p.dataLen + 2);
  let o = SET.copy(set, 0);
  o += buf.copy(set, o, cmdEnd, at);
  o += CRLF.copy(set, o);
  buf.copy(set, o, p.dataStart, p.dataStart + p.dataLen + 2);
  return set;
}

/** The ms being routed (noreply / q already cut) without its C<unique> compare flag: what the other replicas store. */
function msWithoutCompare(r: KeyRoute): Buffer {
  const src = Buffer.from(r.bytes.buffer, r.bytes.byteOffset, r.bytes.byteLength);
  let lineEnd = r.start;
  while (lineEnd < r.end && src[lineEnd] !== 10) lineEnd++;
  // The flags follow three tokens: ms, the key and the data length.
  let i = r.start;
  for (let tok = 0; tok < 3; tok++) {
    while (i < lineEnd && src[i] === 0x20) i++;
    while (i < lineEnd && src[i] !== 0x20 && src[i] !== 0x0d && src[i] !== 0x0a) i++;
  }
  for (; i < lineEnd; i++) {
    if (src[i] !== 0x43 || src[i - 1] !== 0x20) continue;
    let j = i + 1;
    while (j < lineEnd && src[j] !== 0x20 && src[j] !== 0x0d && src[j] !== 0x0a) j++;
    return Buffer.concat([src.subarray(r.start, i - 1), src.subarray(j, r.end)]);
  }
  return Buffer.from(src.subarray(r.start, r.end));
}

const STORED = M.REPLY_STORED;

/** STORED (cas) or HD (ms): the compare passed and the value was stored. */
function isStored(buf: Uint8Array, start: number, end: number): boolean {
  if (end - start === STORED.length) {
    for (let i = 0; i < STORED.length; i++) if (buf[start + i] !== STORED[i]) return false;
    return true;
  }
  return end - start >= 4 && buf[start] === 0x48 && buf[start + 1] === 0x44 && (buf[start + 2] === 0x20 || buf[start + 2] === 0x0d);
}

/** One piece (the local rack owner's cas); on STORED the value goes to every other replica as a set. */
class CasThenReplicate implements Merge {
  /** A cas that stored is replicated even when its client left before the answer. */
  readonly hasSideEffects = true;
  private reply: Buffer = M.SERVER_ERROR_PEER_NOT_CONNECTED;
  private readonly cl: ClusterRuntime;
  private readonly set: Buffer | null;
  private readonly key: Buffer;
  private readonly hash: number;

  constructor(cl: ClusterRuntime, set: Buffer | null, key: Buffer, hash: number) {
    this.cl = cl;
    this.set = set;
    this.key = key;
    this.hash = hash;
  }

  part(_index: number, buf: Uint8Array, start: number, end: number, isError: boolean): void {
    this.reply = Buffer.from(buf.subarray(start, end));
    if (isError || this.set === null || !isStored(buf, start, end)) return;
    const r = casRoute.key(this.key, 0, this.key.length, this.hash).payload(this.set, 0, this.set.length, true, M.RK_STORAGE, DROP_NONE, GROUP);
    REPLICATE.all(this.cl, r, false);
  }

  finish(): Uint8Array {
    return this.reply;
  }
}

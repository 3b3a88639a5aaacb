// RESP request routing: one strategy per routing shape of the command table (single, same-node, split, broadcast, local, refused).
// Never converts keys to strings, and forwards the client's own bytes unless a request must be rebuilt (split, inline).
import { resolveCommand, arityOk, keyIndexes, blockTimeoutMs, isWrite, ALL_COMMANDS, F_BLOCKING, F_DENYOOM, type CommandSpec } from '../../commands/index.ts';
import { blockingFull, blockingRoom } from './resp-blocking.ts';
import { P, commandGroupIndex } from '../../stats/index.ts';
import { CONSISTENCIES } from '../../config/index.ts';
import { acquireRequest, newComposite, newPart, K_CLIENT, type Request, type Merge, DIRECT_WRITE_THRESHOLD, monotonicMs } from '../../io/index.ts';
import type { BackendServer } from '../../io/index.ts';
import { scratch, ensureScratch, encReset, encHeader, encBulk, encodeKeyPiece, groupByOwner } from '../routing/scratch.ts';
import { SumMerge, AllOkMerge, FirstReplyMerge } from '../routing/merge.ts';
import { MgetStreamMerge } from '../routing/mget-stream-merge.ts';
import { answerLocally } from './resp-local.ts';
import { clusterRoute } from './resp-cluster.ts';
import { BROADCAST } from '../routing/cluster-walk.ts';
import { txQueue, isTxControl, txError } from './resp-tx.ts';
import { watch } from './resp-watch.ts';
import { keyspaceCommand } from './resp-keyspace.ts';
import { pubsubCommand, subscribedRefusal, subscribedPing } from './resp-pubsub.ts';
import { unknownCommandReply, wrongArityReply, refusedReply, errReply, keyErrorReply, NOAUTH, OK } from './resp-replies.ts';
import { aclRefusal } from './resp-acl.ts';
import type { RespSession } from './resp-session.ts';
import { nodeStateBlocks } from '../node-state.ts';

let testHooks = false;
/** Command family of the request being dispatched (stats), indexed by CommandSpec.id. */
const GROUP_OF = buildGroupIndex();
let currentGroup = -1;

function buildGroupIndex(): Int32Array {
  const max = ALL_COMMANDS.reduce((m, s) => Math.max(m, s.id), 0);
  const a = new Int32Array(max + 1);
  for (const s of ALL_COMMANDS) a[s.id] = commandGroupIndex(s.group === '' ? (s.parent?.group ?? 'generic') : s.group);
  return a;
}

/**
 * DYNOPROXY_TEST_HOOKS=1 enables DYNOPROXY.CRASH, which throws while serving the request (tests of crash containment: that connection
 * closes, the worker goes on), DYNOPROXY.CRASH WORKER, which throws outside any connection (tests of worker restart), and
 * DYNOPROXY.CRASH ACCEPT <EMFILE|...>, which makes the client listener report that accept error (tests of the accept guard).
 */
export function setTestHooks(on: boolean): void {
  testHooks = on;
}

const CRASH = Buffer.from('dynoproxy.crash');
/** Redis' words when maxmemory refuses a command (here: the process past max_memory). */
const OOM = errReply("OOM command not allowed when used memory > 'maxmemory'.");
/** Dynomite's per-connection consistency command: `DYNO_CONFIG:CONN_CONSISTENCY <level>`. */
const DYNO_CONFIG = Buffer.from('dyno_config:conn_consistency');

function isDynoConfig(p: RespSession['parser']): boolean {
  const o = p.argOff[0];
  for (let i = 0; i < DYNO_CONFIG.length; i++) if ((p.argBuf[o + i] | 0x20) !== (DYNO_CONFIG[i] | 0x20)) return false;
  return true;
}

function connConsistency(c: RespSession): void {
  const p = c.parser;
  if (p.argc !== 2) return c.replyLocal(wrongArityReply('dyno_config:conn_consistency'));
  const level = Buffer.from(p.argBuf.subarray(p.argOff[1], p.argOff[1] + p.argLen[1])).toString('latin1').toUpperCase();
  const known = CONSISTENCIES.find((l) => l === level);
  if (known === undefined) return c.replyLocal(errReply(`ERR invalid consistency level '${level}': use ${CONSISTENCIES.join(', ')}`));
  c.consistency = known;
  c.replyLocal(OK);
}

export function dispatchRequest(c: RespSession, buf: Buffer, start: number, end: number, gathered: boolean): void {
  const p = c.parser;
  c.pool.st[P.requests_total]++;
  const spec = resolveCommand(p.argBuf, p.argOff, p.argLen, p.argc);
  if (spec === undefined) {
    if (p.argLen[0] === DYNO_CONFIG.length && isDynoConfig(p)) return connConsistency(c);
    if (testHooks && p.argLen[0] === CRASH.length && Buffer.from(p.argBuf.buffer, p.argBuf.byteOffset + p.argOff[0], p.argLen[0]).toString('latin1').toLowerCase() === 'dynoproxy.crash') {
      const what = p.argc >= 2 ? Buffer.from(p.argBuf.buffer, p.argBuf.byteOffset + p.argOff[1], p.argLen[1]).toString('latin1').toLowerCase() : '';
      if (what === 'worker') {
        setImmediate(() => {
          throw new Error('DYNOPROXY.CRASH WORKER: worker crash requested by a test');
        });
        return;
      }
      if (what === 'accept' && p.argc === 3) {
        c.pool.injectAcceptError(Buffer.from(p.argBuf.buffer, p.argBuf.byteOffset + p.argOff[2], p.argLen[2]).toString('latin1').toUpperCase());
        return c.replyLocal(OK);
      }
      throw new Error('DYNOPROXY.CRASH: exception requested by a test');
    }
    return txError(c, unknownCommandReply(p.argBuf, p.argOff, p.argLen, p.argc));
  }
  if (!arityOk(spec, p.argc)) return txError(c, wrongArityReply(spec.name));
  if (c.tracking !== null) c.tracking.nextCommand();
  if (nodeStateBlocks(c, spec, buf, start, end)) return;
  // max_memory: past it, what Redis refuses under maxmemory (its denyoom commands) is refused here, in Redis' words.
  if (c.pool.overMemory && (spec.flags & F_DENYOOM) !== 0) {
    c.pool.st[P.oom_rejected_total]++;
    return txError(c, OOM);
  }
  const pool = c.pool;
  const g = GROUP_OF[spec.id];
  pool.groupSt[g * 2]++;
  currentGroup = g;
  if (!c.authed && !allowedBeforeAuth(spec)) return c.replyLocal(NOAUTH);
  if (c.subs !== null && c.subs.active) {
    // A subscribed connection: only the (un)subscribe family, PING (push-shaped), QUIT and RESET, as in Redis.
    const refusal = subscribedRefusal(c, spec);
    if (refusal !== null) return c.replyLocal(refusal);
    if (spec.name === 'ping' && subscribedPing(c)) return;
  }
  if (c.user !== null) {
    const refused = aclRefusal(c, c.user, spec);
    if (refused !== null) return txError(c, refused);
  }
  if (c.tx !== null && !isTxControl(spec)) return txQueue(c, spec, buf, start, end);
  routeCommand(c, spec, buf, start, end, gathered);
}

function allowedBeforeAuth(spec: CommandSpec): boolean {
  const n = spec.name;
  return n === 'auth' || n === 'hello' || n === 'quit' || n === 'reset';
}

export function routeCommand(c: RespSession, spec: CommandSpec, buf: Buffer, start: number, end: number, gathered: boolean): void {
  switch (spec.route) {
    case 'single':
    case 'same-node':
      return routeByKeys(c, spec, buf, start, end, gathered, false);
    case 'split-concat':
    case 'split-sum':
    case 'split-pairs':
      return routeByKeys(c, spec, buf, start, end, gathered, true);
    case 'keyless': {
      const s = c.pool.router.anyServer();
      if (s === null) return c.replyLocal(c.pool.noBackendReply());
      return forward(c, s, buf, start, end, gathered);
    }
    case 'broadcast':
      if (c.pool.cluster !== null && !c.parser.inline) {
        if (c.pool.cluster.dynomite?.refusesBroadcast(c, spec, c.parser) === true) return;
        BROADCAST.toPeers(c.pool.cluster, buf, start, end);
      }
      return broadcast(c, buf, start, end, new FirstReplyMerge());
    case 'broadcast-sum':
      return broadcast(c, buf, start, end, new SumMerge());
    case 'pubsub':
      return pubsubCommand(c, spec, buf, start, end);
    case 'keyspace':
      return keyspaceCommand(c, spec, c.parser, false, 0, (reply) => c.replyLocal(reply));
    case 'proxy':
      // WATCH is answered by the datastore, on a connection pinned for this client (resp-watch.ts).
      if (spec.name === 'watch') return watch(c, spec, buf, start, end);
      return answerLocally(c, spec);
    case 'refused':
      return c.replyLocal(refusedReply(spec));
    default:
      return c.replyLocal(refusedReply(spec));
  }
}

/** Forward a request to one backend as a single client request. */
export function forward(c: RespSession, server: BackendServer, buf: Buffer, start: number, end: number, gathered: boolean): void {
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  req.group = currentGroup;
  c.enqueue(req);
  sendRaw(c, server, req, buf, start, end, gathered);
}

/** A tracking client's keyed command: a read's keys are registered (default mode, OPTIN / OPTOUT as asked), a NOLOOP write's noted. */
function trackKeys(c: RespSession, spec: CommandSpec, n: number): void {
  const st = c.tracking as NonNullable<RespSession['tracking']>;
  const write = isWrite(spec);
  const tracked = st.tracksNext();
  if (write ? !st.noloop : !tracked) return;
  const p = c.parser;
  const hub = c.pool.tracking();
  for (let i = 0; i < n; i++) {
    const k = scratch.keyIdx[i];
    const key = Buffer.from(p.argBuf.buffer, p.argBuf.byteOffset + p.argOff[k], p.argLen[k]).toString('latin1');
    if (write) hub.wrote(c, key);
    else hub.read(c, key);
  }
}

/** A blocking call: a connection of its own (within max_blocking_connections), given back when it answers. */
function forwardBlocking(c: RespSession, server: BackendServer, blockMs: number, buf: Buffer, start: number, end: number, gathered: boolean): void {
  const max = c.pool.config.maxBlockingConnections;
  if (!blockingRoom(server, max)) return c.replyLocal(blockingFull(max));
  c.pool.st[P.blocking_calls_total]++;
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  req.group = currentGroup;
  req.blockMs = blockMs;
  c.enqueue(req);
  sendRaw(c, server, req, buf, start, end, gathered);
}

function sendRaw(c: RespSession, server: BackendServer, req: Request, buf: Buffer, start: number, end: number, gathered: boolean): void {
  const p = c.parser;
  if (p.inline) {
    // Inline commands are re-encoded: backends get RESP only.
    encodeInline(p);
    return server.send(req, scratch.enc, 0, scratch.encLen);
  }
  if (gathered && end - start >= DIRECT_WRITE_THRESHOLD) {
    // A large request gathered across reads: hand its buffer to the backend instead of copying it.
    return server.sendOwned(req, c.takeGathered().subarray(start, end));
  }
  server.send(req, buf, start, end);
}

function sameNodeError(spec: CommandSpec): Buffer {
  return errReply(`ERR dynoproxy: the keys of '${spec.name.toUpperCase()}' map to different backends; put them under one hash tag, e.g. {user1}a and {user1}b`);
}

function encodeInline(p: RespSession['parser']): void {
  encReset();
  encHeader(0x2a, p.argc);
  for (let i = 0; i < p.argc; i++) encBulk(p.argBuf, p.argOff[i], p.argLen[i]);
}

function routeByKeys(c: RespSession, spec: CommandSpec, buf: Buffer, start: number, end: number, gathered: boolean, splittable: boolean): void {
  const p = c.parser;
  const router = c.pool.router;
  const servers = c.pool.servers;
  ensureScratch(p.argc, servers.length);
  const keyIdx = scratch.keyIdx;
  const n = keyIndexes(spec, p.argBuf, p.argOff, p.argLen, p.argc, keyIdx);
  if (n < 0) return c.replyLocal(keyErrorReply(n, spec, p.argBuf, p.argOff, p.argLen, p.argc));
  const cl = c.pool.cluster;
  if (cl !== null) {
    let b: Uint8Array = buf;
    let s = start;
    let e = end;
    if (p.inline) {
      encodeInline(p);
      b = Buffer.from(scratch.enc.subarray(0, scratch.encLen));
      s = 0;
      e = b.length;
    }
    // Client-side caching: the keys of a read are registered before it is sent (the rack's nodes report writes, tracking-peers.ts).
    if (c.tracking !== null) trackKeys(c, spec, n);
    if (!clusterRoute(c, cl, spec, p, n, b, s, e, splittable)) return c.replyLocal(sameNodeError(spec));
    return;
  }
  if (n === 0) {
    const s = router.anyServer();
    if (s === null) return c.replyLocal(c.pool.noBackendReply());
    return forward(c, s, buf, start, end, gathered);
  }
  const owner = scratch.owner;
  let first: BackendServer | null = null;
  let same = true;
  for (let i = 0; i < n; i++) {
    const k = keyIdx[i];
    const s = router.serverFor(p.argBuf, p.argOff[k], p.argOff[k] + p.argLen[k]);
    if (s === null) return c.replyLocal(c.pool.noBackendReply());
    owner[i] = s.index;
    if (first === null) first = s;
    else if (s !== first) same = false;
  }
  // Client-side caching (default mode): the keys of a read are registered before it is sent, so no write after it goes unheard.
  if (c.tracking !== null) trackKeys(c, spec, n);
  if (same) {
    if ((spec.flags & F_BLOCKING) !== 0) {
      const blockMs = blockTimeoutMs(spec, p.argBuf, p.argOff, p.argLen, p.argc);
      if (blockMs >= 0) return forwardBlocking(c, first as BackendServer, blockMs, buf, start, end, gathered);
    }
    return forward(c, first as BackendServer, buf, start, end, gathered);
  }
  if (!splittable) return c.replyLocal(sameNodeError(spec));
  split(c, spec, n);
}

/** Split a multi-key request per owning backend; pieces are answered and merged in the client's key order. */
function split(c: RespSession, spec: CommandSpec, nKeys: number): void {
  const p = c.parser;
  const servers = c.pool.servers;
  const owner = scratch.owner;
  const pieces = groupByOwner(owner, nKeys, servers.length);
  const pairs = spec.route === 'split-pairs';
  let merge: Merge;
  if (spec.route === 'split-concat') {
    const m = new MgetStreamMerge(pieces, nKeys);
    m.setKeyParts(scratch.keyPiece);
    merge = m;
  } else if (pairs) {
    merge = new AllOkMerge();
  } else {
    merge = new SumMerge();
  }
  const now = monotonicMs();
  const parent = newComposite(c, merge, pieces, currentGroup, now);
  c.pool.st[P.requests_split_total]++;
  for (let piece = 0; piece < pieces; piece++) {
    const si = scratch.pieceOwner[piece];
    encodeKeyPiece(p, nKeys, owner, si, pairs);
    servers[si].send(newPart(parent, piece), scratch.enc, 0, scratch.encLen);
  }
}

/** Send the same request to every live backend (SCRIPT LOAD, SCRIPT FLUSH, DBSIZE). */
function broadcast(c: RespSession, buf: Buffer, start: number, end: number, merge: Merge): void {
  const live = c.pool.router.liveServers;
  if (live.length === 0) return c.replyLocal(c.pool.noBackendReply());
  const parent = newComposite(c, merge, live.length, currentGroup, monotonicMs());
  for (let i = 0; i < live.length; i++) sendRaw(c, live[i], newPart(parent, i), buf, start, end, false);
}

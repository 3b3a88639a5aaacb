// Node-state gate of a data worker: applies Dynomite's STANDBY / WRITES_ONLY / RESUMING / NORMAL and the admin's server overrides, read from the control block.
// Never allocates on the NORMAL path (one Atomics.load per request); only held writes are copied, and their number and bytes are bounded.
//
// Dynomite (src/dyn_client.c, local datastore forward): STANDBY answers reads and writes with
// "Dynomite's current state does not allow this request"; WRITES_ONLY answers reads so and puts
// writes in the datastore connection's queue without arming its write event, so they wait;
// RESUMING still refuses reads, and the next write arms the event, which sends every queued write
// in order. We do the same per worker: writes are held in arrival order (bounded: MAX_HELD, MAX_HELD_BYTES;
// past that they are refused and counted), and sent when the state becomes RESUMING or NORMAL.
// The supervisor moves RESUMING to NORMAL once no worker holds a write. Only writes with one owner
// (route single / same-node) can be held; other writes (split MSET/DEL, broadcast) are refused
// while WRITES_ONLY. Commands the proxy answers itself (PING, AUTH, ...) never reach the datastore
// and pass in every state. Inside MULTI a refused command aborts the transaction at EXEC.
import { isMainThread, workerData } from 'node:worker_threads';
import { ALL_COMMANDS, isWrite, keyIndexes, type CommandSpec } from '../commands/index.ts';
import { P, commandGroupIndex, WorkerStatsView, ControlBlock, C_SEQ, C_STATE, ST_NORMAL, ST_RESUMING, ST_STANDBY, payloadBucket, poolShapes, startWorkerProbe } from '../stats/index.ts';
import type { WorkerData } from '../messages.ts';
import { acquireRequest, releaseRequest, requestPoolStats, K_CLIENT, type Request, monotonicMs, afterIo } from '../io/index.ts';
import type { BackendServer } from '../io/index.ts';
import { scratch, ensureScratch, encReset, encHeader, encBulk } from './routing/scratch.ts';
import { errReply } from './resp/resp-replies.ts';
import { isTxControl, txError } from './resp/resp-tx.ts';
import type { RespSession } from './resp/resp-session.ts';
import type { PoolContext } from './pool-context.ts';

/** Dynomite's dn_strerror(DYNOMITE_INVALID_STATE) with its "Dynomite:" source prefix. */
export const STATE_ERROR = errReply("ERR Dynomite: Dynomite's current state does not allow this request");
export const HELD_FULL_ERROR = errReply('ERR dynoproxy: the node is WRITES_ONLY and its queue of held writes is full');

/** Bounds of the held writes, per worker. */
export const MAX_HELD = 10_000;
export const MAX_HELD_BYTES = 64 * 1024 * 1024;

const K_LOCAL = 0;
const K_READ = 1;
const K_WRITE = 2;

const maxId = ALL_COMMANDS.reduce((m, s) => Math.max(m, s.id), 0);
/** Per CommandSpec.id: does it touch the datastore, and does it write. */
const KIND = new Uint8Array(maxId + 1);
const GROUP = new Int32Array(maxId + 1);
for (const s of ALL_COMMANDS) {
  KIND[s.id] = s.route === 'proxy' || s.route === 'refused' ? K_LOCAL : isWrite(s) ? K_WRITE : K_READ;
  GROUP[s.id] = commandGroupIndex(s.group === '' ? (s.parent?.group ?? 'generic') : s.group);
}

/** Atomics.waitAsync (ES2024; Node has it, the project's TypeScript lib does not name it yet). */
type WaitAsync = (a: Int32Array, index: number, value: number) => { async: boolean; value: Promise<unknown> | string };
const waitAsync = (Atomics as unknown as { waitAsync: WaitAsync }).waitAsync;

interface KnownPool {
  pool: PoolContext;
  index: number;
  /** Override words last applied, per server. */
  applied: Int32Array;
}

const data = isMainThread ? null : (workerData as WorkerData | null);
let ctl: ControlBlock | null = null;
let payload: Float64Array | null = null;
let appliedSeq = -1;
let state = ST_NORMAL;
let waiting = false;
const known: KnownPool[] = [];
let lastPool: PoolContext | null = null;

const heldReq: Request[] = [];
const heldServer: BackendServer[] = [];
const heldBytes: Buffer[] = [];
const heldPool: PoolContext[] = [];
let heldTotalBytes = 0;

if (data !== null && data.controlSab !== undefined) {
  const shapes = poolShapes(data.pools);
  ctl = new ControlBlock(data.controlSab, shapes, data.workers);
  payload = ctl.payloadBuckets(data.workerId);
  // Held writes die with a crashed worker; its gauge must not outlive them.
  for (const v of new WorkerStatsView(data.statsSab, shapes).pools) v.pool[P.writes_held] = 0;
  startWorkerProbe(ctl, data.workerId, { requestPool: requestPoolStats, onTick: reassertOverrides });
  applyControl();
}

/**
 * The node state for protocols without held writes (memcached): STANDBY, WRITES_ONLY, RESUMING or NORMAL (ST_*).
 */
export function currentNodeState(pool: PoolContext): number {
  if (ctl === null) return ST_NORMAL;
  if (pool !== lastPool) notePool(pool);
  if (Atomics.load(ctl.i32, C_SEQ) !== appliedSeq) applyControl();
  return state;
}

/**
 * Called by dispatchRequest after the arity check. True when the request was answered or held here
 * (the caller returns); false to route it as usual.
 */
export function nodeStateBlocks(c: RespSession, spec: CommandSpec, buf: Buffer, start: number, end: number): boolean {
  const kind = KIND[spec.id];
  if (kind === K_WRITE) c.pool.st[P.write_requests_total]++;
  else if (kind === K_READ) c.pool.st[P.read_requests_total]++;
  const b = payload;
  if (b === null) return false;
  b[payloadBucket(end - start)]++;
  if (c.pool !== lastPool) notePool(c.pool);
  if (Atomics.load((ctl as ControlBlock).i32, C_SEQ) !== appliedSeq) applyControl();
  if (state === ST_NORMAL && heldReq.length === 0) return false;
  return gate(c, spec, kind, buf, start, end);
}

function gate(c: RespSession, spec: CommandSpec, kind: number, buf: Buffer, start: number, end: number): boolean {
  // Writes held earlier go to the datastore before anything that arrives after the state changed.
  if (state === ST_NORMAL || state === ST_RESUMING) flushHeld();
  if (state === ST_NORMAL || !c.authed) return false;
  if (c.tx !== null) {
    if (spec.name === 'exec') {
      // A transaction cannot be held: EXEC aborts it (EXECABORT), as after a queue-time error.
      c.tx.dirty = true;
      return false;
    }
    if (isTxControl(spec) || kind === K_LOCAL) return false;
    countRefused(c, spec);
    txError(c, STATE_ERROR);
    return true;
  }
  if (kind === K_LOCAL) return false;
  if (state === ST_STANDBY || kind === K_READ) return refuse(c, spec, STATE_ERROR);
  if (state === ST_RESUMING) return false;
  return hold(c, spec, buf, start, end);
}

function countRefused(c: RespSession, spec: CommandSpec): void {
  const pool = c.pool;
  pool.st[P.state_rejected_total]++;
  const g = GROUP[spec.id];
  // dispatchRequest counts the family after this gate; a refused request is counted here instead.
  pool.groupSt[g * 2]++;
  pool.groupSt[g * 2 + 1]++;
}

function refuse(c: RespSession, spec: CommandSpec, reply: Uint8Array): boolean {
  countRefused(c, spec);
  c.replyLocal(reply);
  return true;
}

/** WRITES_ONLY: keep the write, with its place in the client's reply order, until RESUMING. */
function hold(c: RespSession, spec: CommandSpec, buf: Buffer, start: number, end: number): boolean {
  // Cluster nodes: a write's owners are on other nodes too, so it is not held here but routed (and replicated) as usual.
  if (c.pool.cluster !== null) return false;
  if (spec.route !== 'single' && spec.route !== 'same-node') return refuse(c, spec, STATE_ERROR);
  const pool = c.pool;
  const p = c.parser;
  ensureScratch(p.argc, pool.servers.length);
  const n = keyIndexes(spec, p.argBuf, p.argOff, p.argLen, p.argc, scratch.keyIdx);
  // A malformed key layout is answered by routing with an error and reaches no datastore.
  if (n < 0) return false;
  if (n === 0) return refuse(c, spec, STATE_ERROR);
  let server: BackendServer | null = null;
  for (let i = 0; i < n; i++) {
    const k = scratch.keyIdx[i];
    const s = pool.router.serverFor(p.argBuf, p.argOff[k], p.argOff[k] + p.argLen[k]);
    // No live server, or keys on several: routing answers with its error and sends nothing.
    if (s === null || (server !== null && s !== server)) return false;
    server = s;
  }
  const size = p.inline ? 0 : end - start;
  if (heldReq.length >= MAX_HELD || heldTotalBytes + size > MAX_HELD_BYTES) {
    pool.st[P.writes_held_dropped_total]++;
    return refuse(c, spec, HELD_FULL_ERROR);
  }
  let bytes: Buffer;
  if (p.inline) {
    encReset();
    encHeader(0x2a, p.argc);
    for (let i = 0; i < p.argc; i++) encBulk(p.argBuf, p.argOff[i], p.argLen[i]);
    bytes = Buffer.from(scratch.enc.subarray(0, scratch.encLen));
  } else {
    bytes = Buffer.from(buf.subarray(start, end));
  }
  const req = acquireRequest(K_CLIENT);
  req.startedAt = monotonicMs();
  req.group = GROUP[spec.id];
  pool.groupSt[req.group * 2]++;
  c.enqueue(req);
  // The hold queue's own reference, standing in for the backend's until the write is sent.
  req.refs++;
  heldReq.push(req);
  heldServer.push(server as BackendServer);
  heldBytes.push(bytes);
  heldPool.push(pool);
  heldTotalBytes += bytes.length;
  pool.st[P.writes_held]++;
  pool.st[P.writes_held_total]++;
  return true;
}

/** Send every held write, oldest first. */
function flushHeld(): void {
  const n = heldReq.length;
  if (n === 0) return;
  for (let i = 0; i < n; i++) {
    const req = heldReq[i];
    const server = heldServer[i];
    heldPool[i].st[P.writes_held]--;
    server.send(req, heldBytes[i], 0, heldBytes[i].length);
    releaseRequest(req);
  }
  heldReq.length = 0;
  heldServer.length = 0;
  heldBytes.length = 0;
  heldPool.length = 0;
  heldTotalBytes = 0;
  afterIo();
}

function notePool(pool: PoolContext): void {
  lastPool = pool;
  if (known.some((k) => k.pool === pool) || data === null) return;
  const index = data.pools.findIndex((p) => p.name === pool.config.name);
  if (index < 0) return;
  const kp: KnownPool = { pool, index, applied: new Int32Array(pool.servers.length) };
  known.push(kp);
  applyOverrides(kp);
}

/** Read the header and the overrides after the supervisor changed them. */
function applyControl(): void {
  const c = ctl as ControlBlock;
  appliedSeq = Atomics.load(c.i32, C_SEQ);
  state = Atomics.load(c.i32, C_STATE);
  for (const kp of known) applyOverrides(kp);
  if (state === ST_NORMAL || state === ST_RESUMING) flushHeld();
  armWait();
}

/** Wake on the next change even when no request arrives (held writes must leave at RESUMING). */
function armWait(): void {
  if (waiting || ctl === null) return;
  const r = waitAsync(ctl.i32, C_SEQ, appliedSeq);
  if (!r.async) {
    setImmediate(applyControl);
    return;
  }
  waiting = true;
  void (r.value as Promise<unknown>).then(() => {
    waiting = false;
    applyControl();
  });
}

function applyOverrides(kp: KnownPool): void {
  const c = ctl as ControlBlock;
  let changed = false;
  const servers = kp.pool.servers;
  for (let j = 0; j < servers.length; j++) {
    const v = c.override(kp.index, j);
    if (v === kp.applied[j]) continue;
    kp.applied[j] = v;
    const s = servers[j];
    if ((v & 1) === 1) {
      forceDown(s);
    } else {
      // Up or reset: back in routing now; automatic ejection decides from here on.
      s.ejected = false;
      s.failures = 0;
      s.retryAt = 0;
    }
    changed = true;
  }
  if (changed) kp.pool.router.rebuild();
}

function forceDown(s: BackendServer): void {
  s.ejected = true;
  // Never retried by the eject timer while the admin holds it down.
  s.retryAt = Number.POSITIVE_INFINITY;
}

/** A failure on a forced-down server's old connection rewrites its retry time; put the override back. */
function reassertOverrides(): void {
  if (ctl === null) return;
  for (const kp of known) {
    let changed = false;
    for (let j = 0; j < kp.pool.servers.length; j++) {
      const s = kp.pool.servers[j];
      if ((kp.applied[j] & 1) === 1 && (!s.ejected || s.retryAt !== Number.POSITIVE_INFINITY)) {
        changed = changed || !s.ejected;
        forceDown(s);
      }
    }
    if (changed) kp.pool.router.rebuild();
  }
}

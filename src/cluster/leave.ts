// Leave (decommission): POST /state/leaving makes this node LEAVING — it still serves, while every write of its ranges also goes to the
// node that takes each range over (the shadow ring) — then it hands its keys to those successors (SCAN + PTTL + DUMP here, RESTORE
// there, never replacing a newer write; memcached: dynoproxy_range on its own peer port, ms in add mode on the successor's) and turns
// LEFT: its peers route nothing to it once handoff_grace is past.
// Never leaves a rack empty, and never reports LEFT before every key was handed over or refused as older.
import { Redis } from 'ioredis';
import { KeyHasher, NODE_STATE, hashRangesOf, type ClusterView } from '../topology/index.ts';
import {
  PTTL_DUMP_LUA, PURGE_COMMAND, encodeRangeRequest, decodeRangeReply, inHashRanges, encodeMemcacheRangeRequest, unwrapMemcacheRangeReply, type RangeReply,
  type RangeRequest, type FetchEntry,
} from '../protocol/resp/index.ts';
import { encodeMetaAdds, replyKindFor, CMD_MS } from '../protocol/memcache/index.ts';
import { metaItemOf } from './warm-up-store.ts';
import { F_NONE } from '../protocol/failure/index.ts';
import { acquireRequest, afterIo, backendTlsForRedis, K_CLIENT, type BackendServer, type ClientSession, type Request } from '../io/index.ts';
import type { PoolConfig } from '../config/index.ts';
import type { WarmUpStatus } from '../messages.ts';
import type { Membership } from './membership.ts';
import { Mirror, ApplyCall, FLIP_LAG_MS } from './mirror.ts';
import { STEP_BYTES, smallerStep } from './warm-up.ts';

export interface LeaveDeps {
  pool: PoolConfig;
  membership: Membership;
  view(): ClusterView;
  links: readonly (BackendServer | null)[];
  publish(): void;
  broadcast(): void;
  peers(): number[];
  /** The state a peer gave this node in its last gossip reply (undefined: not heard). */
  seenAs(node: number): number | undefined;
  isUp(node: number): boolean;
  /** A link of its own to a node's peer port, this node's included (the mirror's feed poll, mirror.ts); the mirror closes it. */
  ownLink(node: number): BackendServer | null;
  settle(node: number): void;
  /** Progress, shown where warm-up's is (phase leaving). */
  report(status: WarmUpStatus): void;
  intervalMs: number;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

type DumpingRedis = Redis & { pttlDumpBuffer(n: number, ...keys: Buffer[]): Promise<unknown[]> };

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());
const OK = Buffer.from('+OK\r\n');
const BUSYKEY = Buffer.from('-BUSYKEY');
/** memcached's ms in add mode: stored, or not (the key is there: a newer write). */
const HD = Buffer.from('HD');
const NS = Buffer.from('NS');
const RK_MS = replyKindFor(CMD_MS);
/** Bytes one memcached hand-over step's reply may carry (halved in keys when the step's keys exceed it, as warm-up's copy does). */

function startsWith(buf: Uint8Array, start: number, end: number, p: Buffer): boolean {
  if (end - start < p.length) return false;
  for (let i = 0; i < p.length; i++) if (buf[start + i] !== p[i]) return false;
  return true;
}

/** One step's RESTOREs on peer links: resolves once each has its reply (restored, older than what the successor holds, or failed). */
class StepCall implements ClientSession {
  closed = false;
  pending = 0;
  restored = 0;
  skipped = 0;
  failed = 0;
  lastError = '';
  private resolve: () => void = () => {};
  readonly done: Promise<void>;
  private readonly stored: Buffer;
  private readonly kept: Buffer;
  /** `stored` / `kept`: how a reply starts when the key was written / was there already (redis: +OK / -BUSYKEY; memcached: HD / NS). */
  constructor(stored = OK, kept = BUSYKEY) {
    this.done = new Promise((r) => (this.resolve = r));
    this.stored = stored;
    this.kept = kept;
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    if (req.failure === F_NONE && startsWith(buf, start, end, this.stored)) this.restored++;
    else if (req.failure === F_NONE && startsWith(buf, start, end, this.kept)) this.skipped++;
    else {
      this.failed++;
      this.lastError = Buffer.from(buf.subarray(start, Math.min(end, start + 200))).toString('latin1').trim();
    }
    if (--this.pending === 0) this.resolve();
  }
  requestFinished(): void {}
}

/** One DYNOPROXY.PURGE step on a peer link (memcached: a dynoproxy_purge or dynoproxy_range step). */
class PurgeCall implements ClientSession {
  closed = false;
  private resolve: (r: RangeReply | string) => void = () => {};
  readonly done: Promise<RangeReply | string>;
  private readonly memcache: boolean;
  constructor(memcache = false) {
    this.done = new Promise((r) => (this.resolve = r));
    this.memcache = memcache;
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    if (req.failure !== F_NONE) this.resolve(this.memcache ? `peer link: ${Buffer.from(buf.subarray(start, end)).toString('utf8').trim().slice(1)}` : 'no answer');
    else this.resolve(this.memcache ? unwrapMemcacheRangeReply(buf, start, end) : decodeRangeReply(buf, start, end));
  }
  requestFinished(): void {
    this.resolve('no reply');
  }
}

function restoreCommand(key: Buffer, ttl: number, dump: Buffer, replace = false): Buffer {
  const t = String(ttl);
  return Buffer.concat([
    Buffer.from(`*${replace ? 5 : 4}\r\n$7\r\nRESTORE\r\n$${key.length}\r\n`), key, Buffer.from(`\r\n$${t.length}\r\n${t}\r\n$${dump.length}\r\n`), dump,
    Buffer.from(replace ? '\r\n$7\r\nREPLACE\r\n' : '\r\n'),
  ]);
}

function delCommand(key: Buffer): Buffer {
  return Buffer.concat([Buffer.from(`*2\r\n$3\r\nDEL\r\n$${key.length}\r\n`), key, Buffer.from('\r\n')]);
}

export class Leave {
  private readonly d: LeaveDeps;
  private running = false;
  private local: DumpingRedis | null = null;
  private readonly hasher: KeyHasher;
  private stopped = false;
  /** While the range is handed over (and until every peer saw this node LEFT): keys written here meanwhile go to the successors too. */
  private mirror: Mirror | null = null;
  readonly status: WarmUpStatus;

  constructor(deps: LeaveDeps) {
    this.d = deps;
    this.hasher = new KeyHasher(deps.pool.hash, deps.pool.hashTag);
    this.status = {
      phase: 'idle', enabled: true, runs: 0, keysCopied: 0, bytesCopied: 0, keysSkipped: 0, keysFailed: 0, keysMirrored: 0, keysMirrorDeleted: 0, keysScanned: 0, keysExpected: 0,
      etaSeconds: 0, keysPerSecond: 0, sources: [], startedAt: 0, finishedAt: 0, lastError: '', reason: '',
    };
  }

  /** Why this node cannot leave now, or null. */
  refusal(): string | null {
    const m = this.d.membership.local;
    if (this.running || m.state === NODE_STATE.LEAVING) return 'this node is already leaving';
    if (m.state === NODE_STATE.LEFT) return 'this node has left the ring already';
    if (m.state === NODE_STATE.JOINING) return 'this node is still joining';
    const v = this.d.view();
    const others = v.racks[v.localRack].nodes.filter((n) => n !== v.localNode && v.nodes[n].tokens.length > 0 && v.nodes[n].state !== NODE_STATE.LEFT && v.nodes[n].state !== NODE_STATE.JOINING);
    if (others.length === 0) return 'the last node of a rack cannot leave (the rack would hold nothing)';
    if (v.racks[v.localRack].shadow !== null) return 'tokens are already moving in this rack: wait until that move settled (handoff_grace)';
    if (this.d.pool.servers.length !== 1) return 'leaving hands keys over from one datastore server per node';
    return null;
  }

  start(): { status: number; message: string } {
    const why = this.refusal();
    if (why !== null) return { status: why.startsWith('this node') || why.startsWith('tokens') ? 409 : 400, message: why };
    void this.run();
    return { status: 200, message: 'leaving: this node hands its range over, then leaves the ring' };
  }

  stop(): void {
    this.stopped = true;
    void this.mirror?.stop();
    this.local?.disconnect();
  }

  private connection(): DumpingRedis {
    if (this.local === null) {
      const s = this.d.pool.servers[0];
      const r = new Redis({
        host: s.host, port: s.port, password: this.d.pool.requirepass ?? undefined, maxRetriesPerRequest: 1, connectTimeout: 2000,
        tls: backendTlsForRedis(this.d.pool.backendTls, s.host),
        commandTimeout: 10_000, retryStrategy: (n) => Math.min(n * 100, 1000),
      }) as DumpingRedis;
      r.defineCommand('pttlDump', { lua: PTTL_DUMP_LUA });
      r.on('error', () => {});
      this.local = r;
    }
    return this.local;
  }

  /** The leave itself (start() runs it in the background; a ring move awaits it): true once this node left the ring. */
  async run(): Promise<boolean> {
    this.running = true;
    const d = this.d;
    const m = d.membership;
    const s = this.status;
    Object.assign(s, {
      phase: 'leaving', runs: s.runs + 1, keysCopied: 0, bytesCopied: 0, keysSkipped: 0, keysFailed: 0, keysMirrored: 0, keysMirrorDeleted: 0, keysScanned: 0, keysExpected: 0,
      etaSeconds: 0, keysPerSecond: 0, sources: [], startedAt: Date.now(), finishedAt: 0, lastError: '', reason: 'leave',
    });
    d.report({ ...s });
    // What the other nodes of the rack still hold of this node's ranges is stale (left from before a join here, not cleaned up yet):
    // it goes before LEAVING sends them the ranges' writes, so the hand-over's never-replacing RESTORE cannot keep an old value.
    if (!(await this.purgeSuccessors())) {
      s.phase = 'failed';
      s.finishedAt = Date.now();
      d.report({ ...s });
      this.running = false;
      d.log('warn', 'leave: could not clear the rack\'s stale copies of this node\'s range; not leaving (try again)', { error: s.lastError });
      return false;
    }
    m.setLocalState(NODE_STATE.LEAVING, Date.now());
    d.publish();
    d.broadcast();
    d.log('info', 'leave: LEAVING announced; writes of this node\'s ranges now reach their successors too', {});
    const end = Date.now() + Math.max(10_000, 20 * d.intervalMs);
    while (!this.stopped && Date.now() < end && !d.peers().every((p) => d.seenAs(p) === NODE_STATE.LEAVING)) await sleep(Math.min(100, d.intervalMs));
    const waiting = d.peers().filter((p) => d.seenAs(p) !== NODE_STATE.LEAVING);
    d.log(waiting.length === 0 ? 'info' : 'warn', waiting.length === 0 ? 'leave: every peer saw it; handing the range over' : 'leave: not every peer confirmed in time; handing over anyway', { peers: d.peers().length, waiting });
    await sleep(2 * d.intervalMs);
    for (let attempt = 1; !this.stopped; attempt++) {
      if (await (d.pool.dataStore === 1 ? this.handOverMemcache() : this.handOver())) break;
      d.log('warn', 'leave: hand-over failed part way; trying again (RESTORE / add keeps what the successors hold)', { attempt, error: s.lastError });
      await sleep(Math.min(30_000, 1000 * attempt));
      // A mirror that failed may have missed a delete: the successors' copies of the range go, and the hand-over starts over.
      if (this.mirror?.failed != null) {
        await this.mirror.stop();
        this.mirror = null;
        if (!(await this.purgeSuccessors())) continue;
      }
    }
    if (this.stopped) return false;
    s.phase = 'idle';
    s.finishedAt = Date.now();
    s.etaSeconds = 0;
    d.report({ ...s });
    d.settle(d.view().localNode);
    // The successors serve the range from now on (their peers turn to them one by one): read-backs wait for a key to be quiet.
    this.mirror?.setLag(FLIP_LAG_MS);
    m.setLocalState(NODE_STATE.LEFT, Date.now());
    d.publish();
    d.broadcast();
    // Until every peer routes the range to the successors, a write may still reach only this node: the mirror hands it on.
    const until = Date.now() + Math.max(10_000, 20 * d.intervalMs);
    while (!this.stopped && Date.now() < until && !d.peers().every((p) => d.seenAs(p) === NODE_STATE.LEFT)) await sleep(Math.min(100, d.intervalMs));
    await sleep(2 * d.intervalMs);
    await this.mirror?.stop();
    if (this.mirror?.failed != null) d.log('warn', 'leave: the mirror stopped before every peer saw this node left; keys written here meanwhile may be missing on the successors (POST /repair on them)', { error: this.mirror.failed });
    this.mirror = null;
    this.running = false;
    d.log('info', 'leave: done; this node left the ring (stop it once handoff_grace is past)', {
      handedOver: s.keysCopied, skipped: s.keysSkipped, failed: s.keysFailed, bytes: s.bytesCopied, seconds: (s.finishedAt - s.startedAt) / 1000,
    });
    return true;
  }

  /**
   * DYNOPROXY.PURGE (memcached: dynoproxy_purge) of this node's ranges on every other node of its rack, step by step. False when a
   * node did not answer.
   */
  private async purgeSuccessors(): Promise<boolean> {
    const d = this.d;
    const v = d.view();
    const mine = hashRangesOf(v, v.localRack, v.localNode);
    if (mine.length === 0) return true;
    for (const n of v.racks[v.localRack].nodes) {
      if (n === v.localNode || v.nodes[n].tokens.length === 0 || v.nodes[n].state === NODE_STATE.LEFT) continue;
      const link = d.links[n] ?? null;
      if (link === null || !d.isUp(n)) {
        this.status.lastError = `${v.nodes[n].name} is down`;
        return false;
      }
      // memcached: twice, each from a new listing (`lru_crawler metadump` is no snapshot: an item the LRU maintainer moves while the
      // crawler walks may be left out, about 1 listing in 2,000 under writes; a stale copy left there would outlive the add-mode hand-over).
      for (let pass = d.pool.dataStore === 1 ? 2 : 1; pass > 0; pass--) {
        let cursor = '0';
        do {
          const r = await this.rangeStep(link, { cursor, count: 1000, maxBytes: 1, ranges: mine }, true);
          if (typeof r === 'string') {
            this.status.lastError = `${v.nodes[n].name}: ${r}`;
            return false;
          }
          cursor = r.cursor;
        } while (cursor !== '0' && !this.stopped);
      }
    }
    return true;
  }

  /** One purge step (DYNOPROXY.PURGE / dynoproxy_purge), or a memcached dynoproxy_range step (`purge` false), on a peer link. */
  private rangeStep(link: BackendServer, r: RangeRequest, purge: boolean): Promise<RangeReply | string> {
    const memcache = this.d.pool.dataStore === 1;
    const call = new PurgeCall(memcache);
    const req = acquireRequest(K_CLIENT);
    req.client = call;
    const bytes = memcache ? encodeMemcacheRangeRequest(r, purge) : encodeRangeRequest(r, PURGE_COMMAND);
    link.send(req, bytes, 0, bytes.length);
    afterIo();
    return call.done;
  }

  /**
   * memcached: one pass over this node's range, read through its own peer port (dynoproxy_range: lru_crawler metadump + mg, value,
   * flags and TTL), each item stored on its successor (the shadow ring's owner) with ms in add mode on its peer link: a write the
   * successor got as a shadow meanwhile is newer and stays. Throttled like warm-up's copy. False when a step failed.
   */
  private async handOverMemcache(): Promise<boolean> {
    const d = this.d;
    const s = this.status;
    const v0 = d.view();
    const own = d.ownLink(v0.localNode);
    if (own === null) {
      s.lastError = 'no link to this node\'s own peer port';
      return false;
    }
    try {
      const mine = hashRangesOf(v0, v0.localRack, v0.localNode);
      const size = await this.rangeStep(own, { cursor: '0', count: 0, maxBytes: 1024, ranges: mine }, false);
      if (typeof size === 'string') {
        s.lastError = `own peer port: ${size}`;
        return false;
      }
      s.keysExpected = size.dbsize;
      let cursor = '0';
      let count = Math.max(1, d.pool.warmUpBatch);
      let maxBytes = STEP_BYTES;
      let errors = 0;
      do {
        const stepStart = Date.now();
        const r = await this.rangeStep(own, { cursor, count, maxBytes, ranges: mine }, false);
        if (typeof r === 'string') {
          const smaller = /exceed max-bytes/.test(r) ? smallerStep(count, maxBytes, d.pool.maxRequestBytes) : null;
          if (smaller !== null) {
            ({ count, maxBytes } = smaller);
            continue;
          }
          s.lastError = `own peer port: ${r}`;
          if (++errors >= 3) return false;
          await sleep(500);
          continue;
        }
        errors = 0;
        const v = d.view();
        const shadow = v.racks[v.localRack].shadow;
        if (shadow === null) {
          s.lastError = 'the shadow ring is gone (the move was undone?)';
          return false;
        }
        const step = new StepCall(HD, NS);
        const now = Math.floor(Date.now() / 1000);
        for (const e of r.entries) {
          // Expiring as it was read.
          if (e.pttl === 0) continue;
          const target = shadow.lookup(this.hasher.keyHash(e.key, 0, e.key.length));
          const link = d.links[target] ?? null;
          if (target === v.localNode || link === null || !d.isUp(target)) {
            s.lastError = `no successor up for a key (${v.nodes[target]?.name ?? target})`;
            return false;
          }
          const bytes = encodeMetaAdds([metaItemOf(e, now)]);
          const req = acquireRequest(K_CLIENT);
          req.client = step;
          req.replyKind = RK_MS;
          step.pending++;
          s.bytesCopied += e.key.length + e.dump.length - 4;
          link.send(req, bytes, 0, bytes.length);
        }
        afterIo();
        if (!(await this.stepDone(step))) return false;
        s.keysScanned += r.scanned;
        cursor = r.cursor;
        const elapsed = (Date.now() - s.startedAt) / 1000;
        s.keysPerSecond = elapsed > 0 ? Math.round(s.keysCopied / elapsed) : 0;
        d.report({ ...s });
        // At least warm_up_pause, and at least as long as the step took (as warm-up's copy: a busy node slows the hand-over down).
        const pause = Math.max(d.pool.warmUpPause, Date.now() - stepStart);
        if (pause > 0 && cursor !== '0') await sleep(pause);
      } while (cursor !== '0' && !this.stopped);
      return true;
    } finally {
      own.close();
    }
  }

  /** One pass over this node's datastore: every key to its successor (the shadow ring's owner). False when a step failed. */
  private async handOver(): Promise<boolean> {
    const d = this.d;
    const s = this.status;
    const r = this.connection();
    s.keysExpected = await r.dbsize().catch(() => 0);
    if (this.mirror === null && !(await this.startMirror())) return false;
    const mirror = this.mirror as unknown as Mirror;
    let cursor = '0';
    do {
      const v = d.view();
      const shadow = v.racks[v.localRack].shadow;
      if (shadow === null) {
        s.lastError = 'the shadow ring is gone (the move was undone?)';
        return false;
      }
      let keys: Buffer[];
      let values: unknown[];
      try {
        const [next, batch] = await r.scanBuffer(cursor, 'COUNT', Math.max(1, d.pool.warmUpBatch));
        cursor = String(next);
        keys = batch;
        values = keys.length > 0 ? await r.pttlDumpBuffer(keys.length, ...keys) : [];
      } catch (err) {
        s.lastError = `local datastore: ${err instanceof Error ? err.message : String(err)}`;
        return false;
      }
      s.keysScanned += keys.length;
      s.keysMirrored = mirror.figures.replaced;
      s.keysMirrorDeleted = mirror.figures.deleted;
      if (mirror.failed !== null) {
        s.lastError = `mirror: ${mirror.failed}`;
        return false;
      }
      const step = new StepCall();
      for (let i = 0; i < keys.length; i++) {
        const pttl = Number(values[2 * i]);
        const dump = values[2 * i + 1] as Buffer;
        // Gone meanwhile (-2), expiring as it was read (0), or deleted since and handed on as such by the mirror.
        if (pttl === -2 || pttl === 0 || !Buffer.isBuffer(dump) || dump.length === 0 || mirror.deleted(keys[i])) continue;
        const target = shadow.lookup(this.hasher.keyHash(keys[i], 0, keys[i].length));
        const link = d.links[target] ?? null;
        if (target === v.localNode || link === null || !d.isUp(target)) {
          s.lastError = `no successor up for a key (${v.nodes[target]?.name ?? target})`;
          return false;
        }
        const bytes = restoreCommand(keys[i], pttl > 0 ? pttl : 0, dump);
        const req = acquireRequest(K_CLIENT);
        req.client = step;
        step.pending++;
        s.bytesCopied += keys[i].length + dump.length;
        link.send(req, bytes, 0, bytes.length);
      }
      afterIo();
      if (!(await this.stepDone(step))) return false;
      const elapsed = (Date.now() - s.startedAt) / 1000;
      s.keysPerSecond = elapsed > 0 ? Math.round(s.keysCopied / elapsed) : 0;
      d.report({ ...s });
      if (d.pool.warmUpPause > 0) await sleep(d.pool.warmUpPause);
    } while (cursor !== '0' && !this.stopped);
    await mirror.drained();
    if (mirror.failed !== null) {
      s.lastError = `mirror: ${mirror.failed}`;
      return false;
    }
    return true;
  }

  /** A hand-over step's replies all in: counted in the status; false when one failed (its error kept). */
  private async stepDone(step: StepCall): Promise<boolean> {
    if (step.pending > 0) await step.done;
    const s = this.status;
    s.keysCopied += step.restored;
    s.keysSkipped += step.skipped;
    s.keysFailed += step.failed;
    if (step.failed === 0) return true;
    s.lastError = step.lastError;
    return false;
  }

  /**
   * The mirror (mirror.ts) of this node's own feed: a key written here from now on is read again (on the connection the hand-over
   * reads on) and sent to its successor as RESTORE ... REPLACE, or DEL, on the link the hand-over's RESTOREs take.
   */
  private async startMirror(): Promise<boolean> {
    const d = this.d;
    const v0 = d.view();
    const own = d.ownLink(v0.localNode);
    if (own === null) {
      this.status.lastError = 'mirror: no link to this node\'s own peer port';
      return false;
    }
    const r = this.connection();
    const mine = hashRangesOf(v0, v0.localRack, v0.localNode);
    const m = new Mirror(
      {
        pollLink: own,
        fetch: async (keys) => {
          try {
            const res = await r.pttlDumpBuffer(keys.length, ...keys);
            return keys.map((_, i): FetchEntry => {
              const pttl = Number(res[2 * i]);
              const dump = res[2 * i + 1];
              return pttl === -2 || !Buffer.isBuffer(dump) || dump.length === 0 ? { pttl: -2, payload: Buffer.alloc(0) } : { pttl, payload: dump };
            });
          } catch (err) {
            return `local datastore: ${err instanceof Error ? err.message : String(err)}`;
          }
        },
      },
      {
        apply: async (keys, entries) => {
          const v = d.view();
          const rack = v.racks[v.localRack];
          const call = new ApplyCall();
          for (let i = 0; i < keys.length; i++) {
            // The successor: the shadow ring's owner while this node is leaving, the routing ring's once it left (then the shadow
            // ring is the old one, this node in it).
            const h = this.hasher.keyHash(keys[i], 0, keys[i].length);
            const o = rack.ring.lookup(h);
            const target = o !== v.localNode ? o : (rack.shadow?.lookup(h) ?? o);
            const link = d.links[target] ?? null;
            if (target === v.localNode || link === null) throw new Error(`no link to the successor ${v.nodes[target]?.name ?? target}`);
            const e = entries[i];
            const bytes = e.pttl === -2 ? delCommand(keys[i]) : restoreCommand(keys[i], e.pttl > 0 ? e.pttl : 0, e.payload, true);
            const req = acquireRequest(K_CLIENT);
            req.client = call;
            call.pending++;
            link.send(req, bytes, 0, bytes.length);
          }
          afterIo();
          if (call.pending > 0) await call.done;
          if (call.failed !== '') throw new Error(call.failed);
        },
      },
      (key) => inHashRanges(mine, this.hasher.keyHash(key, 0, key.length)),
      d.pool.maxRequestBytes >> 1,
    );
    this.mirror = m;
    if (await m.start()) return true;
    this.status.lastError = `mirror: ${m.failed ?? 'did not start'}`;
    await m.stop();
    this.mirror = null;
    return false;
  }
}

// Warm-up (cold cache) in the cluster worker: a node whose datastore is empty while a peer rack holds data copies its token range from
// that rack (DYNOPROXY.RANGE on the peer port: SCAN + PTTL + DUMP there, RESTORE here; memcached: dynoproxy_range, lru_crawler metadump +
// mg there, ms in add mode here), throttled, while its reads go to other racks.
// Never overwrites a key: the restore keeps whatever a write put here first (BUSYKEY / NS, counted as skipped); never runs twice at once.
import type { PoolConfig } from '../config/index.ts';
import { PeerStates, PEER_UP, PEER_WARMING, PEER_UNKNOWN, OVERRIDE_NONE, OVERRIDE_DOWN } from '../peer/index.ts';
import { hashRangesOf, intersectHashRanges, hashRangesSize, KeyHasher, type ClusterView } from '../topology/index.ts';
import {
  inHashRanges, encodeRangeRequest, decodeRangeReply, encodeMemcacheRangeRequest, unwrapMemcacheRangeReply, type RangeReply, type RangeRequest,
} from '../protocol/resp/index.ts';
import { RedisStore, MemcacheStore, type LocalStore } from './warm-up-store.ts';
import { F_NONE } from '../protocol/failure/index.ts';
import { acquireRequest, K_CLIENT, afterIo, type BackendServer, type ClientSession, type Request } from '../io/index.ts';
import type { WarmUpStatus } from '../messages.ts';
import { Mirror, fetchOn, FLIP_LAG_MS } from './mirror.ts';

/** Bytes one step's reply may carry (the peer answers an error when a step's keys exceed it; the step is then asked again smaller). */
export const STEP_BYTES = 4 * 1024 * 1024;

/**
 * A range step whose keys are too large for one reply (the peer answered "exceed max-bytes"): ask for fewer keys, or (one key
 * already) for a larger reply, up to what a peer reply may carry (`maxRequestBytes` / 2); null when neither is left (the step fails).
 */
export function smallerStep(count: number, maxBytes: number, maxRequestBytes: number): { count: number; maxBytes: number } | null {
  const cap = Math.max(STEP_BYTES, maxRequestBytes >> 1);
  if (count > 1) return { count: Math.max(1, count >> 1), maxBytes };
  if (maxBytes < cap) return { count, maxBytes: Math.min(maxBytes * 4, cap) };
  return null;
}
/** How often the automatic check looks at the local datastore, ms. */
const CHECK_MS = 2000;
/** Failed steps (peer gone, timeout) before the run tries another rack; runs give up after this many sources. */
const STEP_RETRIES = 3;
const MAX_SOURCES = 4;
/** A datastore with fewer keys than 1/RESTARTED_RATIO of its source's, right after it restarted, is warmed up too. */
const RESTARTED_RATIO = 100;
/** A source rack must hold at least this share of the fullest candidate's keys. */
const COMPLETE = 0.9;
/**
 * After a warm-up's copy the mirrors keep applying what the sources hear for this long: a write the other racks took instead of this
 * node (an INCR while it warmed) reaches the source rack as a replica write, and its read-back brings it here. Longer than a PING
 * interval (peers stop sending such writes elsewhere once they see this node is not warming).
 */
const MIRROR_TAIL_MS = 3000;
/** A warm-up's mirrors read again at most this many keys the datastore held when they started (seedMirrors). */
const SEED_MAX = 100_000;
export interface WarmUpDeps {
  pool: PoolConfig;
  view: ClusterView;
  states: PeerStates;
  links: readonly (BackendServer | null)[];
  /** Recent PING round trip of a node (ms; Infinity when unknown): the load signal that picks the source rack. */
  rtt(node: number): number;
  publish(status: WarmUpStatus): void;
  /** A link of its own to a node's peer port (a mirror's feed poll, mirror.ts), its timeouts checked; the mirror closes it. */
  ownLink(node: number): BackendServer | null;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

/** One DYNOPROXY.RANGE exchange on a peer link; the reply is decoded while its bytes are valid. */
class RangeCall implements ClientSession {
  closed = false;
  private readonly memcache: boolean;
  private resolve: (r: RangeReply | string) => void = () => {};
  readonly done: Promise<RangeReply | string>;
  constructor(memcache: boolean) {
    this.memcache = memcache;
    this.done = new Promise((res) => (this.resolve = res));
  }
  replyArrived(req: Request, buf: Uint8Array, start: number, end: number): void {
    if (req.failure !== F_NONE) this.resolve(`peer link: ${Buffer.from(buf.subarray(start, end)).toString('utf8').trim().slice(1)}`);
    else this.resolve(this.memcache ? unwrapMemcacheRangeReply(buf, start, end) : decodeRangeReply(buf, start, end));
  }
  requestFinished(): void {
    this.resolve('no reply');
  }
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

export class WarmUp {
  private readonly d: WarmUpDeps;
  private readonly local: LocalStore;
  private running = false;
  private runId = '';
  /**
   * Something happened that may have emptied the datastore (this process started, the datastore restarted, or it went from keys to
   * none): the next check asks the source how many keys it holds. Cleared once a check got its answer: peers are not asked every
   * check while a fresh cluster is empty.
   */
  private pending = true;
  /**
   * The last check found this datastore left behind without a restart seen: the next one looks again before copying (a node of a
   * cluster being filled whose replica writes lag behind its peers' looks the same for a moment).
   */
  private seenBehind = false;
  private lastSize = -1;
  /** The last automatic copy failed part way: the next check with a source up copies again (RESTORE keeps what is here). */
  private retry = false;
  /** Failed runs in a row, and when the next retry may start (backoff 2 s doubling, at most a minute). */
  private failures = 0;
  private retryAt = 0;
  private lastPublish = 0;
  private rateStart = 0;
  private readonly s: WarmUpStatus;
  /** A token move (join) runs: the automatic check stays away (this node's empty datastore is being filled on purpose). */
  private moving = false;
  /** The running copy's mirrors (one per source node; redis only), kept by a join until endMirrors(). */
  private mirrors: Mirror[] = [];
  private readonly hasher: KeyHasher;

  constructor(d: WarmUpDeps) {
    this.d = d;
    this.hasher = new KeyHasher(d.pool.hash, d.pool.hashTag);
    // A redis that comes back (restarted, maybe empty) is looked at at once, not at the next periodic check.
    this.local = d.pool.dataStore === 1 ? new MemcacheStore(d.pool) : new RedisStore(d.pool, () => {
      if (this.s.enabled) void this.check();
    });
    this.s = {
      phase: 'idle', enabled: d.pool.warmUp, runs: 0, keysCopied: 0, bytesCopied: 0, keysSkipped: 0, keysFailed: 0, keysMirrored: 0, keysMirrorDeleted: 0, keysScanned: 0,
      keysExpected: 0, etaSeconds: 0, keysPerSecond: 0, sources: [], startedAt: 0, finishedAt: 0, lastError: '', reason: '',
    };
    if (this.supported() !== null) this.s.enabled = false;
    // A cluster worker that died during a copy left the word set: reads come back here; the check starts the copy again if needed.
    if (d.states.state(d.view.localNode) === PEER_WARMING) d.states.setState(d.view.localNode, PEER_UNKNOWN);
    if (this.s.enabled) setInterval(() => void this.check(), CHECK_MS).unref();
    d.publish(this.status());
  }

  /** Why this node cannot warm up at all, or null. */
  private supported(): string | null {
    const p = this.d.pool;
    if (p.servers.length !== 1) return 'warm-up needs one datastore server per cluster node';
    if (this.d.view.racks.length < 2) return 'no peer rack to copy from';
    return null;
  }

  status(): WarmUpStatus {
    return { ...this.s, sources: [...this.s.sources] };
  }

  /** /state/warm_up (or a replacement node, join.ts): start a run now (whatever the local key count). */
  start(reason = 'admin'): { status: number; message: string } {
    const why = this.supported();
    if (why !== null) return { status: 400, message: why };
    if (this.running) return { status: 409, message: `a warm-up is already running (${this.s.keysCopied} keys copied so far)` };
    if (this.candidates(new Set()).length === 0) return { status: 409, message: 'no peer rack is up to copy from' };
    void this.run(reason);
    return { status: 200, message: 'warm-up started' };
  }

  stop(): void {
    this.local.close();
  }

  /** The automatic start: an empty (or just restarted and nearly empty) datastore while the source rack holds keys. */
  private async check(): Promise<void> {
    if (this.running || this.moving || !this.local.ready()) return;
    try {
      const size = await this.local.dbsize();
      const id = await this.local.runId();
      const restarted = this.runId !== '' && id !== this.runId;
      this.runId = id;
      if (restarted || (size === 0 && this.lastSize > 0)) this.pending = true;
      this.lastSize = size;
      if (this.retry && Date.now() >= this.retryAt && this.candidates(new Set()).length > 0) {
        await this.run('retry after a failed copy');
        return;
      }
      if (!this.pending || this.running) return;
      // Keys here and no restart seen: nothing to warm up (a node restarted over its own data).
      if (size > 0 && !restarted) {
        this.pending = false;
        this.seenBehind = false;
        return;
      }
      // No source up yet (peers still starting): stay pending, the next check asks again.
      const survey = await this.survey(new Set());
      if (survey === null) return;
      const theirs = Math.max(...survey.map((c) => c.keys));
      this.pending = false;
      // Read again after the sources answered: writes arriving meanwhile (a cluster being filled, replication catching up) mean
      // this datastore is being written like its peers, not left behind; under 1% of the source's keys is left behind.
      const now = await this.local.dbsize();
      if (theirs === 0 || now * RESTARTED_RATIO >= theirs || this.running) {
        this.seenBehind = false;
        return;
      }
      if (!restarted && !this.seenBehind) {
        this.seenBehind = true;
        this.pending = true;
        return;
      }
      this.seenBehind = false;
      await this.run(size === 0 ? 'empty datastore' : 'datastore restarted');
    } catch {
      // The local datastore is away: the next check looks again.
    }
  }

  /**
   * The peer racks this node can copy from, in preference order: local datacenter's racks before remote ones, each tier by its
   * owners' PING round trip (least loaded first); per rack, the owners of this node's range there. Only racks whose every such
   * owner is up (not down, not warming) and runs dynoproxy (a Dynomite node has no DYNOPROXY.RANGE and closes the link on it).
   */
  private candidates(exclude: Set<number>): number[][] {
    const v = this.d.view;
    const mine = hashRangesOf(v, v.localRack, v.localNode);
    const tiers = [Array.from(v.localRacks).slice(1), v.remoteRacks.flatMap((r) => Array.from(r))];
    const out: number[][] = [];
    for (const racks of tiers) {
      const tier: { nodes: number[]; score: number }[] = [];
      for (const rack of racks) {
        const nodes = v.racks[rack].nodes.filter((n) => intersectHashRanges(mine, hashRangesOf(v, rack, n)).length > 0);
        if (nodes.length === 0 || nodes.some((n) => exclude.has(n) || !this.isUp(n) || v.nodes[n].compat === 'dynomite')) continue;
        tier.push({ nodes, score: Math.max(...nodes.map((n) => this.d.rtt(n))) });
      }
      tier.sort((a, b) => a.score - b.score);
      for (const c of tier) out.push(c.nodes);
    }
    return out;
  }

  /**
   * Every candidate rack with the keys its owners hold (DYNOPROXY.RANGE count 0: their key counts, scaled to this node's share of
   * their ranges); racks that do not answer are left out. null when none is up.
   */
  private async survey(exclude: Set<number>): Promise<{ nodes: number[]; keys: number }[] | null> {
    const v = this.d.view;
    const mine = hashRangesOf(v, v.localRack, v.localNode);
    const out: { nodes: number[]; keys: number }[] = [];
    for (const nodes of this.candidates(exclude)) {
      let keys = 0;
      for (const n of nodes) {
        const r = await this.call(n, { cursor: '0', count: 0, maxBytes: 1024, ranges: [0, 0] });
        if (typeof r === 'string') {
          keys = -1;
          break;
        }
        const theirs = hashRangesOf(v, v.nodes[n].rack, n);
        keys += Math.round((r.dbsize * hashRangesSize(intersectHashRanges(mine, theirs))) / Math.max(1, hashRangesSize(theirs)));
      }
      if (keys >= 0) out.push({ nodes, keys });
    }
    return out.length > 0 ? out : null;
  }

  /**
   * The source: the first candidate (least loaded, local datacenter first) that holds at least COMPLETE of the keys the fullest
   * candidate holds — so a rack whose own datastore was just emptied (and has not noticed yet) is not copied from.
   */
  private async pickSources(exclude: Set<number>): Promise<number[] | null> {
    const survey = await this.survey(exclude);
    if (survey === null) return null;
    const most = Math.max(...survey.map((c) => c.keys));
    return (survey.find((c) => c.keys >= COMPLETE * most) ?? survey[0]).nodes;
  }

  private isUp(node: number): boolean {
    const st = this.d.states;
    const o = st.override(node);
    if (o !== OVERRIDE_NONE) return o !== OVERRIDE_DOWN;
    return st.state(node) === PEER_UP && this.d.links[node] !== null;
  }

  private call(node: number, r: RangeRequest): Promise<RangeReply | string> {
    const link = this.d.links[node] ?? null;
    if (link === null) return Promise.resolve('no link');
    const memcache = this.d.pool.dataStore === 1;
    const session = new RangeCall(memcache);
    const req = acquireRequest(K_CLIENT);
    req.client = session;
    const bytes = memcache ? encodeMemcacheRangeRequest(r) : encodeRangeRequest(r);
    link.send(req, bytes, 0, bytes.length);
    afterIo();
    return session.done;
  }

  private async run(reason: string): Promise<void> {
    if (this.running) return;
    this.running = true;
    const s = this.s;
    const v = this.d.view;
    const me = v.localNode;
    Object.assign(s, {
      phase: 'writes_only', runs: s.runs + 1, keysCopied: 0, bytesCopied: 0, keysSkipped: 0, keysFailed: 0, keysMirrored: 0, keysMirrorDeleted: 0, keysScanned: 0, keysExpected: 0,
      etaSeconds: 0, keysPerSecond: 0, sources: [], startedAt: Date.now(), finishedAt: 0, lastError: '', reason,
    });
    this.rateStart = Date.now();
    // From here reads of this node's keys go to other racks (read-failover.ts; peers are told by PING, peer-client.ts).
    this.d.states.setState(me, PEER_WARMING);
    this.d.log('info', 'warm-up started: writes applied, reads served by other racks while this node copies its range', { reason });
    this.d.publish(this.status());
    const mine = hashRangesOf(v, v.localRack, me);
    const failed = new Set<number>();
    let ok = false;
    try {
      for (let attempt = 0; attempt < MAX_SOURCES && !ok; attempt++) {
        const sources = await this.pickSources(failed);
        if (sources === null) {
          s.lastError = 'no peer rack is up to copy from';
          break;
        }
        ok = await this.copyFrom(sources, mine, failed);
      }
    } catch (err) {
      s.lastError = err instanceof Error ? err.message : String(err);
    }
    s.phase = ok ? 'resuming' : 'failed';
    s.etaSeconds = 0;
    s.finishedAt = Date.now();
    this.d.publish(this.status());
    // Reads and every write come back to this node (its peers learn it from the next PING answer); the mirror goes on for a while,
    // so a write the racks took instead of this node (an INCR while it warmed) still reaches it once its source rack applied it.
    this.d.states.setState(me, PEER_UNKNOWN);
    // Writes reach this node directly again, and the source rack as replicas: a read-back waits for a key to be quiet (mirror.ts).
    this.lagMirrors(FLIP_LAG_MS);
    if (ok && this.mirrors.length > 0) await sleep(MIRROR_TAIL_MS);
    await this.endMirrors();
    await sleep(200);
    // The size after the copy: a later drop to 0 (FLUSHALL) is then seen as one.
    this.lastSize = await this.local.dbsize().catch(() => -1);
    if (ok) s.phase = 'idle';
    // A copy that failed part way is tried again by the next check that finds a source up (automatic starts only).
    this.retry = !ok && this.s.enabled;
    this.failures = ok ? 0 : this.failures + 1;
    this.retryAt = Date.now() + Math.min(60_000, CHECK_MS * 2 ** Math.min(5, this.failures - 1));
    this.running = false;
    this.d.log(ok ? 'info' : 'warn', ok ? 'warm-up done' : 'warm-up failed', {
      copied: s.keysCopied, skipped: s.keysSkipped, failed: s.keysFailed, bytes: s.bytesCopied, seconds: (s.finishedAt - s.startedAt) / 1000,
      sources: s.sources, error: s.lastError || undefined,
    });
    this.d.publish(this.status());
  }

  /** No automatic warm-up while a token move is under way (join.ts sets it before announcing the join). */
  hold(moving: boolean): void {
    this.moving = moving;
  }

  /**
   * A join's copy: `mine` (this node's ranges once it joined) from `sources`, the nodes of its own rack that own them now. Retried
   * (RESTORE keeps what writes put here meanwhile) until it succeeds or `attempts` fail; progress in the warm-up status (phase joining).
   */
  async joinCopy(sources: number[], mine: number[], attempts = 5): Promise<boolean> {
    if (this.running) return false;
    this.running = true;
    const s = this.s;
    Object.assign(s, {
      phase: 'joining', runs: s.runs + 1, keysCopied: 0, bytesCopied: 0, keysSkipped: 0, keysFailed: 0, keysMirrored: 0, keysMirrorDeleted: 0, keysScanned: 0, keysExpected: 0,
      etaSeconds: 0, keysPerSecond: 0, sources: [], startedAt: Date.now(), finishedAt: 0, lastError: '', reason: 'join',
    });
    this.rateStart = Date.now();
    this.d.publish(this.status());
    let ok = false;
    for (let i = 0; i < attempts && !ok; i++) {
      if (i > 0) await sleep(1000);
      ok = await this.copyFrom(sources, mine, new Set()).catch((err: unknown) => {
        s.lastError = err instanceof Error ? err.message : String(err);
        return false;
      });
    }
    // Kept on success: the join ends them once every peer routes the range here (its writes no longer reach only the old owner).
    if (!ok) await this.endMirrors();
    s.phase = ok ? 'idle' : 'failed';
    s.etaSeconds = 0;
    s.finishedAt = Date.now();
    this.running = false;
    this.lastSize = await this.local.dbsize().catch(() => -1);
    this.d.publish(this.status());
    return ok;
  }

  /** The join flips (this node serves the range from now on): the mirrors read a key again only once it was quiet (mirror.ts). */
  lagMirrors(ms: number): void {
    for (const m of this.mirrors) m.setLag(ms);
  }

  /** Stop the mirrors once what they heard is applied (their figures stay in the status). */
  async endMirrors(): Promise<void> {
    const ms = this.mirrors;
    this.mirrors = [];
    for (const m of ms) await m.stop();
    if (ms.length > 0) {
      // Their last figures (a join's and a warm-up's mirrors go on after the copy).
      this.mirrorFailure(ms);
      this.d.publish(this.status());
    }
  }

  /**
   * A mirror per source (redis): from now on every key the source's datastore reports written in `ranges` is read again there and
   * applied here (mirror.ts). A string when one could not start.
   */
  private async startMirrors(plan: readonly { node: number; ranges: number[] }[]): Promise<string | null> {
    await this.endMirrors();
    const local = this.local;
    if (!(local instanceof RedisStore)) return null;
    for (const p of plan) {
      const link = this.d.links[p.node] ?? null;
      const own = link === null ? null : this.d.ownLink(p.node);
      if (link === null || own === null) return `${this.d.view.nodes[p.node].name}: no link`;
      const ranges = p.ranges;
      const m = new Mirror(
        { pollLink: own, fetch: (keys, maxBytes) => fetchOn(link, keys, maxBytes) },
        { apply: (keys, entries) => local.replace(keys, entries) },
        (key) => inHashRanges(ranges, this.hasher.keyHash(key, 0, key.length)),
        this.d.pool.maxRequestBytes >> 1,
      );
      this.mirrors.push(m);
      if (!(await m.start())) return `${this.d.view.nodes[p.node].name}: ${m.failed ?? 'mirror did not start'}`;
    }
    return null;
  }

  /**
   * A warm-up's mirrors also read again what this datastore holds already: replica writes that reached it between its emptying and
   * the mirrors' start (an INCR that made a key 1 here) were applied at the source before the feed's position was taken, so the feed
   * never reports them, and the copy's never-replacing RESTORE would keep them. A datastore holding more than SEED_MAX keys (a node
   * left behind, not emptied) is not listed: its writes of that window are not corrected.
   */
  private async seedMirrors(): Promise<void> {
    const local = this.local;
    if (!(local instanceof RedisStore) || this.mirrors.length === 0) return;
    try {
      const size = await local.dbsize();
      if (size > SEED_MAX) {
        this.d.log('warn', 'warm-up: this datastore holds many keys already; writes it got just before the copy began are not read again', { keys: size });
        return;
      }
      const keys = await local.keys(SEED_MAX);
      for (const m of this.mirrors) m.seed(keys);
    } catch (err) {
      this.d.log('warn', 'warm-up: could not list the keys written here before the copy began', { error: err instanceof Error ? err.message : String(err) });
    }
  }

  /** Mirrors' figures and the first failure (a failed mirror fails the copy: keys written at the source may be missing here). */
  private mirrorFailure(mirrors: readonly Mirror[] = this.mirrors): string | null {
    const s = this.s;
    s.keysMirrored = 0;
    s.keysMirrorDeleted = 0;
    let failure: string | null = null;
    for (const m of mirrors) {
      s.keysMirrored += m.figures.replaced;
      s.keysMirrorDeleted += m.figures.deleted;
      failure ??= m.failed;
    }
    return failure;
  }

  /** Copy this node's range from each source node in turn; false (the failed node added to `failed`) when one keeps failing. */
  private async copyFrom(sources: number[], mine: number[], failed: Set<number>): Promise<boolean> {
    const s = this.s;
    const v = this.d.view;
    const plan = sources.map((n) => ({ node: n, ranges: intersectHashRanges(mine, hashRangesOf(v, v.nodes[n].rack, n)), dbsize: 0, scanned: 0 }));
    s.sources = plan.map((p) => v.nodes[p.node].name);
    // Before the first read of the copy: what is written at a source from here on is read again and applied after its copy step.
    const notMirrored = await this.startMirrors(plan);
    if (notMirrored !== null) {
      s.lastError = `mirror: ${notMirrored}`;
      await this.endMirrors();
      return false;
    }
    if (s.phase === 'writes_only') await this.seedMirrors();
    for (const p of plan) {
      const r = await this.call(p.node, { cursor: '0', count: 0, maxBytes: 1024, ranges: p.ranges });
      if (typeof r === 'string') {
        s.lastError = `${v.nodes[p.node].name}: ${r}`;
        failed.add(p.node);
        return false;
      }
      p.dbsize = r.dbsize;
      // The source's keys in this node's range, if its keys are spread evenly over its own range.
      s.keysExpected += Math.round((r.dbsize * hashRangesSize(p.ranges)) / Math.max(1, hashRangesSize(hashRangesOf(v, v.nodes[p.node].rack, p.node))));
    }
    const totalSize = plan.reduce((a, p) => a + p.dbsize, 0);
    this.d.publish(this.status());
    for (const p of plan) {
      let cursor = '0';
      let count = this.d.pool.warmUpBatch;
      let maxBytes = STEP_BYTES;
      let errors = 0;
      // Until a step answers with cursor 0 (a failed step leaves the cursor where it was, even the first one).
      for (let done = false; !done; ) {
        const stepStart = Date.now();
        const r = await this.call(p.node, { cursor, count, maxBytes, ranges: p.ranges });
        if (typeof r === 'string') {
          const smaller = /exceed max-bytes/.test(r) ? smallerStep(count, maxBytes, this.d.pool.maxRequestBytes) : null;
          if (smaller !== null) {
            ({ count, maxBytes } = smaller);
            continue;
          }
          s.lastError = `${v.nodes[p.node].name}: ${r}`;
          if (++errors >= STEP_RETRIES) {
            failed.add(p.node);
            return false;
          }
          await sleep(500);
          continue;
        }
        errors = 0;
        const mirrorFailed = this.mirrorFailure();
        if (mirrorFailed !== null) {
          s.lastError = `mirror: ${mirrorFailed}`;
          await this.endMirrors();
          return false;
        }
        await this.restore(r);
        p.scanned += r.scanned;
        s.keysScanned += r.scanned;
        cursor = r.cursor;
        done = cursor === '0';
        this.progress(plan.reduce((a, q) => a + Math.min(q.scanned, q.dbsize), 0), totalSize);
        // Throttle: at least warm_up_pause, and at least as long as the step took (the copy never takes more than half of the time;
        // a busy source or datastore answers slower, so the copy slows down with it).
        const pause = Math.max(this.d.pool.warmUpPause, Date.now() - stepStart);
        if (pause > 0 && !done) await sleep(pause);
      }
      p.scanned = p.dbsize;
    }
    for (const m of this.mirrors) await m.drained();
    const mirrorFailed = this.mirrorFailure();
    if (mirrorFailed !== null) {
      s.lastError = `mirror: ${mirrorFailed}`;
      await this.endMirrors();
      return false;
    }
    return true;
  }

  /** RESTORE each key with its remaining TTL, never replacing: a key already here was written after the copy began. */
  private async restore(r: RangeReply): Promise<void> {
    // PTTL 0: expiring as it was read; RESTORE would take 0 as "no expiry". A key a mirror deleted (gone at the source after this
    // step read it) is left out; the filter and the restore's send happen in one turn, so no apply can come between.
    const ms = this.mirrors;
    const entries = r.entries.filter((e) => e.pttl !== 0 && (ms.length === 0 || !ms.some((m) => m.deleted(e.key))));
    if (entries.length === 0) return;
    const res = await this.local.restore(entries);
    const s = this.s;
    for (let i = 0; i < entries.length; i++) {
      const r = res[i];
      if (r === 1) {
        s.keysCopied++;
        s.bytesCopied += entries[i].key.length + entries[i].dump.length;
      } else if (r === 0) s.keysSkipped++;
      else {
        s.keysFailed++;
        s.lastError = `RESTORE: ${String(r)}`;
      }
    }
  }

  private progress(scanned: number, total: number): void {
    const s = this.s;
    const now = Date.now();
    const elapsed = (now - this.rateStart) / 1000;
    s.keysPerSecond = elapsed > 0 ? Math.round(s.keysCopied / elapsed) : 0;
    const f = total > 0 ? Math.min(0.999, scanned / total) : 0;
    s.etaSeconds = f > 0 ? Math.round(((elapsed * (1 - f)) / f) * 10) / 10 : 0;
    if (now - this.lastPublish >= 250) {
      this.lastPublish = now;
      this.d.publish(this.status());
    }
  }
}

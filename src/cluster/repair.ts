// Anti-entropy repair in the cluster worker: this node's token range compared with the owners of the same range in every other rack
// (all datacenters) by per-bucket digests (DYNOPROXY.REPAIR on the peer port; its own node through a link to itself), then, for the
// buckets that differ only, the keys walked and what differs copied by majority of racks (repair-plan.ts), throttled.
// Never writes a key that changed since it was read (compare-and-set on the owner), nor one that changed between its two looks.
import { createHash } from 'node:crypto';
import type { PoolConfig } from '../config/index.ts';
import { PeerStates, PEER_UP, PEER_WARMING, OVERRIDE_NONE, OVERRIDE_DOWN } from '../peer/index.ts';
import { hashRangesOf, intersectHashRanges, hashRangesSize, KeyHasher, type ClusterView } from '../topology/index.ts';
import {
  encodeRangeRequest, encodeRepairRequest, decodeDigestReply, decodeKeysReply, decodeFetchReply,
  MAX_REPAIR_BATCH, FOLD, type RepairRequest,
} from '../protocol/resp/index.ts';
import { acquireRequest, K_CLIENT, afterIo, newPeerLink, peerLinkTlsOf, refreshClock, type BackendServer, type BackendSettings } from '../io/index.ts';
import { SERVER_BLOCK_SLOTS } from '../stats/index.ts';
import type { RepairFigures, RepairStatus } from '../messages.ts';
import { PeerCall, type Item } from './peer-call.ts';
import { decide, stable, bucketsFor, splitRanges, addTable, compareTables, type KeyState } from './repair-plan.ts';

/** Keys one digest job should hold at most (a node's range with more is compared in several parts, one after the other). */
const JOB_KEYS = 250_000;
/** How often running digest jobs are asked how they go, ms. */
const POLL_MS = 200;
/** A job whose scan count does not move for this long has failed (its node restarted, say). */
const STALL_MS = 30_000;
/** A differing key is read again no sooner than this after the scans saw it: a write still replicating is not taken for a difference. */
const SETTLE_MS = 1000;
/** Keys one KEYS request should list, and payload bytes one FETCH may carry. */
const KEYS_PER_CALL = 2048;
const FETCH_BYTES = 8 * 1024 * 1024;
/** Differing keys held for the second look at once (more: the rest waits for the next run). */
const MAX_CANDIDATES = 200_000;

export interface RepairDeps {
  pool: PoolConfig;
  view: ClusterView;
  states: PeerStates;
  /** The cluster worker's peer links by node (none for the local node: the repair opens one to its own peer port). */
  links: readonly (BackendServer | null)[];
  settings: BackendSettings;
  maxPayload: number;
  publish(status: RepairStatus): void;
  log(level: 'info' | 'warn', msg: string, fields: Record<string, unknown>): void;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms).unref());

class RepairFailed extends Error {}

/** One rack's part in a comparison: its owner nodes of the compared range, each with the share of it that it owns. */
interface RackPart {
  rack: number;
  nodes: { node: number; ranges: number[] }[];
}

const zeroFigures = (): RepairFigures => ({ keysCompared: 0, keysDiffering: 0, keysRepaired: 0, conflicts: 0, keysSkipped: 0, bytes: 0 });

export class Repair {
  private readonly d: RepairDeps;
  private readonly hasher: KeyHasher;
  private readonly s: RepairStatus;
  private lastPublish = 0;
  private seq = 0;
  /** The link to this node's own peer port (its datastore is read and written through it like the others'). */
  private readonly self: BackendServer | null;

  constructor(d: RepairDeps) {
    this.d = d;
    this.hasher = new KeyHasher(d.pool.hash, d.pool.hashTag);
    const v = d.view;
    const me = v.nodes[v.localNode];
    this.self = d.pool.dataStore === 0 && me !== undefined
      ? newPeerLink(me, true, d.settings, d.maxPayload, new Float64Array(SERVER_BLOCK_SLOTS), () => d.pool.peerSecret, d.pool.name)
      : null;
    // secure_server_option: its own peer port speaks mutual TLS too.
    if (this.self !== null) this.self.linkTls = peerLinkTlsOf(d.pool);
    this.s = {
      phase: 'idle', running: false, runs: 0, reason: '', range: '', racks: [], racksSkipped: [], bucketsCompared: 0, bucketsDiffering: 0,
      keysScanned: 0, startedAt: 0, finishedAt: 0, lastError: '', interval: d.pool.repairInterval, ...zeroFigures(),
      total: { runs: 0, ...zeroFigures() },
    };
    if (d.pool.repairInterval > 0 && this.supported() === null) {
      setInterval(() => {
        if (!this.s.running) this.start(null, 'interval');
      }, d.pool.repairInterval * 1000).unref();
    }
    d.publish(this.status());
  }

  stop(): void {
    this.self?.close();
  }

  status(): RepairStatus {
    return { ...this.s, racks: [...this.s.racks], racksSkipped: [...this.s.racksSkipped], total: { ...this.s.total } };
  }

  /** The link to a node of the current view (membership may have changed since the repair was made): this node's own, or the worker's. */
  private link(node: number): BackendServer | null {
    return node === this.d.view.localNode ? this.self : (this.d.links[node] ?? null);
  }

  private supported(): string | null {
    const p = this.d.pool;
    if (p.dataStore !== 0) return 'repair compares redis datastores only (memcached: not yet)';
    if (p.servers.length !== 1) return 'repair needs one datastore server per cluster node';
    if (this.d.view.racks.length < 2) return 'no other rack to compare with';
    if (this.d.view.moving) return 'tokens are moving (a join or leave, or its handoff_grace): repair after it settled';
    return null;
  }

  /** POST /repair (range: inclusive key-hash bounds, start > end wrapping past 2^32-1; null the whole node) or the periodic start. */
  start(range: { start: number; end: number } | null, reason: string): { status: number; message: string } {
    const why = this.supported();
    if (why !== null) return { status: 400, message: why };
    if (this.s.running) return { status: 409, message: `a repair is already running (${this.s.phase}, ${this.s.keysCompared} keys compared so far)` };
    const v = this.d.view;
    let mine = hashRangesOf(v, v.localRack, v.localNode);
    if (range !== null) {
      const asked = range.start <= range.end ? [range.start, range.end] : [0, range.end, range.start, 0xffffffff];
      mine = intersectHashRanges(mine, asked);
      if (mine.length === 0) return { status: 400, message: `this node owns no key hash in ${range.start}..${range.end} (its ranges: ${hashRangesOf(v, v.localRack, v.localNode).join(' ')})` };
    }
    if (this.d.states.state(v.localNode) === PEER_WARMING) return { status: 409, message: 'this node is warming up: repair after it is done' };
    void this.run(mine, range === null ? '' : `${range.start}-${range.end}`, reason);
    return { status: 200, message: 'repair started' };
  }

  private isUp(node: number): boolean {
    if (node === this.d.view.localNode) return this.self !== null && this.d.states.state(node) !== PEER_WARMING;
    // A Dynomite node has no DYNOPROXY.REPAIR and would close the link on it, whatever an override says.
    if (this.d.view.nodes[node].compat === 'dynomite') return false;
    const st = this.d.states;
    const o = st.override(node);
    if (o !== OVERRIDE_NONE) return o !== OVERRIDE_DOWN;
    return st.state(node) === PEER_UP && this.link(node) !== null;
  }

  private async call(node: number, r: RepairRequest | Buffer): Promise<Item[]> {
    const link = this.link(node);
    if (link === null) throw new RepairFailed(`${this.d.view.nodes[node].name}: no link`);
    const session = new PeerCall();
    const req = acquireRequest(K_CLIENT);
    req.client = session;
    const bytes = Buffer.isBuffer(r) ? r : encodeRepairRequest(r);
    link.send(req, bytes, 0, bytes.length);
    afterIo();
    const reply = await session.done;
    this.count(bytes.length + session.bytes);
    if (typeof reply === 'string') throw new RepairFailed(`${this.d.view.nodes[node].name}: ${reply}`);
    return reply;
  }

  private count(bytes: number): void {
    this.s.bytes += bytes;
    this.s.total.bytes += bytes;
  }

  private async run(mine: number[], range: string, reason: string): Promise<void> {
    const s = this.s;
    const v = this.d.view;
    const runId = `${Date.now().toString(36)}-${++this.seq}`;
    Object.assign(s, {
      phase: 'digesting', running: true, runs: s.runs + 1, reason, range, racks: [], racksSkipped: [], bucketsCompared: 0, bucketsDiffering: 0,
      keysScanned: 0, startedAt: Date.now(), finishedAt: 0, lastError: '', ...zeroFigures(),
    });
    s.total.runs++;
    this.d.publish(this.status());
    // The cluster worker's timer checks its links' timeouts; the link to this node is the repair's own.
    const timer = setInterval(() => this.self?.checkTimeouts(refreshClock()), 100);
    try {
      const racks: RackPart[] = [];
      for (let r = 0; r < v.racks.length; r++) {
        const nodes = v.racks[r].nodes
          .map((n) => ({ node: n, ranges: intersectHashRanges(mine, hashRangesOf(v, r, n)) }))
          .filter((x) => x.ranges.length > 0);
        if (nodes.length === 0) continue;
        const name = `${v.datacenters[v.racks[r].dc]}/${v.racks[r].name}`;
        if (nodes.every((x) => this.isUp(x.node))) {
          s.racks.push(name);
          racks.push({ rack: r, nodes });
        } else s.racksSkipped.push(name);
      }
      // This node's rack first (its owner is this node: its ranges are `mine`).
      racks.sort((a, b) => (a.rack === v.localRack ? -1 : b.rack === v.localRack ? 1 : 0));
      if (racks.length < 2 || racks[0].rack !== v.localRack) throw new RepairFailed('no other rack is up to compare with');
      // The local datastore's key count, scaled to the compared share of this node's range, sizes the jobs.
      const counted = await this.call(v.localNode, encodeRangeRequest({ cursor: '0', count: 0, maxBytes: 1024, ranges: [0, 0] }));
      const dbsize = typeof counted[1] === 'number' ? counted[1] : 0;
      const all = hashRangesOf(v, v.localRack, v.localNode);
      const estimate = Math.round((dbsize * hashRangesSize(mine)) / Math.max(1, hashRangesSize(all)));
      const parts = splitRanges(mine, Math.max(1, Math.ceil(estimate / JOB_KEYS)));
      for (let p = 0; p < parts.length; p++) {
        const layout = parts[p];
        const share = Math.round((estimate * hashRangesSize(layout)) / Math.max(1, hashRangesSize(mine)));
        await this.comparePart(`${runId}-${p}`, layout, bucketsFor(share), racks);
      }
      s.phase = 'done';
    } catch (err) {
      s.phase = 'failed';
      s.lastError = err instanceof Error ? err.message : String(err);
    }
    clearInterval(timer);
    s.running = false;
    s.finishedAt = Date.now();
    this.d.log(s.phase === 'done' ? 'info' : 'warn', s.phase === 'done' ? 'repair done' : 'repair failed', {
      range: s.range || 'node', racks: s.racks, skipped: s.racksSkipped, compared: s.keysCompared, differing: s.keysDiffering,
      repaired: s.keysRepaired, conflicts: s.conflicts, unsettled: s.keysSkipped, bytes: s.bytes, seconds: (s.finishedAt - s.startedAt) / 1000,
      error: s.lastError || undefined,
    });
    this.d.publish(this.status());
  }

  /** One part of the range: every rack's digest table, then the keys of the buckets that differ, then the repair of what differs. */
  private async comparePart(job: string, layout: number[], buckets: number, racks: RackPart[]): Promise<void> {
    const s = this.s;
    this.phase('digesting');
    const coarse = compareTables(await this.digests(job, layout, buckets, racks));
    s.bucketsCompared += buckets;
    s.keysCompared += coarse.keys;
    s.total.keysCompared += coarse.keys;
    if (coarse.differing.length === 0) return;
    this.phase('comparing');
    // The buckets of the coarse buckets that differ; the most keys a rack holds in each differing one.
    const sizes = new Map<number, number>();
    for (let c = 0; c < coarse.differing.length; c += 256) {
      const chunk = coarse.differing.slice(c, c + 256);
      const fine = chunk.flatMap((x) => Array.from({ length: Math.min(buckets, (x + 1) * FOLD) - x * FOLD }, (_, i) => x * FOLD + i));
      const rows = racks.map(() => Buffer.alloc(fine.length * 12));
      for (let i = 0; i < racks.length; i++) {
        for (const { node } of racks[i].nodes) {
          const [r] = await this.call(node, { op: 'rows', job: `${job}-${node}`, buckets: chunk });
          if (!Buffer.isBuffer(r) || r.length !== rows[i].length) throw new RepairFailed(`${this.d.view.nodes[node].name}: malformed rows reply`);
          addTable(rows[i], r);
        }
      }
      for (const p of compareTables(rows).differing) sizes.set(fine[p], Math.max(...rows.map((t) => t.readUInt32LE(p * 12))));
    }
    const differing = [...sizes.keys()];
    s.bucketsDiffering += differing.length;
    // First look: each rack's entries of the differing buckets, from the jobs (what the scans saw).
    const first = new Map<string, KeyState[]>();
    const absent: KeyState = { present: false };
    let from = 0;
    while (from < differing.length) {
      // Buckets whose keys (the most any rack holds) fit one KEYS reply.
      let n = 0;
      let listed = 0;
      while (from + n < differing.length && n < MAX_REPAIR_BATCH && (n === 0 || listed < KEYS_PER_CALL)) {
        listed += sizes.get(differing[from + n]) ?? 0;
        n++;
      }
      const chunk = differing.slice(from, from + n);
      from += n;
      for (let i = 0; i < racks.length; i++) {
        for (const { node } of racks[i].nodes) {
          const entries = decodeKeysReply(await this.call(node, { op: 'keys', job: `${job}-${node}`, buckets: chunk }));
          if (typeof entries === 'string') throw new RepairFailed(`${this.d.view.nodes[node].name}: ${entries}`);
          for (const e of entries) {
            const id = e.key.toString('latin1');
            let st = first.get(id);
            if (st === undefined) {
              if (first.size >= MAX_CANDIDATES) continue;
              st = racks.map(() => absent);
              first.set(id, st);
            }
            st[i] = { present: true, digest: e.digest, expireAt: e.expireAt };
          }
        }
      }
    }
    const candidates: Buffer[] = [];
    for (const [id, st] of first) if (decide(st).kind !== 'equal') candidates.push(Buffer.from(id, 'latin1'));
    s.keysDiffering += candidates.length;
    s.total.keysDiffering += candidates.length;
    this.d.publish(this.status());
    if (candidates.length === 0) return;
    await sleep(SETTLE_MS);
    this.phase('repairing');
    const batch = Math.max(1, Math.min(this.d.pool.warmUpBatch, 512));
    for (let i = 0; i < candidates.length; i += batch) {
      const t0 = Date.now();
      await this.repairKeys(candidates.slice(i, i + batch), first, racks);
      const pause = Math.max(this.d.pool.warmUpPause, Date.now() - t0);
      if (i + batch < candidates.length && pause > 0) await sleep(pause);
    }
  }

  private phase(p: RepairStatus['phase']): void {
    this.s.phase = p;
    this.d.publish(this.status());
  }

  /** Start the part's job on every node of every rack and ask until all are done; each rack's coarse table is its nodes' summed. */
  private async digests(job: string, layout: number[], buckets: number, racks: RackPart[]): Promise<Buffer[]> {
    const nodes = racks.flatMap((r, i) => r.nodes.map((x) => ({ ...x, rack: i, table: null as Buffer | null, keys: 0, movedAt: Date.now() })));
    for (;;) {
      for (const n of nodes) {
        if (n.table !== null) continue;
        const reply = decodeDigestReply(await this.call(n.node, { op: 'digest', job: `${job}-${n.node}`, buckets, layout, ranges: n.ranges }));
        if (typeof reply === 'string') throw new RepairFailed(`${this.d.view.nodes[n.node].name}: ${reply}`);
        if (reply.done) n.table = reply.table;
        if (reply.keys !== n.keys || reply.done) n.movedAt = Date.now();
        else if (Date.now() - n.movedAt > STALL_MS) throw new RepairFailed(`${this.d.view.nodes[n.node].name}: its digest job stalled`);
        n.keys = reply.keys;
      }
      this.s.keysScanned = nodes.reduce((a, n) => a + n.keys, 0);
      this.publishSoon();
      if (nodes.every((n) => n.table !== null)) break;
      await sleep(POLL_MS);
    }
    const tables = racks.map(() => Buffer.alloc(Math.ceil(buckets / FOLD) * 12));
    for (const n of nodes) addTable(tables[n.rack], n.table!);
    return tables;
  }

  /** Second look at a batch of differing keys on each rack's owner; what stayed the same since the first look is repaired by majority. */
  private async repairKeys(keys: Buffer[], first: Map<string, KeyState[]>, racks: RackPart[]): Promise<void> {
    const s = this.s;
    const v = this.d.view;
    // Per rack, the owner of each key (a rack's range may cross several of its nodes), and what it holds now.
    const owners = racks.map((r) => keys.map((k) => v.racks[r.rack].ring.lookup(this.hasher.keyHash(k, 0, k.length))));
    const now: { pttl: number; payload: Buffer; sha: string }[][] = racks.map(() => []);
    for (let i = 0; i < racks.length; i++) {
      for (const node of new Set(owners[i])) {
        const mineIdx = keys.map((_, j) => j).filter((j) => owners[i][j] === node);
        const entries = decodeFetchReply(await this.call(node, { op: 'fetch', maxBytes: FETCH_BYTES, keys: mineIdx.map((j) => keys[j]) }));
        if (typeof entries === 'string' || entries.length !== mineIdx.length) throw new RepairFailed(`${v.nodes[node].name}: ${typeof entries === 'string' ? entries : 'short fetch reply'}`);
        mineIdx.forEach((j, x) => {
          const e = entries[x];
          now[i][j] = { pttl: e.pttl, payload: e.payload, sha: e.pttl === -2 || e.pttl === -3 ? '-' : createHash('sha1').update(e.payload).digest('hex') };
        });
      }
    }
    const at = Date.now();
    const puts = new Map<number, { key: Buffer; expected: string; pttl: number; payload: Buffer }[]>();
    const repairedBy = new Map<number, number[]>();
    for (let j = 0; j < keys.length; j++) {
      const was = first.get(keys[j].toString('latin1'))!;
      const seen = now.map((r) => r[j]);
      if (seen.some((e) => e.pttl === -3)) {
        this.skip();
        continue;
      }
      const states: KeyState[] = seen.map((e) => (e.pttl === -2 ? { present: false } : { present: true, digest: e.sha, expireAt: e.pttl >= 0 ? at + e.pttl : -1 }));
      // Changed between the looks: a write in flight (or a key expiring); the next run sees it settled.
      if (states.some((st, i) => !stable(was[i], st))) {
        this.skip();
        continue;
      }
      const verdict = decide(states);
      if (verdict.kind === 'equal') continue;
      if (verdict.kind === 'conflict') {
        s.conflicts++;
        s.total.conflicts++;
        continue;
      }
      const src = verdict.from === null ? null : seen[verdict.from];
      // About to expire: nothing worth copying.
      if (src !== null && src.pttl >= 0 && src.pttl < 1000) continue;
      for (const i of verdict.to) {
        const node = owners[i][j];
        const list = puts.get(node) ?? [];
        list.push({ key: keys[j], expected: seen[i].sha, pttl: src === null ? 0 : Math.max(0, src.pttl), payload: src === null ? Buffer.alloc(0) : src.payload });
        puts.set(node, list);
        const ks = repairedBy.get(node) ?? [];
        ks.push(j);
        repairedBy.set(node, ks);
      }
    }
    const written = new Set<number>();
    const changed = new Set<number>();
    for (const [node, list] of puts) {
      const res = await this.call(node, { op: 'put', puts: list });
      const js = repairedBy.get(node)!;
      res.forEach((r, x) => {
        if (r === 1) written.add(js[x]);
        else if (r === 0) changed.add(js[x]);
        else s.lastError = `${v.nodes[node].name}: ${Buffer.isBuffer(r) ? r.toString('utf8').slice(0, 200) : String(r)}`;
      });
    }
    for (const j of changed) if (!written.has(j)) this.skip();
    s.keysRepaired += written.size;
    s.total.keysRepaired += written.size;
    this.publishSoon();
  }

  private skip(): void {
    this.s.keysSkipped++;
    this.s.total.keysSkipped++;
  }

  private publishSoon(): void {
    const now = Date.now();
    if (now - this.lastPublish < 250) return;
    this.lastPublish = now;
    this.d.publish(this.status());
  }
}

// The cluster topology in one SharedArrayBuffer: one writer publishes it under a seqlock, every thread reads it lock-free.
// Pure: no I/O, no threads of its own, never blocks; a reader allocates only when the published version changes.

import { NEGATIVE_SIGNUM } from './dyn-token.ts';
import type { DynToken } from './dyn-token.ts';
import { dispatchVnode, TokenRing } from './token-ring.ts';

/** Node states, numbered as Dynomite's dyn_state_t so gossip states need no mapping (LEFT, 10, is dynoproxy's: a node that left the ring). */
export const NODE_STATE = Object.freeze({
  INIT: 0, STANDBY: 1, WRITES_ONLY: 2, RESUMING: 3, NORMAL: 4, LEAVING: 6, JOINING: 7, DOWN: 8, LEFT: 10, RESET: 11, UNKNOWN: 12,
});

export interface TopologyCapacity {
  maxNodes: number;
  /** Tokens of all racks together. */
  maxTokens: number;
  /** UTF-8 bytes of all names (datacenters, racks, node hosts) together. */
  maxStringBytes: number;
  /** Defaults to maxNodes. */
  maxRacks?: number;
  /** Defaults to maxNodes. */
  maxDatacenters?: number;
}

export interface TopologyRack { name: string; dc: number }

export interface TopologyNode {
  /** Address or host name; the proxy resolves it, the table only carries it. */
  host: string;
  rack: number;
  clientPort: number;
  peerPort: number;
  /** A NODE_STATE value (any uint8 is carried). */
  state: number;
  isLocal: boolean;
  /** The node runs Dynomite (peer_compat: dynomite): it gets only what Dynomite's parser accepts, and no auth exchange. */
  dynomite?: boolean;
  /**
   * The node's tokens moved a moment ago (it finished joining, or it is leaving): writes for the ranges that move also go to the
   * owner on the other side of the move until the cluster has surely seen it (ClusterView's shadow ring).
   */
  settling?: boolean;
  /** The node's tokens in its rack's ring. snapshot() lists them in ring order; a "0" token keeps no magnitude. */
  tokens: DynToken[];
}

export interface TopologySnapshot {
  /** Set by snapshot(); publish() ignores it and numbers versions itself. */
  version?: number;
  datacenters: string[];
  racks: TopologyRack[];
  nodes: TopologyNode[];
}

// ---- Layout: every slot of the buffer is named here and nowhere else. ----
// Header, in Int32 slots. The capacities are written once by createTopologyBuffer and never change.
const H_SEQ = 0; // seqlock sequence: odd while the writer is writing
const H_LAYOUT = 1;
const H_MAX_NODES = 2;
const H_MAX_TOKENS = 3;
const H_MAX_STRING_BYTES = 4;
const H_MAX_RACKS = 5;
const H_MAX_DCS = 6;
const H_VERSION = 7; // published snapshots so far (uint32, written inside the seqlock like everything below)
const H_DC_COUNT = 8;
const H_RACK_COUNT = 9;
const H_NODE_COUNT = 10;
const H_STRING_BYTES = 11;
const HEADER_SLOTS = 16;
/** Changes whenever the layout does, so a reader never misreads a buffer made by other code. */
const LAYOUT_ID = 0x70b0_0001;
// Per datacenter: its name in the string area (offset, length).
const DC_NAME_OFF = 0, DC_NAME_LEN = 1, DC_SLOTS = 2;
// Per rack: name, datacenter, and its slice of the token arrays.
const RACK_NAME_OFF = 0, RACK_NAME_LEN = 1, RACK_DC = 2, RACK_TOKEN_START = 3, RACK_TOKEN_COUNT = 4, RACK_SLOTS = 5;
// Per node.
const NODE_HOST_OFF = 0, NODE_HOST_LEN = 1, NODE_RACK = 2, NODE_DC = 3, NODE_CLIENT_PORT = 4, NODE_PEER_PORT = 5;
const NODE_STATE_SLOT = 6, NODE_FLAGS = 7, NODE_SLOTS = 8;
const NODE_FLAG_LOCAL = 1;
const NODE_FLAG_DYNOMITE = 2;
const NODE_FLAG_SETTLING = 4;
// Then: token owners (Int32, node index), token sort keys (Float64, dynTokenKey order, 8-byte aligned), strings.

interface Layout {
  maxNodes: number; maxTokens: number; maxStringBytes: number; maxRacks: number; maxDcs: number;
  /** Int32 slot of the first datacenter, rack, node and token owner. */
  dcs: number; racks: number; nodes: number; owners: number;
  /** Float64 index of the first token key. */
  keys: number;
  /** Byte offset of the string area, and the buffer's size. */
  strings: number; bytes: number;
}

function layoutOf(maxNodes: number, maxTokens: number, maxStringBytes: number, maxRacks: number, maxDcs: number): Layout {
  const dcs = HEADER_SLOTS;
  const racks = dcs + maxDcs * DC_SLOTS;
  const nodes = racks + maxRacks * RACK_SLOTS;
  const owners = nodes + maxNodes * NODE_SLOTS;
  const keys = Math.ceil((owners + maxTokens) / 2);
  const strings = (keys + maxTokens) * 8;
  const bytes = Math.ceil((strings + maxStringBytes) / 8) * 8;
  return { maxNodes, maxTokens, maxStringBytes, maxRacks, maxDcs, dcs, racks, nodes, owners, keys, strings, bytes };
}

function layoutFromHeader(i32: Int32Array): Layout {
  if (i32.length < HEADER_SLOTS || i32[H_LAYOUT] !== LAYOUT_ID) throw new RangeError('not a topology table buffer');
  const layout = layoutOf(i32[H_MAX_NODES], i32[H_MAX_TOKENS], i32[H_MAX_STRING_BYTES], i32[H_MAX_RACKS], i32[H_MAX_DCS]);
  if (layout.bytes !== i32.byteLength) throw new RangeError('topology table buffer has the wrong size for its capacity');
  return layout;
}

function checkInt(what: string, v: unknown, min: number, max: number): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < min || v > max) throw new RangeError(`topology: ${what} ${String(v)} is not an integer in [${min}, ${max}]`);
  return v;
}

/** A zeroed table for this capacity (no snapshot, version 0), to hand to one TopologyWriter and any readers. */
export function createTopologyBuffer(capacity: TopologyCapacity): SharedArrayBuffer {
  const maxNodes = checkInt('maxNodes', capacity.maxNodes, 1, 1 << 20);
  const layout = layoutOf(maxNodes, checkInt('maxTokens', capacity.maxTokens, 1, 1 << 24),
    checkInt('maxStringBytes', capacity.maxStringBytes, 0, 1 << 26), checkInt('maxRacks', capacity.maxRacks ?? maxNodes, 1, 1 << 20),
    checkInt('maxDatacenters', capacity.maxDatacenters ?? maxNodes, 1, 1 << 20));
  const sab = new SharedArrayBuffer(layout.bytes);
  const i32 = new Int32Array(sab);
  i32[H_MAX_NODES] = layout.maxNodes;
  i32[H_MAX_TOKENS] = layout.maxTokens;
  i32[H_MAX_STRING_BYTES] = layout.maxStringBytes;
  i32[H_MAX_RACKS] = layout.maxRacks;
  i32[H_MAX_DCS] = layout.maxDcs;
  i32[H_LAYOUT] = LAYOUT_ID;
  return sab;
}

const utf8 = new TextEncoder();

/**
 * The only writer of a table. publish() validates and encodes the whole snapshot first, so a bad snapshot throws
 * before a byte of the table changes, then writes it under the seqlock: seq goes odd, the data is written, seq
 * goes even. There is one buffer, not two: readers copy it into private memory and retry (or keep their previous
 * copy) if seq moved meanwhile, so they never wait for the writer and publishing (rare) never waits for them.
 */
export class TopologyWriter {
  readonly buffer: SharedArrayBuffer;
  private readonly layout: Layout;
  private readonly i32: Int32Array;
  private readonly f64: Float64Array;
  private readonly u8: Uint8Array;
  /** The table was left mid-publish (odd seq) by a writer that died: our first publish may take it over. */
  private recovering: boolean;

  constructor(buffer: SharedArrayBuffer) {
    this.buffer = buffer;
    this.i32 = new Int32Array(buffer);
    this.f64 = new Float64Array(buffer);
    this.u8 = new Uint8Array(buffer);
    this.layout = layoutFromHeader(this.i32);
    this.recovering = (Atomics.load(this.i32, H_SEQ) & 1) === 1;
  }

  get version(): number {
    return this.i32[H_VERSION] >>> 0;
  }

  /** What the table can hold (fixed when the buffer was made). */
  get capacity(): Required<TopologyCapacity> {
    const L = this.layout;
    return { maxNodes: L.maxNodes, maxTokens: L.maxTokens, maxStringBytes: L.maxStringBytes, maxRacks: L.maxRacks, maxDatacenters: L.maxDcs };
  }

  /** Publishes a snapshot; returns its version. Throws RangeError on an invalid snapshot or one over capacity. */
  publish(snapshot: TopologySnapshot): number {
    const L = this.layout;
    const { datacenters, racks, nodes } = snapshot;
    if (datacenters.length > L.maxDcs || racks.length > L.maxRacks || nodes.length > L.maxNodes) {
      throw new RangeError(`topology: ${datacenters.length} datacenters, ${racks.length} racks, ${nodes.length} nodes exceed the capacity`);
    }
    const names = [...datacenters, ...racks.map((r) => r.name), ...nodes.map((n) => n.host)].map((s) => utf8.encode(s));
    const stringBytes = names.reduce((sum, b) => sum + b.length, 0);
    if (stringBytes > L.maxStringBytes) throw new RangeError(`topology: names take ${stringBytes} bytes, capacity is ${L.maxStringBytes}`);
    racks.forEach((r, i) => checkInt(`rack ${i} dc`, r.dc, 0, datacenters.length - 1));
    const rackTokens: DynToken[][] = racks.map(() => []);
    const rackOwners: number[][] = racks.map(() => []);
    nodes.forEach((n, i) => {
      checkInt(`node ${i} rack`, n.rack, 0, racks.length - 1);
      checkInt(`node ${i} clientPort`, n.clientPort, 0, 65535);
      checkInt(`node ${i} peerPort`, n.peerPort, 0, 65535);
      checkInt(`node ${i} state`, n.state, 0, 255);
      for (const token of n.tokens) {
        rackTokens[n.rack].push(token);
        rackOwners[n.rack].push(i);
      }
    });
    // TokenRing validates the tokens and sorts each rack exactly as Dynomite's qsort with cmp_dyn_token does.
    const rings = racks.map((_, r) => new TokenRing(rackTokens[r], rackOwners[r]));
    const tokenCount = rings.reduce((sum, ring) => sum + ring.size, 0);
    if (tokenCount > L.maxTokens) throw new RangeError(`topology: ${tokenCount} tokens, capacity is ${L.maxTokens}`);

    const { i32, f64, u8 } = this;
    const seq = Atomics.load(i32, H_SEQ);
    // Odd: a dead writer's half-written table (readers kept their old copies meanwhile), or a second live writer.
    // Ordering: exact on x86-64 (TSO, locked CAS); on weaker CPUs it relies on V8's seq-cst Atomics being barriers.
    const claimed = (seq & 1) === 0 ? Atomics.compareExchange(i32, H_SEQ, seq, seq + 1) === seq : this.recovering;
    if (!claimed) throw new Error('TopologyWriter: another writer is publishing; a table has exactly one writer');
    this.recovering = false;
    const version = (i32[H_VERSION] + 1) | 0;
    let stringOff = 0;
    const putName = (offSlot: number, lenSlot: number, index: number): void => {
      const b = names[index];
      u8.set(b, L.strings + stringOff);
      i32[offSlot] = stringOff;
      i32[lenSlot] = b.length;
      stringOff += b.length;
    };
    datacenters.forEach((_, d) => putName(L.dcs + d * DC_SLOTS + DC_NAME_OFF, L.dcs + d * DC_SLOTS + DC_NAME_LEN, d));
    let tokenStart = 0;
    racks.forEach((r, k) => {
      const base = L.racks + k * RACK_SLOTS;
      putName(base + RACK_NAME_OFF, base + RACK_NAME_LEN, datacenters.length + k);
      i32[base + RACK_DC] = r.dc;
      i32[base + RACK_TOKEN_START] = tokenStart;
      i32[base + RACK_TOKEN_COUNT] = rings[k].size;
      f64.set(rings[k].keys, L.keys + tokenStart);
      i32.set(rings[k].owners, L.owners + tokenStart);
      tokenStart += rings[k].size;
    });
    nodes.forEach((n, i) => {
      const base = L.nodes + i * NODE_SLOTS;
      putName(base + NODE_HOST_OFF, base + NODE_HOST_LEN, datacenters.length + racks.length + i);
      i32[base + NODE_RACK] = n.rack;
      i32[base + NODE_DC] = racks[n.rack].dc;
      i32[base + NODE_CLIENT_PORT] = n.clientPort;
      i32[base + NODE_PEER_PORT] = n.peerPort;
      i32[base + NODE_STATE_SLOT] = n.state;
      i32[base + NODE_FLAGS] = (n.isLocal ? NODE_FLAG_LOCAL : 0) | (n.dynomite === true ? NODE_FLAG_DYNOMITE : 0) | (n.settling === true ? NODE_FLAG_SETTLING : 0);
    });
    i32[H_DC_COUNT] = datacenters.length;
    i32[H_RACK_COUNT] = racks.length;
    i32[H_NODE_COUNT] = nodes.length;
    i32[H_STRING_BYTES] = stringOff;
    i32[H_VERSION] = version;
    Atomics.store(i32, H_SEQ, (seq | 1) + 1);
    return version >>> 0;
  }
}

const NAME_DECODER = new TextDecoder('utf-8');

function tokenOfKey(key: number): DynToken {
  if (key === 0) return { signum: 0, mag: 0 };
  if (key <= 0x100000000) return { signum: 1, mag: key - 1 };
  return { signum: NEGATIVE_SIGNUM, mag: key - 0x200000000 };
}

/**
 * Decodes a table (typically a reader's private copy) into a plain snapshot. Throws RangeError on contents that
 * break the layout's invariants, which a consistent copy never does.
 */
export function decodeTopology(buffer: ArrayBufferLike): TopologySnapshot {
  const i32 = new Int32Array(buffer);
  const f64 = new Float64Array(buffer);
  const L = layoutFromHeader(i32);
  // A private copy of the names: TextDecoder refuses views of shared memory.
  const strings = new Uint8Array(buffer, L.strings, L.maxStringBytes).slice();
  const name = (offSlot: number, lenSlot: number): string => {
    const off = checkInt('name offset', i32[offSlot], 0, L.maxStringBytes);
    return NAME_DECODER.decode(strings.subarray(off, off + checkInt('name length', i32[lenSlot], 0, L.maxStringBytes - off)));
  };
  const dcCount = checkInt('datacenter count', i32[H_DC_COUNT], 0, L.maxDcs);
  const rackCount = checkInt('rack count', i32[H_RACK_COUNT], 0, L.maxRacks);
  const nodeCount = checkInt('node count', i32[H_NODE_COUNT], 0, L.maxNodes);
  const datacenters = Array.from({ length: dcCount }, (_, d) => name(L.dcs + d * DC_SLOTS + DC_NAME_OFF, L.dcs + d * DC_SLOTS + DC_NAME_LEN));
  const racks = Array.from({ length: rackCount }, (_, k): TopologyRack => {
    const base = L.racks + k * RACK_SLOTS;
    return { name: name(base + RACK_NAME_OFF, base + RACK_NAME_LEN), dc: i32[base + RACK_DC] };
  });
  const nodes = Array.from({ length: nodeCount }, (_, i): TopologyNode => {
    const base = L.nodes + i * NODE_SLOTS;
    return {
      host: name(base + NODE_HOST_OFF, base + NODE_HOST_LEN), rack: checkInt('node rack', i32[base + NODE_RACK], 0, rackCount - 1),
      clientPort: i32[base + NODE_CLIENT_PORT], peerPort: i32[base + NODE_PEER_PORT], state: i32[base + NODE_STATE_SLOT],
      isLocal: (i32[base + NODE_FLAGS] & NODE_FLAG_LOCAL) !== 0, tokens: [],
      // Only set when it is: snapshots of dynoproxy-only clusters read back exactly as they were published.
      ...((i32[base + NODE_FLAGS] & NODE_FLAG_DYNOMITE) !== 0 ? { dynomite: true } : {}),
      ...((i32[base + NODE_FLAGS] & NODE_FLAG_SETTLING) !== 0 ? { settling: true } : {}),
    };
  });
  for (let k = 0; k < rackCount; k++) {
    const start = checkInt('token start', i32[L.racks + k * RACK_SLOTS + RACK_TOKEN_START], 0, L.maxTokens);
    const count = checkInt('token count', i32[L.racks + k * RACK_SLOTS + RACK_TOKEN_COUNT], 0, L.maxTokens - start);
    for (let t = start; t < start + count; t++) {
      nodes[checkInt('token owner', i32[L.owners + t], 0, nodeCount - 1)].tokens.push(tokenOfKey(f64[L.keys + t]));
    }
  }
  return { version: i32[H_VERSION] >>> 0, datacenters, racks, nodes };
}

interface PrivateCopy { bytes: Uint8Array; i32: Int32Array; f64: Float64Array }

/** A private buffer holding an empty table of the shared table's capacity, until a copy overwrites it. */
function privateCopy(shared: Int32Array): PrivateCopy {
  const buffer = new ArrayBuffer(shared.byteLength);
  const i32 = new Int32Array(buffer);
  for (let slot = H_LAYOUT; slot <= H_MAX_DCS; slot++) i32[slot] = shared[slot];
  return { bytes: new Uint8Array(buffer), i32, f64: new Float64Array(buffer) };
}

/**
 * A thread's view of a table. It reads from a private copy of the buffer, refreshed only when the published seq
 * changes: a request costs one Atomics.load and allocates nothing while the version stays. A refresh copies the
 * whole buffer, whose size the capacity fixes (12 bytes per token, 32 per node, 20 per rack, the names). A copy is taken while
 * seq is even and kept only if seq is the same after it; otherwise it is retried (maxRetries) and, failing that,
 * the previous copy stays in use until the next call. Index accessors read the copy ownerInRack() or refresh()
 * last loaded, so a request that needs several answers from one version calls refresh() once and then reads.
 */
export class TopologyReader {
  version = 0;
  datacenterCount = 0;
  rackCount = 0;
  nodeCount = 0;
  /** The node flagged isLocal, or -1. */
  localNode = -1;
  private readonly shared: Int32Array;
  private readonly sharedBytes: Uint8Array;
  private readonly layout: Layout;
  private readonly maxRetries: number;
  private readonly copies: readonly [PrivateCopy, PrivateCopy];
  private current: PrivateCopy;
  /** seq of the current copy; odd (never a published seq) until the first copy. */
  private seen = 1;
  private rackKeys: Float64Array[] = [];
  private rackOwners: Int32Array[] = [];

  constructor(buffer: SharedArrayBuffer, maxRetries = 4) {
    this.shared = new Int32Array(buffer);
    this.sharedBytes = new Uint8Array(buffer);
    this.layout = layoutFromHeader(this.shared);
    this.maxRetries = maxRetries;
    this.copies = [privateCopy(this.shared), privateCopy(this.shared)];
    this.current = this.copies[0];
    this.refresh();
  }

  /** Loads the published version if it changed. False if the copy in use is stale (writer busy, retries spent). */
  refresh(): boolean {
    let seq = Atomics.load(this.shared, H_SEQ);
    if (seq === this.seen) return true;
    for (let attempt = 0; attempt < this.maxRetries && (seq & 1) === 0; attempt++) {
      const spare = this.current === this.copies[0] ? this.copies[1] : this.copies[0];
      spare.bytes.set(this.sharedBytes);
      // A read-don't-modify-write rather than a load (Boehm, "Can seqlocks get along with programming language
      // memory models?", 2012): the RMW keeps the copy's plain reads before it on weakly ordered CPUs too.
      const after = Atomics.add(this.shared, H_SEQ, 0);
      if (after === seq && this.adopt(spare)) {
        this.seen = seq;
        return true;
      }
      seq = after;
    }
    return false;
  }

  /** The node index owning a uint32 key hash in a rack's ring; -1 for an unknown or empty rack. */
  ownerInRack(rack: number, hash: number): number {
    if (Atomics.load(this.shared, H_SEQ) !== this.seen) this.refresh();
    if (!(rack >= 0 && rack < this.rackCount)) return -1;
    const keys = this.rackKeys[rack];
    return dispatchVnode(keys, this.rackOwners[rack], keys.length, hash);
  }

  rackDc(rack: number): number {
    return rack >= 0 && rack < this.rackCount ? this.current.i32[this.layout.racks + rack * RACK_SLOTS + RACK_DC] : -1;
  }

  nodeRack(node: number): number { return this.nodeSlot(node, NODE_RACK); }
  nodeDc(node: number): number { return this.nodeSlot(node, NODE_DC); }
  nodeClientPort(node: number): number { return this.nodeSlot(node, NODE_CLIENT_PORT); }
  nodePeerPort(node: number): number { return this.nodeSlot(node, NODE_PEER_PORT); }
  /** A NODE_STATE value, or -1 for an unknown node. */
  nodeState(node: number): number { return this.nodeSlot(node, NODE_STATE_SLOT); }
  isLocalNode(node: number): boolean { return (this.nodeSlot(node, NODE_FLAGS) & NODE_FLAG_LOCAL) === NODE_FLAG_LOCAL; }

  /** The current version in full, for the admin API (refreshes first; allocates). */
  snapshot(): TopologySnapshot {
    this.refresh();
    return decodeTopology(this.current.bytes.buffer);
  }

  private nodeSlot(node: number, slot: number): number {
    return node >= 0 && node < this.nodeCount ? this.current.i32[this.layout.nodes + node * NODE_SLOTS + slot] : -1;
  }

  /** Makes a consistent copy the current one; false if its counts break the layout (then it is not used). */
  private adopt(copy: PrivateCopy): boolean {
    const L = this.layout;
    const i32 = copy.i32;
    const dcs = i32[H_DC_COUNT];
    const racks = i32[H_RACK_COUNT];
    const nodes = i32[H_NODE_COUNT];
    if (!(dcs >= 0 && dcs <= L.maxDcs && racks >= 0 && racks <= L.maxRacks && nodes >= 0 && nodes <= L.maxNodes)) return false;
    const rackKeys: Float64Array[] = [];
    const rackOwners: Int32Array[] = [];
    for (let k = 0; k < racks; k++) {
      const start = i32[L.racks + k * RACK_SLOTS + RACK_TOKEN_START];
      const count = i32[L.racks + k * RACK_SLOTS + RACK_TOKEN_COUNT];
      if (!(start >= 0 && count >= 0 && start + count <= L.maxTokens)) return false;
      rackKeys.push(copy.f64.subarray(L.keys + start, L.keys + start + count));
      rackOwners.push(i32.subarray(L.owners + start, L.owners + start + count));
    }
    let local = -1;
    for (let i = 0; i < nodes && local < 0; i++) if ((i32[L.nodes + i * NODE_SLOTS + NODE_FLAGS] & NODE_FLAG_LOCAL) !== 0) local = i;
    this.current = copy;
    this.rackKeys = rackKeys;
    this.rackOwners = rackOwners;
    this.version = i32[H_VERSION] >>> 0;
    this.datacenterCount = dcs;
    this.rackCount = racks;
    this.nodeCount = nodes;
    this.localNode = local;
    return true;
  }
}

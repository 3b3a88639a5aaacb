// The per-worker counters block: one SharedArrayBuffer per data worker, written only by that worker, summed by the supervisor on demand.
// Never locks and never allocates on update: a counter is one Float64Array slot (aligned 8-byte stores are not torn on the platforms we run on).
import { ALL_COMMANDS } from '../commands/index.ts';
import { POOL_METRICS, SERVER_METRICS, SERVER_BLOCK_SLOTS, S_REPLICA_FAILURES, PEER_GAUGES } from './metrics.ts';
import { FAILURE_CODES } from '../protocol/failure/index.ts';

/** Command families counted per pool: Redis' groups, plus memcached's. */
export const COMMAND_GROUPS: readonly string[] = [...new Set(ALL_COMMANDS.map((c) => c.group).filter((g) => g !== '')), 'memcached'].sort();
const groupIndex = new Map(COMMAND_GROUPS.map((g, i) => [g, i]));

export function commandGroupIndex(group: string): number {
  return groupIndex.get(group) ?? groupIndex.get('generic') ?? 0;
}

/** Per command family: requests and error replies. */
const GROUP_SLOTS = 2;
export const G_REQUESTS = 0;
export const G_ERRORS = 1;

export interface PoolShape {
  name: string;
  servers: string[];
  /** Cluster nodes: the other nodes (dyn_seeds order), counted with the same per-server metrics. */
  peers?: string[];
}

export interface StatsLayout {
  size: number;
  pools: { base: number; groupBase: number; serverBase: number[]; peerBase: number[] }[];
}

export function statsLayout(pools: readonly PoolShape[]): StatsLayout {
  let o = 0;
  const out: StatsLayout['pools'] = [];
  for (const p of pools) {
    const base = o;
    o += POOL_METRICS.length;
    const groupBase = o;
    o += COMMAND_GROUPS.length * GROUP_SLOTS;
    const serverBase: number[] = [];
    for (let i = 0; i < p.servers.length; i++) {
      serverBase.push(o);
      o += SERVER_BLOCK_SLOTS;
    }
    const peerBase: number[] = [];
    for (let i = 0; i < (p.peers?.length ?? 0); i++) {
      peerBase.push(o);
      o += SERVER_BLOCK_SLOTS;
    }
    out.push({ base, groupBase, serverBase, peerBase });
  }
  return { size: o, pools: out };
}

export function allocStats(pools: readonly PoolShape[]): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(8, statsLayout(pools).size * 8));
}

/** A worker's view of its own block, split per pool and per server. */
export class WorkerStatsView {
  readonly all: Float64Array;
  readonly pools: { pool: Float64Array; groups: Float64Array; servers: Float64Array[]; peers: Float64Array[] }[];

  constructor(sab: SharedArrayBuffer, shapes: readonly PoolShape[]) {
    const layout = statsLayout(shapes);
    this.all = new Float64Array(sab);
    this.pools = layout.pools.map((l, i) => ({
      pool: this.all.subarray(l.base, l.base + POOL_METRICS.length),
      groups: this.all.subarray(l.groupBase, l.groupBase + COMMAND_GROUPS.length * GROUP_SLOTS),
      servers: shapes[i].servers.map((_, j) => this.all.subarray(l.serverBase[j], l.serverBase[j] + SERVER_BLOCK_SLOTS)),
      peers: l.peerBase.map((b) => this.all.subarray(b, b + SERVER_BLOCK_SLOTS)),
    }));
  }
}

export interface PoolTotals {
  name: string;
  metrics: Record<string, number>;
  groups: Record<string, { requests: number; errors: number }>;
  servers: { name: string; metrics: Record<string, number> }[];
  /** Links to the other cluster nodes (empty on a single node). */
  peers: { name: string; metrics: Record<string, number>; failures: Record<string, number>; gauges: Record<string, number> }[];
}

/** Sum every worker's block (the supervisor's side). Gauges add up too: they are per-worker shares. */
export function sumStats(blocks: readonly SharedArrayBuffer[], shapes: readonly PoolShape[]): PoolTotals[] {
  const layout = statsLayout(shapes);
  const views = blocks.map((b) => new Float64Array(b));
  const sum = (slot: number): number => {
    let s = 0;
    for (const v of views) s += v[slot];
    return s;
  };
  return layout.pools.map((l, i) => ({
    name: shapes[i].name,
    metrics: Object.fromEntries(POOL_METRICS.map((m, k) => [m.name, sum(l.base + k)])),
    groups: Object.fromEntries(
      COMMAND_GROUPS.map((g, k) => [g, { requests: sum(l.groupBase + k * GROUP_SLOTS + G_REQUESTS), errors: sum(l.groupBase + k * GROUP_SLOTS + G_ERRORS) }]),
    ),
    servers: shapes[i].servers.map((name, j) => ({
      name,
      metrics: Object.fromEntries(SERVER_METRICS.map((m, k) => [m.name, sum(l.serverBase[j] + k)])),
    })),
    peers: (shapes[i].peers ?? []).map((name, j) => ({
      name,
      metrics: Object.fromEntries(SERVER_METRICS.map((m, k) => [m.name, sum(l.peerBase[j] + k)])),
      // DYN_ERR_NONE (slot 0) is never counted.
      failures: Object.fromEntries(FAILURE_CODES.slice(1).map((c, k) => [c, sum(l.peerBase[j] + S_REPLICA_FAILURES + k + 1)])),
      gauges: Object.fromEntries(PEER_GAUGES.map((g, k) => [g.name, sum(l.peerBase[j] + S_REPLICA_FAILURES + FAILURE_CODES.length + k)])),
    })),
  }));
}

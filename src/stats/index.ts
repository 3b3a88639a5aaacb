// Public face of stats: metric declarations, the per-worker counter blocks, histograms, the control block.
// Never does I/O; the admin API reads through the supervisor.
import type { PoolConfig } from '../config/index.ts';
import type { PoolShape } from './stats-table.ts';

export * from './metrics.ts';
export * from './stats-table.ts';
export * from './histogram.ts';
export * from './control-block.ts';
export { startWorkerProbe, type ProbeSources } from './worker-probe.ts';

export function poolShapes(pools: readonly PoolConfig[]): PoolShape[] {
  return pools.map((p) => ({
    name: p.name,
    servers: p.servers.map((s) => s.name),
    // A cluster node's peers, by host:port, in dyn_seeds order (node i + 1 of the cluster map).
    peers: p.dynListen !== null ? p.dynSeeds.map((s) => s.split(':').slice(0, 2).join(':')) : [],
  }));
}

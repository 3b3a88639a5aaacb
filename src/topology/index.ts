// Public face of topology: key hash functions, hash tags, twemproxy distributions and Dynomite's token ring.
// Pure library: imports nothing of ours, never does I/O, and nothing it exports allocates per key or lookup.

export { DEFAULT_HASH, HASH_NAMES, hashFunction, isHashName, twemproxyHashFunction } from './hash-function.ts';
export type { HashFn, HashName, TwemproxyHashName } from './hash-function.ts';
export { hashTagRange, twemproxyHashTagRange } from './hash-tag.ts';
export { md5Words } from './md5.ts';
export { murmurHash3x86 } from './murmur.ts';
export type { Distribution, ServerWeight } from './distribution.ts';
export {
  buildModula, buildRandom, MAX_MODULA_SLOTS, ModulaDistribution, RandomDistribution, twemproxyServerOrder,
} from './distribution.ts';
export {
  buildKetama, KETAMA_POINTS_PER_SERVER, KetamaDistribution, ketamaPointsPerServer, ketamaServerName,
} from './ketama.ts';
export type { DynToken } from './dyn-token.ts';
export {
  compareDynTokens, dynTokenKey, formatDynToken, hashToDynToken, NEGATIVE_SIGNUM, parseDynToken, tokenKeyOfHash,
} from './dyn-token.ts';
export { dispatchVnode, TokenRing } from './token-ring.ts';
export type {
  TopologyCapacity, TopologyNode, TopologyRack, TopologySnapshot,
} from './topology-table.ts';
export {
  createTopologyBuffer, decodeTopology, NODE_STATE, TopologyReader, TopologyWriter,
} from './topology-table.ts';
export { KeyHasher } from './key-hasher.ts';
export {
  ClusterView, ReplicaSet, SCOPE_LOCAL_RACK, SCOPE_LOCAL_DC, SCOPE_ALL, TIER_LOCAL_RACK, TIER_LOCAL_DC, TIER_REMOTE, TIER_REMOTE_FALLBACK, TIER_SHADOW,
} from './cluster-view.ts';
export type { ViewNode, ViewRack } from './cluster-view.ts';
export { hashRangesOf, hashRangesIn, intersectHashRanges, hashRangesSize } from './hash-ranges.ts';
export { balancedTokens, planRing } from './ring-plan.ts';
export type { RingPlan, PlannedNode } from './ring-plan.ts';

// PoolContext: what connections and the request path need of their pool (counters, placement, cluster state, limits, settings).
// Never constructs anything: PoolRuntime implements it, so connections depend on this face and not on the pool that creates them.
import type { PubSubHub } from './resp/pubsub-hub.ts';
import type { TrackingHub } from './resp/resp-tracking.ts';
import type { PoolConfig } from '../config/index.ts';
import type { RespLimits } from '../protocol/resp/index.ts';
import type { MemcacheLimits } from '../protocol/memcache/index.ts';
import type { LatencyRecorder } from '../stats/index.ts';
import type { BackendServer, BackendSettings } from '../io/index.ts';
import type { Router } from './routing/router.ts';
import type { ClusterRuntime } from './routing/cluster-runtime.ts';
import type { AclUser } from './resp/acl-user.ts';

export interface PoolSettings extends BackendSettings {
  requirepass: string | null;
  /** `users:` compiled (resp/resp-acl.ts), by name; empty = only the default user (requirepass). */
  users: ReadonlyMap<string, AclUser>;
  clientMaxInflight: number;
  clientMaxBufferedBytes: number;
  /** Unsent reply bytes past which a client is disconnected at once, or after clientReplySoftSeconds above the soft limit. */
  clientReplyHardLimit: number;
  clientReplySoftLimit: number;
  clientReplySoftSeconds: number;
  clientConnections: number;
}

export interface PoolContext {
  readonly config: PoolConfig;
  readonly settings: PoolSettings;
  /** The pool's counters (stats/metrics.ts POOL_METRICS) and its per-command-family counters. */
  readonly st: Float64Array;
  readonly groupSt: Float64Array;
  readonly router: Router;
  readonly servers: readonly BackendServer[];
  /** Cluster mode (dyn_listen set): the view, the links to the other nodes, the replication ring; null on a single node. */
  readonly cluster: ClusterRuntime | null;
  readonly respLimits: RespLimits;
  readonly memcacheLimits: MemcacheLimits;
  /** Client-observed latency (µs) of requests answered by a backend. */
  readonly latency: LatencyRecorder;
  readonly clientCount: number;
  /** NO_BACKEND's reply, naming why when the servers were ejected for refusing the proxy's AUTH (a mismatch, not an outage). */
  noBackendReply(): Uint8Array;
  /** Test hook (DYNOPROXY_TEST_HOOKS): the client listener reports an accept error with this errno code. */
  injectAcceptError(code: string): void;
  /** A connection of this pool closed (client or peer). */
  clientClosed(c: object): void;
  /** The process is past max_memory (sampled by the pool's timer): commands that may grow memory get -OOM. */
  readonly overMemory: boolean;
  /** This worker's pub/sub subscription connections (made on first use). */
  pubsub(): PubSubHub;
  /** This worker's client-side caching invalidation connections (made on first use). */
  tracking(): TrackingHub;
  /** Whether a peer-port connection comes from a seed that runs Dynomite (served without the authentication exchange). */
  fromDynomiteSeed(remote: string | undefined): boolean;
}

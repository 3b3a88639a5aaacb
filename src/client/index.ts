// Public face of dynoproxy/client: the token-aware client (Dyno-style) on ioredis, its options, errors and stats.
// Exports only; nothing here opens a connection until DynoClient.connect() is called.
export { DynoClient } from './dyno-client.ts';
export type { Consistency, DynoClientOptions } from './dyno-client.ts';
export { DynoPipeline } from './dyno-pipeline.ts';
export type { PipelineResult } from './dyno-pipeline.ts';
export { DynoError } from './dyno-error.ts';
export type { DynoErrorCode } from './dyno-error.ts';
export { TokenBucket, clientQuota, nodeQuota } from './interceptors.ts';
export type { Interceptor, QuotaOptions, RequestInfo } from './interceptors.ts';
export type { RetryOptions } from './retry-policy.ts';
export type { PoolOptions } from './node-pool.ts';
export type { Affinity } from './ring-router.ts';
export type { ClientNode } from './topology-source.ts';
export type { ClientStats, NodeStats } from './client-metrics.ts';

// The control block: one SharedArrayBuffer that the supervisor writes (node state, consistency, server overrides) and every worker reads, plus per-worker probe slots.
// Never locks: each slot has one writer (the supervisor for the header and overrides, worker N for its own probe area), and readers use Atomics.load.
import type { PoolShape } from './stats-table.ts';
import { WORKER_METRICS } from './metrics.ts';

/** Node states with Dynomite's meaning (dyn_core.h dyn_state_t); 0 is NORMAL so a zeroed block serves traffic. */
export const NODE_STATES = ['NORMAL', 'STANDBY', 'WRITES_ONLY', 'RESUMING'] as const;
export type NodeStateName = (typeof NODE_STATES)[number];
export const ST_NORMAL = 0;
export const ST_STANDBY = 1;
export const ST_WRITES_ONLY = 2;
export const ST_RESUMING = 3;

/** Int32 header slots. SEQ changes on every write to the header or the overrides: workers compare one number per request. */
export const C_SEQ = 0;
export const C_STATE = 1;
export const C_READ_CONSISTENCY = 2;
export const C_WRITE_CONSISTENCY = 3;
export const C_TIMEOUT_FACTOR = 4;
export const C_LOG_LEVEL = 5;
const HEADER_INTS = 16;

/** Request sizes per worker in power-of-two buckets: bucket b counts sizes in (2^(b-1), 2^b], bucket 0 sizes 0 and 1. */
export const PAYLOAD_BUCKETS = 33;

/** Bucket of a request size; no allocation, one clz. */
export function payloadBucket(size: number): number {
  return size <= 1 ? 0 : 32 - Math.clz32(size - 1);
}

export interface ControlLayout {
  bytes: number;
  /** Int32 index of each pool's first server override. */
  overrideBase: number[];
  /** Float64 index of each worker's probe area. */
  workerBase: number[];
  /** Float64 index of each worker's payload buckets. */
  payloadBase: number[];
}

export function controlLayout(shapes: readonly PoolShape[], workers: number): ControlLayout {
  let ints = HEADER_INTS;
  const overrideBase: number[] = [];
  for (const p of shapes) {
    overrideBase.push(ints);
    ints += p.servers.length;
  }
  let f = Math.ceil((ints * 4) / 8);
  const workerBase: number[] = [];
  const payloadBase: number[] = [];
  for (let w = 0; w < workers; w++) {
    workerBase.push(f);
    f += WORKER_METRICS.length;
    payloadBase.push(f);
    f += PAYLOAD_BUCKETS;
  }
  return { bytes: f * 8, overrideBase, workerBase, payloadBase };
}

export function allocControl(shapes: readonly PoolShape[], workers: number): SharedArrayBuffer {
  const sab = new SharedArrayBuffer(controlLayout(shapes, workers).bytes);
  new Int32Array(sab)[C_TIMEOUT_FACTOR] = 1;
  return sab;
}

/** Typed views over the block; both sides build one from the same shapes and worker count. */
export class ControlBlock {
  readonly sab: SharedArrayBuffer;
  readonly i32: Int32Array;
  readonly f64: Float64Array;
  readonly layout: ControlLayout;

  constructor(sab: SharedArrayBuffer, shapes: readonly PoolShape[], workers: number) {
    this.sab = sab;
    this.layout = controlLayout(shapes, workers);
    this.i32 = new Int32Array(sab);
    this.f64 = new Float64Array(sab);
  }

  get seq(): number {
    return Atomics.load(this.i32, C_SEQ);
  }

  get(slot: number): number {
    return Atomics.load(this.i32, slot);
  }

  /** Write a header slot and wake the workers waiting on SEQ. */
  set(slot: number, value: number): void {
    Atomics.store(this.i32, slot, value);
    this.bump();
  }

  bump(): void {
    Atomics.add(this.i32, C_SEQ, 1);
    Atomics.notify(this.i32, C_SEQ);
  }

  get state(): number {
    return Atomics.load(this.i32, C_STATE);
  }

  overrideSlot(pool: number, server: number): number {
    return this.layout.overrideBase[pool] + server;
  }

  /** Override word: bit 0 = forced down; the rest counts the changes so a worker sees an up after an up. */
  override(pool: number, server: number): number {
    return Atomics.load(this.i32, this.overrideSlot(pool, server));
  }

  /** down=true forces the server out of routing on every worker; false lets automatic ejection decide again, starting from up. */
  setOverride(pool: number, server: number, down: boolean): void {
    const slot = this.overrideSlot(pool, server);
    const gen = (Atomics.load(this.i32, slot) >>> 1) + 1;
    Atomics.store(this.i32, slot, ((gen << 1) | (down ? 1 : 0)) & 0x7fffffff);
    this.bump();
  }

  forcedDown(pool: number, server: number): boolean {
    return (this.override(pool, server) & 1) === 1;
  }

  /** Worker w's probe figures (stats/metrics.ts WORKER_METRICS order). */
  workerMetrics(w: number): Float64Array {
    const b = this.layout.workerBase[w];
    return this.f64.subarray(b, b + WORKER_METRICS.length);
  }

  payloadBuckets(w: number): Float64Array {
    const b = this.layout.payloadBase[w];
    return this.f64.subarray(b, b + PAYLOAD_BUCKETS);
  }

  /** Request-size buckets summed over the workers. */
  payloadTotals(): Float64Array {
    const out = new Float64Array(PAYLOAD_BUCKETS);
    for (let w = 0; w < this.layout.payloadBase.length; w++) {
      const b = this.payloadBuckets(w);
      for (let i = 0; i < PAYLOAD_BUCKETS; i++) out[i] += b[i];
    }
    return out;
  }
}

/** Percentile of power-of-two buckets, reported as the bucket's upper bound (so at most 2x high). */
export function bucketPercentile(buckets: Float64Array, p: number): number {
  let total = 0;
  for (let i = 0; i < buckets.length; i++) total += buckets[i];
  if (total === 0) return 0;
  const rank = Math.max(1, Math.ceil((p / 100) * total));
  let seen = 0;
  for (let i = 0; i < buckets.length; i++) {
    seen += buckets[i];
    if (seen >= rank) return 2 ** i;
  }
  return 2 ** (buckets.length - 1);
}

/** Mean of power-of-two buckets, each counted at the middle of its range. */
export function bucketMean(buckets: Float64Array): number {
  let total = 0;
  let sum = 0;
  for (let i = 0; i < buckets.length; i++) {
    total += buckets[i];
    sum += buckets[i] * (i === 0 ? 1 : 0.75 * 2 ** i);
  }
  return total === 0 ? 0 : sum / total;
}

// Worker probe: once a second a data worker writes its event-loop delay, request-pool and heap figures into its slots of the control block.
// Never runs on the request path and never keeps a worker alive: one unref'd timer per worker.
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { getHeapStatistics } from 'node:v8';
import type { ControlBlock } from './control-block.ts';
import { W } from './metrics.ts';

export interface ProbeSources {
  requestPool(): { allocated: number; free: number };
  /** Extra work for the same tick (e.g. re-asserting admin overrides). */
  onTick?(): void;
}

/** Starts the probe; returns a stop function. */
export function startWorkerProbe(block: ControlBlock, workerId: number, sources: ProbeSources, periodMs = 1000): () => void {
  const slots = block.workerMetrics(workerId);
  const resolutionMs = 10;
  const delay = monitorEventLoopDelay({ resolution: resolutionMs });
  // The histogram records the time between the probe's timer ticks; the delay is what exceeds the resolution.
  const late = (ns: number): number => (Number.isFinite(ns) ? Math.max(0, ns / 1e9 - resolutionMs / 1000) : 0);
  delay.enable();
  const tick = (): void => {
    // Nanoseconds; a histogram without samples yet reports NaN.
    slots[W.worker_event_loop_delay_p50_seconds] = late(delay.percentile(50));
    slots[W.worker_event_loop_delay_p99_seconds] = late(delay.percentile(99));
    slots[W.worker_event_loop_delay_max_seconds] = late(delay.max);
    delay.reset();
    const rp = sources.requestPool();
    slots[W.worker_requests_allocated] = rp.allocated;
    slots[W.worker_requests_free] = rp.free;
    slots[W.worker_heap_used_bytes] = getHeapStatistics().used_heap_size;
    slots[W.worker_probe_timestamp_seconds] = Date.now() / 1000;
    sources.onTick?.();
  };
  tick();
  const timer = setInterval(tick, periodMs);
  timer.unref();
  return () => {
    clearInterval(timer);
    delay.disable();
  };
}

// Monotonic milliseconds for timeouts and latency.
// Never uses the wall clock: timeouts must not jump with NTP.
import { performance } from 'node:perf_hooks';

export function monotonicMs(): number {
  return performance.now();
}

// Monotonic milliseconds for timeouts and latency, read once per I/O callback and shared by every request it handles.
// Never uses the wall clock (timeouts must not jump with NTP), and never calls the OS clock per request.
import { performance } from 'node:perf_hooks';

let now = performance.now();

/** The time of the current I/O callback (refreshed by refreshClock at its start). */
export function monotonicMs(): number {
  return now;
}

/** Read the clock: at the start of every socket callback, timer and flush. */
export function refreshClock(): number {
  now = performance.now();
  return now;
}

// Waits, for a bounded time, until processes outside the benchmark leave the CPUs mostly idle.
// Never waits past its budget: on a machine that stays busy it returns and the caller runs anyway.
import { setTimeout as sleep } from 'node:timers/promises';
import { readCpuTicks, readSystemCpuTicks } from './proc-stats.ts';

export interface QuietWaitOptions {
  /** Largest share of all CPUs (0..1) that others may use for the machine to count as quiet. */
  threshold: number;
  /** Give up after this long and let the caller run anyway. */
  maxWaitMs: number;
  /** Length of one measurement window. */
  windowMs?: number;
  /** Processes of the benchmark itself (servers, this runner), whose CPU is not "others". */
  ownPids: readonly number[];
}

export interface QuietWaitResult {
  quiet: boolean;
  waitedMs: number;
  /** Share of all CPUs others used in the last window. */
  otherLoad: number;
}

function ownTicks(pids: readonly number[]): number {
  let sum = 0;
  for (const pid of pids) {
    try {
      sum += readCpuTicks(pid);
    } catch {
      // A process that just ended adds nothing; the caller notices it died.
    }
  }
  return sum;
}

export async function waitForQuietMachine(options: QuietWaitOptions): Promise<QuietWaitResult> {
  const windowMs = options.windowMs ?? 300;
  const started = Date.now();
  for (;;) {
    const systemBefore = readSystemCpuTicks();
    const ownBefore = ownTicks(options.ownPids);
    await sleep(windowMs);
    const systemAfter = readSystemCpuTicks();
    const own = ownTicks(options.ownPids) - ownBefore;
    const others = Math.max(0, systemAfter.busy - systemBefore.busy - own);
    const otherLoad = others / Math.max(1, systemAfter.total - systemBefore.total);
    const waitedMs = Date.now() - started;
    if (otherLoad <= options.threshold) return { quiet: true, waitedMs, otherLoad };
    if (waitedMs >= options.maxWaitMs) return { quiet: false, waitedMs, otherLoad };
  }
}

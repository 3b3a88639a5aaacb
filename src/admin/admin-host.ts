// What the admin API needs from the process that hosts it (the supervisor): config, counters, histograms, the control block.
// Never a class: the admin API depends on this shape only, so a cluster-aware host can serve it later without changes here.
import type { Logger } from 'pino';
import type { LoadedConfig } from '../config/index.ts';
import type { ControlBlock, Histogram, PoolShape, PoolTotals } from '../stats/index.ts';

export interface AdminHost {
  readonly loadedConfig: LoadedConfig;
  readonly control: ControlBlock;
  readonly poolShapes: readonly PoolShape[];
  readonly workerCount: number;
  readonly workerRestarts: number;
  /** Process start, ms since the epoch. */
  readonly startedAt: number;
  readonly log: Logger;
  counters(): PoolTotals[];
  /** Per pool, latency histogram (µs) merged over the workers; reset=true starts them afresh. */
  latency(reset?: boolean): Promise<Histogram[]>;
  workerSlots(): { id: number; alive: boolean; restarts: number }[];
}

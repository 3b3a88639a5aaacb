// Every message posted between the supervisor and its worker threads, as one discriminated union.
// Never posts class instances or Errors: structured clone would strip them to plain objects.
import type { PoolConfig } from './config/index.ts';

export interface WorkerData {
  workerId: number;
  workers: number;
  pools: PoolConfig[];
  style: 'dynomite' | 'twemproxy';
  testHooks: boolean;
}

export type ToWorker =
  | { type: 'drain'; deadlineMs: number }
  | { type: 'reload'; pools: PoolConfig[] }
  | { type: 'stats' };

export interface PoolStats {
  name: string;
  clients: number;
  servers: { name: string; requests: number; errors: number; timeouts: number; ejected: boolean; inFlight: number }[];
}

export type FromWorker =
  | { type: 'listening'; workerId: number }
  | { type: 'listen-failed'; workerId: number; code: string; message: string }
  | { type: 'drained'; workerId: number }
  | { type: 'stats'; workerId: number; pools: PoolStats[] };

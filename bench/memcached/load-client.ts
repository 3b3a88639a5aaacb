// Closed-loop memcached load client: worker threads with raw sockets, a shared request quota, a start signal after connecting.
// Never leaves a thread or socket behind, never runs past its deadline, and never reports a run whose replies were wrong as good.
import { Worker } from 'node:worker_threads';
import { connect } from 'node:net';
import type { LoadOp, WorkerReport, WorkerSpec } from './load-protocol.ts';
import { requestBytes } from './load-protocol.ts';

export interface LoadOptions {
  host: string;
  port: number;
  op: LoadOp;
  /** Total connections, spread over the threads. */
  connections: number;
  /** Requests per write; the next batch goes once all replies of the last one came (closed loop). */
  pipeline: number;
  requests: number;
  keys: number;
  valueSize: number;
  threads: number;
  maxSeconds: number;
  /** Called once every connection is open, right before the start signal: where to read CPU counters. */
  onStart?: () => void;
}

export interface LoadResult {
  requests: number;
  elapsedMs: number;
  rps: number;
  /** Batch round trip, µs: for pipeline 1 this is the request latency. */
  p50LatencyUs: number;
  p99LatencyUs: number;
  errors: number;
  firstError: string;
}

function percentile(sorted: Float64Array, q: number): number {
  if (sorted.length === 0) return Number.NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

const workerUrl = new URL('./load-worker.ts', import.meta.url);

export async function runLoad(o: LoadOptions): Promise<LoadResult> {
  const threads = Math.max(1, Math.min(o.threads, o.connections));
  const quota = new SharedArrayBuffer(4);
  new Int32Array(quota)[0] = o.requests;
  const deadlineAt = Date.now() + o.maxSeconds * 1000;
  const workers: Worker[] = [];
  try {
    const ready: Promise<void>[] = [];
    const reports: Promise<WorkerReport>[] = [];
    for (let i = 0; i < threads; i++) {
      const connections = Math.floor(o.connections / threads) + (i < o.connections % threads ? 1 : 0);
      const spec: WorkerSpec = { host: o.host, port: o.port, connections, pipeline: o.pipeline, op: o.op, keys: o.keys, valueSize: o.valueSize, quota, deadlineAt };
      const w = new Worker(workerUrl, { workerData: spec });
      workers.push(w);
      let onReady!: () => void;
      ready.push(new Promise<void>((resolve) => (onReady = resolve)));
      reports.push(
        new Promise<WorkerReport>((resolve, reject) => {
          w.on('message', (m: { type: string }) => {
            if (m.type === 'ready') onReady();
            else if (m.type === 'report') resolve(m as WorkerReport);
          });
          w.once('error', reject);
          w.once('exit', (code) => reject(new Error(`load worker exited with ${code} before reporting`)));
        }),
      );
    }
    // A worker that failed to connect reports at once; the others still get the start signal and finish.
    await Promise.race([Promise.all(ready), Promise.any(reports)]);
    o.onStart?.();
    for (const w of workers) w.postMessage('go');
    const done = await Promise.all(reports);
    const latencies = Float64Array.from(done.flatMap((r) => Array.from(r.latencyUs))).sort();
    const requests = done.reduce((s, r) => s + r.completed, 0);
    const elapsedMs = Math.max(...done.map((r) => r.elapsedMs));
    return {
      requests,
      elapsedMs,
      rps: elapsedMs > 0 ? (requests / elapsedMs) * 1000 : 0,
      p50LatencyUs: percentile(latencies, 0.5),
      p99LatencyUs: percentile(latencies, 0.99),
      errors: done.reduce((s, r) => s + r.errors, 0),
      firstError: done.find((r) => r.firstError !== '')?.firstError ?? '',
    };
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
}

/** Stores every key once (set, pipelined, one connection) so get runs only ever hit. */
export async function fillKeys(host: string, port: number, keys: number, valueSize: number, timeoutMs = 60_000): Promise<void> {
  const bytes = requestBytes('set', keys, valueSize);
  const want = keys * 'STORED\r\n'.length;
  await new Promise<void>((resolve, reject) => {
    const socket = connect({ host, port });
    let got = 0;
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`filling ${keys} keys on ${port} did not finish within ${timeoutMs} ms`));
    }, timeoutMs);
    socket.on('data', (chunk: Buffer) => {
      got += chunk.length;
      if (got >= want) {
        clearTimeout(timer);
        socket.destroy();
        if (got === want && chunk.toString('latin1').endsWith('STORED\r\n')) resolve();
        else reject(new Error(`fill on ${port}: unexpected replies (${got} bytes, want ${want})`));
      }
    });
    socket.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    socket.once('connect', () => socket.write(bytes));
  });
}

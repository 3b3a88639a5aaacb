// Worker thread of the memcached load client: N connections in a closed loop of get or set, P requests per write.
// Never runs unbounded (a request quota and a deadline) and never allocates per request: batches are slices of one prebuilt buffer.
import { connect } from 'node:net';
import type { Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import type { WorkerReport, WorkerSpec } from './load-protocol.ts';
import { expectedReply, requestBytes } from './load-protocol.ts';

const spec = workerData as WorkerSpec;
const remaining = new Int32Array(spec.quota);
const requests = requestBytes(spec.op, spec.keys, spec.valueSize);
const requestLen = requests.length / spec.keys;
const reply = expectedReply(spec.op, spec.valueSize);
const replyLen = reply.length;
// Every read lands here; only byte counts and the last bytes are looked at, so one buffer serves all sockets.
const readBuffer = Buffer.allocUnsafe(256 * 1024);
const LATENCY_SAMPLES = 50_000;
const STALL_MS = 2000;

class LoadConnection {
  socket: Socket | null = null;
  cursor: number;
  expecting = 0;
  received = 0;
  batchStart = 0;
  /** The last bytes of the batch's replies, to check that it ended the way the expected reply ends. */
  tail = Buffer.alloc(8);
  tailLen = 0;
  done = false;
  /** performance.now() of the last bytes received, or of the batch start. */
  lastProgress = 0;

  constructor(cursor: number) {
    this.cursor = cursor;
  }
}

const conns: LoadConnection[] = [];
const latencyUs = new Float64Array(LATENCY_SAMPLES);
let latencyCount = 0;
let completed = 0;
let errors = 0;
let firstError = '';
let open = 0;
let finish: (() => void) | null = null;

function fail(why: string): void {
  errors++;
  if (firstError === '') firstError = why;
}

function recordLatency(us: number): void {
  // Reservoir sampling keeps a uniform sample of every batch however long the run.
  if (latencyCount < LATENCY_SAMPLES) latencyUs[latencyCount] = us;
  else {
    const j = Math.floor(Math.random() * (latencyCount + 1));
    if (j < LATENCY_SAMPLES) latencyUs[j] = us;
  }
  latencyCount++;
}

function stop(c: LoadConnection): void {
  if (c.done) return;
  c.done = true;
  open--;
  if (open === 0 && finish !== null) finish();
}

function sendBatch(c: LoadConnection): void {
  const before = Atomics.sub(remaining, 0, spec.pipeline);
  if (before <= 0 || Date.now() > spec.deadlineAt) return stop(c);
  const n = Math.min(spec.pipeline, before);
  c.expecting = n * replyLen;
  c.received = 0;
  c.tailLen = 0;
  c.batchStart = performance.now();
  c.lastProgress = c.batchStart;
  const socket = c.socket!;
  const first = Math.min(n, spec.keys - c.cursor);
  socket.cork();
  socket.write(requests.subarray(c.cursor * requestLen, (c.cursor + first) * requestLen));
  if (first < n) socket.write(requests.subarray(0, (n - first) * requestLen));
  socket.uncork();
  c.cursor = (c.cursor + n) % spec.keys;
}

function onData(c: LoadConnection, buf: Uint8Array, nread: number): void {
  // A batch's replies must start like the expected reply: a miss or an error line is caught on its first read.
  if (c.received === 0 && !reply.subarray(0, Math.min(nread, 5)).equals(buf.subarray(0, Math.min(nread, 5)))) {
    fail(`unexpected reply ${JSON.stringify(Buffer.from(buf.subarray(0, Math.min(nread, 40))).toString('latin1'))}`);
    c.socket?.destroy();
    return stop(c);
  }
  c.received += nread;
  c.lastProgress = performance.now();
  // Keep the last bytes seen (the reply tail can straddle reads).
  const keep = Math.min(nread, c.tail.length);
  if (c.tailLen + keep > c.tail.length) {
    const drop = c.tailLen + keep - c.tail.length;
    c.tail.copy(c.tail, 0, drop, c.tailLen);
    c.tailLen -= drop;
  }
  c.tail.set(buf.subarray(nread - keep, nread), c.tailLen);
  c.tailLen += keep;
  if (c.received < c.expecting) return;
  const n = c.expecting / replyLen;
  const tailOk = c.tail.subarray(0, c.tailLen).equals(reply.subarray(replyLen - c.tailLen));
  if (c.received !== c.expecting || !tailOk) {
    fail(`unexpected reply bytes (got ${c.received}, want ${c.expecting}, ending ${JSON.stringify(c.tail.toString('latin1', 0, c.tailLen))})`);
    c.socket?.destroy();
    return stop(c);
  }
  completed += n;
  recordLatency((performance.now() - c.batchStart) * 1000);
  sendBatch(c);
}

function openConnection(index: number): Promise<LoadConnection> {
  const c = new LoadConnection(Math.floor((index * spec.keys) / spec.connections) % spec.keys);
  return new Promise((resolve, reject) => {
    const socket = connect({
      host: spec.host,
      port: spec.port,
      noDelay: true,
      onread: { buffer: readBuffer, callback: (nread: number, buf: Uint8Array) => (onData(c, buf, nread), true) },
    });
    c.socket = socket;
    socket.once('connect', () => resolve(c));
    socket.once('error', (err) => {
      fail(`connection ${index}: ${err.message}`);
      reject(err);
    });
    socket.on('close', () => {
      if (!c.done && c.expecting > 0) fail(`connection ${index} closed by the server`);
      stop(c);
    });
  });
}

async function main(): Promise<void> {
  for (let i = 0; i < spec.connections; i++) conns.push(await openConnection(i));
  open = conns.length;
  parentPort!.postMessage({ type: 'ready' });
  await new Promise<void>((resolve) => parentPort!.once('message', () => resolve()));
  const started = performance.now();
  const finished = new Promise<void>((resolve) => (finish = resolve));
  const watchdog = setTimeout(() => {
    fail('deadline passed with requests still in flight');
    for (const c of conns) stop(c);
  }, Math.max(0, spec.deadlineAt - Date.now()) + 2000);
  // A reply shorter than expected mid-batch leaves a connection waiting: give it up after STALL_MS without bytes.
  const stallCheck = setInterval(() => {
    const now = performance.now();
    for (const c of conns) {
      if (!c.done && now - c.lastProgress > STALL_MS) {
        fail(`no reply bytes for ${STALL_MS} ms (got ${c.received} of ${c.expecting} bytes of a batch)`);
        c.socket?.destroy();
        stop(c);
      }
    }
  }, 250);
  for (const c of conns) sendBatch(c);
  await finished;
  clearTimeout(watchdog);
  clearInterval(stallCheck);
  const elapsedMs = performance.now() - started;
  for (const c of conns) c.socket?.destroy();
  const report: WorkerReport = {
    type: 'report',
    completed,
    elapsedMs,
    errors,
    firstError,
    latencyUs: latencyUs.slice(0, Math.min(latencyCount, LATENCY_SAMPLES)),
    batches: latencyCount,
  };
  parentPort!.postMessage(report);
}

main().catch((err: unknown) => {
  parentPort!.postMessage({ type: 'report', completed, elapsedMs: 0, errors: errors + 1, firstError: String(err), latencyUs: new Float64Array(0), batches: 0 });
});

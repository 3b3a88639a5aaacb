// Piscina task of the load generator: one thread's connections, closed or open loop, latencies into HDR histograms.
// Never runs unbounded: every phase has a deadline, and every socket it opened is destroyed before it returns.
import { connect } from 'node:net';
import { MessageChannel, Worker } from 'node:worker_threads';
import type { MessagePort } from 'node:worker_threads';
import type { Socket } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import * as hdr from 'hdr-histogram-js';
import type { Histogram } from 'hdr-histogram-js';
import type { EndedBy, LoadTaskResult, LoadTaskSpec } from './load-spec.ts';
import { SYNC_GO, SYNC_INT32_SLOTS, SYNC_READY, SYNC_START_AT } from './load-spec.ts';
import { MemcacheReplyCounter, RespReplyCounter } from './reply-counters.ts';
import type { ReplyCounter } from './reply-counters.ts';
import { RequestRing } from './request-ring.ts';

/** How long the main side may take to say go once every task is connected. */
const GO_TIMEOUT_MS = 120_000;
/** After the window ends, how long outstanding replies may take before they are written off. */
const DRAIN_MS = 3000;
/** Most requests one open-loop connection keeps in flight; beyond it they wait (and their latency grows). */
const OPEN_LOOP_QUEUE = 4096;
/** Every read lands in this buffer: the counters never keep a chunk, so one per thread is enough. */
const readBuffer = Buffer.allocUnsafe(256 * 1024);

// Open-loop pacing: a ticker thread posts a message on a fixed grid of pacingUs. The sending thread never blocks, so
// replies are read the moment they arrive; sends wait for the next tick (at most pacingUs late, every target alike).
// Ticker slots (Int32 0 = state: 0 wait, 1 tick, 2 stop; Float64 1 = grid origin and 2 = end, both in epoch ms).
const TICKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const { port, ctl, tickMs } = workerData;
const state = new Int32Array(ctl, 0, 1);
const times = new Float64Array(ctl);
const sleeper = new Int32Array(new SharedArrayBuffer(4));
while (Atomics.load(state, 0) === 0) Atomics.wait(state, 0, 0, 1000);
const origin = times[1];
const end = times[2];
for (;;) {
  if (Atomics.load(state, 0) !== 1) break;
  const now = performance.timeOrigin + performance.now();
  if (now >= end) break;
  port.postMessage(0);
  Atomics.wait(sleeper, 0, 0, tickMs - ((now - origin) % tickMs));
}
port.close();
`;

interface Ticker {
  worker: Worker;
  port: MessagePort;
  ctl: SharedArrayBuffer;
  /** Settles when the thread has exited (it may leave on its own at the window's end, before stopTicker). */
  exited: Promise<void>;
}

/** Start the ticker thread (it waits for startTicker) and resolve once it runs. */
async function spawnTicker(tickMs: number, onTick: () => void): Promise<Ticker> {
  const ctl = new SharedArrayBuffer(24);
  const { port1, port2 } = new MessageChannel();
  port1.on('message', onTick);
  const worker = new Worker(TICKER_SOURCE, { eval: true, workerData: { port: port2, ctl, tickMs }, transferList: [port2] });
  const exited = new Promise<void>((resolve) => worker.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    worker.once('online', () => resolve());
    worker.once('error', reject);
  });
  return { worker, port: port1, ctl, exited };
}

function startTicker(t: Ticker, originEpochMs: number, endEpochMs: number): void {
  const times = new Float64Array(t.ctl);
  times[1] = originEpochMs;
  times[2] = endEpochMs;
  const state = new Int32Array(t.ctl, 0, 1);
  Atomics.store(state, 0, 1);
  Atomics.notify(state, 0);
}

async function stopTicker(t: Ticker): Promise<void> {
  const state = new Int32Array(t.ctl, 0, 1);
  Atomics.store(state, 0, 2);
  Atomics.notify(state, 0);
  t.port.close();
  // It leaves within one tick; terminate is the bound.
  const timer = setTimeout(() => void t.worker.terminate(), 1000);
  await t.exited;
  clearTimeout(timer);
}

export function newLatencyHistogram(): Histogram {
  // ns, 3 significant digits, up to 2 minutes.
  return hdr.build({ bitBucketSize: 32, lowestDiscernibleValue: 1, highestTrackableValue: 120e9, numberOfSignificantValueDigits: 3, useWebAssembly: false });
}

class LoadConnection {
  socket: Socket | null = null;
  readonly counter: ReplyCounter;
  /** Ring index of the next request to write. */
  next: number;
  alive = false;
  // closed loop
  outstanding = 0;
  batchAt = 0;
  // open loop: FIFO of intended and actual send times of requests in flight (and their count)
  readonly intended: Float64Array;
  readonly sent: Float64Array;
  head = 0;
  queued = 0;
  nextIntended = 0;

  constructor(spec: LoadTaskSpec, next: number) {
    this.counter = spec.workload.protocol === 'resp' ? new RespReplyCounter() : new MemcacheReplyCounter();
    this.next = next;
    const cap = spec.mode === 'open' ? OPEN_LOOP_QUEUE : 0;
    this.intended = new Float64Array(cap);
    this.sent = new Float64Array(cap);
  }
}

export default async function runLoadTask(spec: LoadTaskSpec): Promise<LoadTaskResult> {
  const sync = new Int32Array(spec.sync, 0, SYNC_INT32_SLOTS);
  const syncTime = new Float64Array(spec.sync);
  const window = Math.max(1, spec.pipeline);
  const ring = new RequestRing(spec.workload, window);
  const latency = newLatencyHistogram();
  const open = spec.mode === 'open';
  const serviceLatency = open ? newLatencyHistogram() : null;
  const sendLag = open ? newLatencyHistogram() : null;
  const conns: LoadConnection[] = [];
  const stride = Math.max(1, Math.floor(ring.slots / Math.max(1, spec.connections)));
  for (let i = 0; i < spec.connections; i++) conns.push(new LoadConnection(spec, spec.keyOffset + i * stride));

  let connectionErrors = 0;
  let firstError: string | undefined;
  let ops = 0;
  let measureStart = Infinity;
  let measureEnd = Infinity;
  let stopped = false;
  let windowEnd = 0;
  let endedBy: EndedBy = 'time';
  let inFlight = 0;
  let maxBacklog = 0;
  // Open loop: each connection's spacing between intended sends, and whose turn is next.
  const interval = open ? (conns.length * 1000) / spec.ratePerSec : 0;
  let cursor = 0;
  let openLoopRunning = false;
  let wakeDrained: (() => void) | null = null;

  const fail = (why: string): void => {
    connectionErrors++;
    firstError ??= why;
  };
  let wakeStopped: (() => void) | null = null;
  const stop = (t: number, why: EndedBy): void => {
    if (stopped) return;
    stopped = true;
    windowEnd = Math.min(t, measureEnd);
    endedBy = why;
    wakeStopped?.();
  };

  const sendBatch = (c: LoadConnection, t: number): void => {
    c.socket!.write(ring.run(c.next, window));
    c.next += window;
    c.outstanding = window;
    inFlight += window;
    c.batchAt = t;
  };

  const onClosedReplies = (c: LoadConnection, n: number, t: number): void => {
    c.outstanding -= n;
    inFlight -= n;
    if (t >= measureStart && !stopped) {
      if (t >= measureEnd) stop(t, 'time');
      else {
        latency.recordValueWithCount(Math.round((t - c.batchAt) * 1e6), n);
        ops += n;
        if (ops >= spec.maxRequests) stop(t, 'count');
      }
    }
    if (c.outstanding <= 0 && !stopped && t < measureEnd) sendBatch(c, t);
  };

  const onOpenReplies = (c: LoadConnection, n: number, t: number): void => {
    const cap = c.intended.length;
    for (let k = 0; k < n && c.queued > 0; k++) {
      const intended = c.intended[c.head]!;
      const sent = c.sent[c.head]!;
      c.head = (c.head + 1) % cap;
      c.queued--;
      inFlight--;
      if (intended >= measureStart && intended < measureEnd) {
        latency.recordValue(Math.round((t - intended) * 1e6));
        serviceLatency!.recordValue(Math.round((t - sent) * 1e6));
        ops++;
      }
    }
  };

  const onData = (c: LoadConnection, buf: Uint8Array, len: number): void => {
    const n = c.counter.feed(buf, 0, len);
    if (c.counter.broken) {
      fail('unparseable reply stream');
      c.socket!.destroy();
      return;
    }
    if (n === 0) return;
    const t = performance.now();
    if (open) {
      onOpenReplies(c, n, t);
      if (openLoopRunning && spec.pacingUs === 0 && t < measureEnd) sendAllDue(t);
    }
    else onClosedReplies(c, n, t);
    if (inFlight === 0 && stopped && wakeDrained !== null) wakeDrained();
  };

  // Connect everything before the clock starts; a listen backlog takes a few hundred at once.
  const openOne = (c: LoadConnection): Promise<void> =>
    new Promise((resolve) => {
      let settled = false;
      const socket = connect({
        host: spec.host,
        port: spec.port,
        noDelay: true,
        onread: { buffer: readBuffer, callback: (nread: number, buf: Uint8Array) => (onData(c, buf, nread), true) },
      });
      c.socket = socket;
      const timer = setTimeout(() => done(`connect timeout after ${spec.connectTimeoutMs} ms`), spec.connectTimeoutMs);
      const done = (err?: string): void => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        if (err === undefined) c.alive = true;
        else {
          fail(err);
          socket.destroy();
        }
        resolve();
      };
      socket.once('connect', () => done());
      socket.on('error', (err) => {
        if (!settled) done(err.message);
        else if (c.alive) fail(err.message);
        c.alive = false;
      });
      socket.once('close', () => {
        if (c.alive && !stopped) fail('connection closed by the server');
        c.alive = false;
        inFlight -= open ? c.queued : c.outstanding;
        c.queued = 0;
        c.outstanding = 0;
      });
    });
  let nextToOpen = 0;
  await Promise.all(Array.from({ length: Math.min(256, conns.length) }, async () => {
    while (nextToOpen < conns.length) await openOne(conns[nextToOpen++]!);
  }));
  const connected = conns.filter((c) => c.alive).length;

  const ticker = open && spec.pacingUs > 0 ? await spawnTicker(spec.pacingUs / 1000, onTick) : null;
  Atomics.add(sync, SYNC_READY, 1);
  const goDeadline = Date.now() + GO_TIMEOUT_MS;
  while (Atomics.load(sync, SYNC_GO) === 0 && Date.now() < goDeadline) await sleep(1);
  const go = Atomics.load(sync, SYNC_GO);
  if (go === 1 && connected === conns.length) {
    const startAt = syncTime[SYNC_START_AT]! - performance.timeOrigin;
    const wait = startAt - performance.now();
    if (wait > 0) await sleep(wait);
    measureStart = startAt + spec.warmupMs;
    measureEnd = measureStart + spec.durationMs;
    if (open) await runOpenLoop();
    else {
      const t = performance.now();
      for (const c of conns) if (c.alive) sendBatch(c, t);
      // Until the window ends, or sooner when the count bound stops the run.
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, Math.max(0, measureEnd - performance.now()));
        wakeStopped = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      stop(performance.now(), 'time');
    }
    if (inFlight > 0) {
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, DRAIN_MS);
        wakeDrained = () => {
          clearTimeout(timer);
          resolve();
        };
      });
    }
    if (open) writeOffUnanswered(performance.now());
  } else {
    stop(performance.now(), 'error');
    firstError ??= go === 1 ? 'not every connection was established' : 'the run was called off before it started';
  }
  if (ticker !== null) await stopTicker(ticker);
  for (const c of conns) c.socket?.destroy();
  if (connectionErrors > 0) endedBy = 'error';
  return {
    taskIndex: spec.taskIndex,
    connections: conns.length,
    connected,
    ops,
    errorReplies: conns.reduce((sum, c) => sum + c.counter.errors, 0),
    elapsedMs: Number.isFinite(measureStart) ? Math.max(0, windowEnd - measureStart) : 0,
    endedBy,
    connectionErrors,
    firstError,
    latency: hdr.encodeIntoCompressedBase64(latency),
    serviceLatency: serviceLatency === null ? undefined : hdr.encodeIntoCompressedBase64(serviceLatency),
    sendLag: sendLag === null ? undefined : hdr.encodeIntoCompressedBase64(sendLag),
    maxBacklog,
  };

  // Requests still unanswered (or never sent) when the drain ended: they count with the latency they had reached,
  // a lower bound, so a stalled server cannot hide them (coordinated omission).
  function writeOffUnanswered(t: number): void {
    for (const c of conns) {
      const cap = c.intended.length;
      for (let k = 0; k < c.queued; k++) {
        const intended = c.intended[(c.head + k) % cap]!;
        if (intended >= measureStart && intended < measureEnd) latency.recordValue(Math.round((t - intended) * 1e6));
      }
      for (let due = c.nextIntended; due < measureEnd; due += interval) {
        if (due >= measureStart) latency.recordValue(Math.round((t - due) * 1e6));
      }
    }
  }

  async function runOpenLoop(): Promise<void> {
    const start = measureStart - spec.warmupMs;
    for (let i = 0; i < conns.length; i++) conns[i]!.nextIntended = start + (interval * i) / conns.length;
    openLoopRunning = true;
    if (ticker !== null) {
      // Sends leave on the ticker's grid (onTick); replies are read as they arrive.
      sendAllDue(performance.now());
      startTicker(ticker, performance.timeOrigin + start, performance.timeOrigin + measureEnd);
      // Node's timers count whole milliseconds and may fire a little early: sleep until the window has ended.
      while (performance.now() < measureEnd) await sleep(Math.max(1, measureEnd - performance.now()));
    } else {
      // Replies arriving meanwhile send what is due (onData); the timer (>= 1 ms in Node) covers a quiet spell.
      for (;;) {
        const t = performance.now();
        if (t >= measureEnd) break;
        sendAllDue(t);
        await sleep(Math.max(0, conns[cursor]!.nextIntended - performance.now()));
      }
    }
    openLoopRunning = false;
    stop(measureEnd, 'time');
  }

  function onTick(): void {
    if (!openLoopRunning) return;
    const t = performance.now();
    if (t < measureEnd) sendAllDue(t);
  }

  // Connections are due in turn (same interval, staggered starts), so a pass visits only those due.
  function sendAllDue(t: number): void {
    for (let visited = 0; visited < conns.length; visited++) {
      const c = conns[cursor]!;
      if (c.nextIntended > t) break;
      if (c.alive) sendDue(c, t, interval);
      cursor = cursor + 1 === conns.length ? 0 : cursor + 1;
    }
  }

  function sendDue(c: LoadConnection, t: number, interval: number): void {
    const cap = c.intended.length;
    while (c.nextIntended <= t && c.queued < cap) {
      let n = 0;
      while (n < window && c.nextIntended <= t && c.queued < cap) {
        const slot = (c.head + c.queued) % cap;
        c.intended[slot] = c.nextIntended;
        c.sent[slot] = t;
        if (c.nextIntended >= measureStart) sendLag!.recordValue(Math.round((t - c.nextIntended) * 1e6));
        c.queued++;
        c.nextIntended += interval;
        n++;
      }
      c.socket!.write(ring.run(c.next, n));
      c.next += n;
      inFlight += n;
    }
    const backlog = c.queued + Math.max(0, Math.floor((t - c.nextIntended) / interval));
    if (backlog > maxBacklog) maxBacklog = backlog;
  }
}

// Micro-benchmark of TopologyReader.ownerInRack: ns per read, idle and while a worker thread republishes the table.
// No servers, no addons; bounded to a few seconds. Prints a table, then one JSON line. The file is its own writer worker.

import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { createTopologyBuffer, TokenRing, TopologyReader, TopologyWriter } from '../src/topology/index.ts';
import type { TopologySnapshot } from '../src/topology/index.ts';

const NODES = [3, 30, 300];
const RACKS = 3;
const HASHES = 4096;
const CELL_MS = 300;
/** Pause between publishes of the "paced" writer: gossip-driven changes are far rarer than this. */
const PACED_GAP_MS = 1;

/** nodes spread over RACKS racks of one datacenter, one evenly spaced token per node; `shift` varies the tokens. */
function snapshot(nodes: number, shift: number): TopologySnapshot {
  const perRack = Math.ceil(nodes / RACKS);
  return {
    datacenters: ['dc1'],
    racks: Array.from({ length: RACKS }, (_, r) => ({ name: `rack${r + 1}`, dc: 0 })),
    nodes: Array.from({ length: nodes }, (_, i) => ({
      host: `10.0.${i >> 8}.${i & 255}`, rack: i % RACKS, clientPort: 8102, peerPort: 8101, state: 4, isLocal: i === 0,
      tokens: [{ signum: 1, mag: (Math.floor((0x100000000 / perRack) * Math.floor(i / RACKS)) + 1 + shift) >>> 0 }],
    })),
  };
}

interface WriterData { table: SharedArrayBuffer; stop: SharedArrayBuffer; nodes: number; gapMs: number }

function runWriter(d: WriterData): void {
  const writer = new TopologyWriter(d.table);
  const stop = new Int32Array(d.stop);
  const variants = [snapshot(d.nodes, 0), snapshot(d.nodes, 12345)];
  let publishes = 0;
  // Bounded twice: by the main thread's stop flag and by a deadline of its own.
  const deadline = Date.now() + 10 * CELL_MS;
  while (Atomics.load(stop, 0) === 0 && Date.now() < deadline) {
    writer.publish(variants[publishes++ & 1]);
    if (d.gapMs > 0) Atomics.wait(stop, 0, 0, d.gapMs);
  }
  parentPort!.postMessage(publishes);
}

const hashes = new Uint32Array(HASHES);
let seed = 0x9e3779b9;
for (let i = 0; i < HASHES; i++) hashes[i] = seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;
let sink = 0;

type Lookup = (rack: number, hash: number) => number;
type Pass = (lookup: Lookup, hashes: Uint32Array, racks: number) => number;
// One pass over all hashes. Each measurement gets its own copy of this loop (new Function), so the lookup call
// site stays monomorphic, as it is in a proxy that uses one reader.
const PASS_SOURCE = `
  let acc = 0;
  for (let i = 0; i < hashes.length; i++) acc ^= lookup(i % racks, hashes[i]);
  return acc;`;

function measure(lookup: Lookup): number {
  const pass = new Function('lookup', 'hashes', 'racks', PASS_SOURCE) as Pass;
  const warmUntil = performance.now() + CELL_MS / 3;
  while (performance.now() < warmUntil) sink ^= pass(lookup, hashes, RACKS);
  let calls = 0;
  const t0 = performance.now();
  let elapsed = 0;
  while (elapsed < CELL_MS) {
    sink ^= pass(lookup, hashes, RACKS);
    calls += HASHES;
    elapsed = performance.now() - t0;
  }
  return (elapsed * 1e6) / calls;
}

async function withWriter(table: SharedArrayBuffer, nodes: number, gapMs: number, reader: TopologyReader): Promise<[number, number]> {
  const stop = new SharedArrayBuffer(4);
  const worker = new Worker(new URL(import.meta.url), { workerData: { table, stop, nodes, gapMs } satisfies WriterData });
  const published = new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  await new Promise((resolve) => worker.once('online', resolve));
  const ns = measure((rack, hash) => reader.ownerInRack(rack, hash));
  Atomics.store(new Int32Array(stop), 0, 1);
  Atomics.notify(new Int32Array(stop), 0);
  const publishes = await published;
  await worker.terminate();
  return [ns, publishes];
}

async function main(): Promise<void> {
  const results: Record<string, Record<string, number>> = { tokenRing: {}, idle: {}, paced: {}, continuous: {} };
  console.log(['nodes'.padEnd(8), ...['TokenRing', 'idle', `every ${PACED_GAP_MS}ms`, 'continuous'].map((k) => `${k} ns`.padStart(17)), '   publishes (paced / continuous)'].join(''));
  for (const n of NODES) {
    const table = createTopologyBuffer({ maxNodes: 512, maxTokens: 512, maxStringBytes: 8192 });
    new TopologyWriter(table).publish(snapshot(n, 0));
    const reader = new TopologyReader(table);
    const s = snapshot(n, 0);
    const rings = s.racks.map((_, r) => {
      const members = s.nodes.flatMap((node, i) => (node.rack === r ? [{ token: node.tokens[0], i }] : []));
      return new TokenRing(members.map((m) => m.token), members.map((m) => m.i));
    });
    results.tokenRing[n] = measure((rack, hash) => rings[rack].lookup(hash));
    results.idle[n] = measure((rack, hash) => reader.ownerInRack(rack, hash));
    const [paced, pacedPublishes] = await withWriter(table, n, PACED_GAP_MS, reader);
    const [continuous, continuousPublishes] = await withWriter(table, n, 0, reader);
    results.paced[n] = paced;
    results.continuous[n] = continuous;
    console.log([String(n).padEnd(8), ...[results.tokenRing[n], results.idle[n], paced, continuous].map((v) => v.toFixed(1).padStart(17)),
      `   ${pacedPublishes} / ${continuousPublishes}`].join(''));
  }
  for (const row of Object.values(results)) for (const k of Object.keys(row)) row[k] = Math.round(row[k] * 10) / 10;
  console.log(JSON.stringify({ bench: 'topology', unit: 'ns/ownerInRack', node: process.version, cellMs: CELL_MS, results, sink: sink & 1 }));
}

if (isMainThread) await main();
else runWriter(workerData as WriterData);

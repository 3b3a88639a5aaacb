// Micro-benchmark of placement lookups: ketama, modula and Dynomite's TokenRing at 3, 30 and 300 nodes.
// No servers, no addons; bounded to a few seconds. Prints a table, then one JSON line.

import { buildKetama, buildModula, TokenRing } from '../src/topology/index.ts';
import type { Distribution, DynToken } from '../src/topology/index.ts';

const NODES = [3, 30, 300];
const HASHES = 4096;
const CELL_MS = 120;

const hashes = new Uint32Array(HASHES);
let seed = 0x9e3779b9;
for (let i = 0; i < HASHES; i++) hashes[i] = seed = (Math.imul(seed, 1664525) + 1013904223) >>> 0;

type Pass = (dist: Distribution, hashes: Uint32Array) => number;

// One lookup pass over all hashes. Each distribution gets its own copy of this loop (new Function), so the
// lookup call site stays monomorphic, as it is in a proxy that uses one distribution.
const PASS_SOURCE = `
  let acc = 0;
  for (let i = 0; i < hashes.length; i++) acc ^= dist.lookup(hashes[i]);
  return acc;`;

let sink = 0;

function measure(dist: Distribution): number {
   
  const pass = new Function('dist', 'hashes', PASS_SOURCE) as Pass;
  // Warm up long enough for the optimizing compiler to finish before the clock starts.
  const warmUntil = process.hrtime.bigint() + BigInt((CELL_MS / 3) * 1e6);
  while (process.hrtime.bigint() < warmUntil) sink ^= pass(dist, hashes);
  let calls = 0;
  const t0 = process.hrtime.bigint();
  const budget = BigInt(CELL_MS * 1e6);
  let elapsed = 0n;
  while (elapsed < budget) {
    sink ^= pass(dist, hashes);
    calls += HASHES;
    elapsed = process.hrtime.bigint() - t0;
  }
  return Number(elapsed) / calls;
}

function tokenRing(nodes: number): TokenRing {
  // One token per node, evenly spaced as Dynomite deployments configure them.
  const tokens: DynToken[] = [];
  const owners: number[] = [];
  for (let i = 0; i < nodes; i++) {
    tokens.push({ signum: 1, mag: Math.floor((0x100000000 / nodes) * i) + 1 });
    owners.push((i * 7) % nodes);
  }
  return new TokenRing(tokens, owners);
}

const results: Record<string, Record<string, number>> = { ketama: {}, modula: {}, vnode: {} };
const kinds = Object.keys(results);
console.log(['nodes'.padEnd(8), ...kinds.map((k) => `${k} ns`.padStart(12)), '  ketama points'].join(''));
for (const n of NODES) {
  const servers = Array.from({ length: n }, (_, i) => ({ name: `10.0.${i >> 8}.${i & 255}:6379`, weight: 1 }));
  const ketama = buildKetama(servers);
  const dists: Record<string, Distribution> = { ketama, modula: buildModula(servers), vnode: tokenRing(n) };
  const row = [String(n).padEnd(8)];
  for (const [kind, dist] of Object.entries(dists)) {
    const ns = measure(dist);
    results[kind][n] = Math.round(ns * 10) / 10;
    row.push(ns.toFixed(1).padStart(12));
  }
  row.push(String(ketama.values.length).padStart(15));
  console.log(row.join(''));
}
console.log(JSON.stringify({ bench: 'ring', unit: 'ns/lookup', node: process.version, results, sink: sink & 1 }));

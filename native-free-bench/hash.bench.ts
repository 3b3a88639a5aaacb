// Micro-benchmark of every key hash in src/topology: ns per key at key lengths 8, 32, 128 and 1024 bytes.
// No servers, no addons; bounded to a few seconds. Prints a table, then one JSON line.

import { HASH_NAMES, hashFunction } from '../src/topology/index.ts';

const LENGTHS = [8, 32, 128, 1024];
const KEYS = 256;
const CELL_MS = 30;

function makeKeys(len: number): { buf: Buffer; starts: Int32Array } {
  // Many distinct keys at odd offsets in one buffer, as keys sit inside socket chunks.
  const stride = len + 3;
  const buf = Buffer.alloc(KEYS * stride + 8);
  let seed = 0x2545f491;
  for (let i = 0; i < buf.length; i++) buf[i] = (seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) >>> 24;
  const starts = new Int32Array(KEYS);
  for (let i = 0; i < KEYS; i++) starts[i] = 1 + i * stride;
  return { buf, starts };
}

type HashFn = (b: Uint8Array, s: number, e: number) => number;
type Pass = (fn: HashFn, buf: Uint8Array, starts: Int32Array, len: number) => number;

// One hashing pass over all keys. Each hash function gets its own copy of this loop (new Function), so every call
// site stays monomorphic; one shared loop would be optimized for the first function and deoptimize on the next.
const PASS_SOURCE = `
  let acc = 0;
  for (let i = 0; i < starts.length; i++) acc ^= fn(buf, starts[i], starts[i] + len);
  return acc;`;

let sink = 0;

function measure(pass: Pass, fn: HashFn, len: number): number {
  const { buf, starts } = makeKeys(len);
  // Warm up long enough for the optimizing compiler to finish before the clock starts.
  const warmUntil = process.hrtime.bigint() + BigInt((CELL_MS / 2) * 1e6);
  while (process.hrtime.bigint() < warmUntil) sink ^= pass(fn, buf, starts, len);
  let calls = 0;
  const t0 = process.hrtime.bigint();
  const budget = BigInt(CELL_MS * 1e6);
  let elapsed = 0n;
  while (elapsed < budget) {
    sink ^= pass(fn, buf, starts, len);
    calls += KEYS;
    elapsed = process.hrtime.bigint() - t0;
  }
  return Number(elapsed) / calls;
}

const results: Record<string, Record<string, number>> = {};
const header = ['hash'.padEnd(14), ...LENGTHS.map((l) => `${l}B ns/key`.padStart(14))].join('');
console.log(header);
for (const name of HASH_NAMES) {
  const fn = hashFunction(name);
   
  const pass = new Function('fn', 'buf', 'starts', 'len', PASS_SOURCE) as Pass;
  results[name] = {};
  const row = [name.padEnd(14)];
  for (const len of LENGTHS) {
    const ns = measure(pass, fn, len);
    results[name][len] = Math.round(ns * 10) / 10;
    row.push(ns.toFixed(1).padStart(14));
  }
  console.log(row.join(''));
}
console.log(JSON.stringify({ bench: 'hash', unit: 'ns/key', node: process.version, results, sink: sink & 1 }));

// Micro-benchmark of multi-key handling: splitting an MGET per backend (hash, ring lookup, RESP re-encoding) and
// merging the pieces' replies back in key order (MgetStreamMerge, written to a counting sink). No servers, no addons; bounded to a
// few seconds.
// Prints a table, then one JSON line: {"bench":"split-merge","results":[...]}.
import { MgetStreamMerge } from '../src/proxy/routing/mget-stream-merge.ts';
import type { ReplySink, Request } from '../src/io/index.ts';

/** Counts the merged reply's bytes (what the client would be sent). */
let written = 0;
const sink: ReplySink & { streamSink(): ReplySink; streamStalled(): void } = {
  write(_buf: Uint8Array, start: number, end: number): void {
    written += end - start;
  },
  streamWindow: 8 << 20,
  socketUnsent: 0,
  streamSink: () => sink,
  streamStalled: () => {},
};
const fakeReq = { client: sink, resp3: false } as unknown as Request;
import { arrayHeaderLength, bulkLength, writeArrayHeader, writeBulk } from '../src/protocol/resp/index.ts';
import { buildKetama, hashFunction } from '../src/topology/index.ts';
import type { Distribution } from '../src/topology/index.ts';

const KEYS = [10, 100, 1000];
const BACKENDS = [1, 3, 10];
const VALUE_BYTES = [16, 1024];
const KEY_BYTES = 16;
const CELL_MS = 120;
const SLICES = 7;

interface Result {
  op: 'split' | 'merge';
  keys: number;
  backends: number;
  valueBytes: number | null;
  nsPerOp: number;
  nsPerKey: number;
}

const hash = hashFunction('fnv1a_64');
const command = Buffer.from('MGET');

/** N keys back to back, as a parser leaves them in the client's request buffer. */
function makeKeys(n: number): { buf: Buffer; off: Int32Array } {
  const buf = Buffer.alloc(n * KEY_BYTES);
  const off = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    off[i] = i * KEY_BYTES;
    buf.write(`key:${String(i * 7919).padStart(KEY_BYTES - 4, '0')}`, i * KEY_BYTES, 'latin1');
  }
  return { buf, off };
}

function ring(backends: number): Distribution {
  return buildKetama(Array.from({ length: backends }, (_, i) => ({ name: `10.0.0.${i + 1}:6379`, weight: 1 })));
}

/** Work buffers sized once, as a worker keeps them: the split itself allocates nothing. */
class Splitter {
  readonly owner: Int32Array;
  readonly count: Int32Array;
  readonly out: Buffer;
  constructor(keys: number, backends: number) {
    this.owner = new Int32Array(keys);
    this.count = new Int32Array(backends);
    this.out = Buffer.allocUnsafe(backends * (arrayHeaderLength(keys + 1) + bulkLength(command.length)) + keys * bulkLength(KEY_BYTES));
  }

  /** Owner of every key, then one MGET per backend that owns any; returns bytes written (all pieces). */
  split(dist: Distribution, buf: Buffer, off: Int32Array, backends: number): number {
    const n = off.length;
    const owner = this.owner;
    const count = this.count;
    count.fill(0);
    for (let i = 0; i < n; i++) {
      const s = dist.lookup(hash(buf, off[i]!, off[i]! + KEY_BYTES));
      owner[i] = s;
      count[s]!++;
    }
    let o = 0;
    for (let s = 0; s < backends; s++) {
      if (count[s] === 0) continue;
      o = writeArrayHeader(this.out, o, count[s]! + 1);
      o = writeBulk(this.out, o, command, 0, command.length);
      for (let i = 0; i < n; i++) if (owner[i] === s) o = writeBulk(this.out, o, buf, off[i]!, off[i]! + KEY_BYTES);
    }
    return o;
  }
}

/**
 * ns per pass: the median of several timed slices, so another process's burst or one unlucky GC pause does not
 * decide a cell (the allocation the merge does is still paid: its GC is spread over every slice).
 */
function measure(pass: () => number): number {
  const warmUntil = performance.now() + CELL_MS / 3;
  let sink = 0;
  while (performance.now() < warmUntil) sink += pass();
  const slices: number[] = [];
  for (let s = 0; s < SLICES; s++) {
    let ops = 0;
    const t0 = performance.now();
    let t = t0;
    while (t - t0 < CELL_MS / SLICES) {
      for (let k = 0; k < 8; k++) sink += pass();
      ops += 8;
      t = performance.now();
    }
    slices.push(((t - t0) * 1e6) / ops);
  }
  if (sink === -1) console.log('unreachable');
  slices.sort((a, b) => a - b);
  return slices[SLICES >> 1]!;
}

const results: Result[] = [];
const record = (r: Omit<Result, 'nsPerKey'>): void => {
  results.push({ ...r, nsPerOp: Math.round(r.nsPerOp), nsPerKey: Math.round((r.nsPerOp / r.keys) * 10) / 10 });
};

for (const keys of KEYS) {
  const { buf, off } = makeKeys(keys);
  for (const backends of BACKENDS) {
    const dist = ring(backends);
    const splitter = new Splitter(keys, backends);
    record({ op: 'split', keys, backends, valueBytes: null, nsPerOp: measure(() => splitter.split(dist, buf, off, backends)) });

    // The pieces' replies as the backends would send them: an array of bulks, in the order the piece asked.
    splitter.split(dist, buf, off, backends);
    const pieceOf = new Int32Array(backends).fill(-1);
    let pieces = 0;
    for (let i = 0; i < keys; i++) if (pieceOf[splitter.owner[i]!]! < 0) pieceOf[splitter.owner[i]!] = pieces++;
    for (const valueBytes of VALUE_BYTES) {
      const value = Buffer.alloc(valueBytes, 0x76);
      const replies: Buffer[] = [];
      for (let s = 0; s < backends; s++) {
        const p = pieceOf[s]!;
        if (p < 0) continue;
        const n = splitter.count[s]!;
        const reply = Buffer.allocUnsafe(arrayHeaderLength(n) + n * bulkLength(valueBytes));
        let o = writeArrayHeader(reply, 0, n);
        for (let j = 0; j < n; j++) o = writeBulk(reply, o, value, 0, valueBytes);
        replies[p] = reply;
      }
      const keyPart = new Int32Array(keys);
      for (let i = 0; i < keys; i++) keyPart[i] = pieceOf[splitter.owner[i]!]!;
      record({
        op: 'merge', keys, backends, valueBytes,
        nsPerOp: measure(() => {
          const m = new MgetStreamMerge(pieces, keys);
          m.setKeyParts(keyPart);
          m.request = fakeReq;
          for (let p = 0; p < pieces; p++) m.part(p, replies[p]!, 0, replies[p]!.length, false);
          const before = written;
          m.pump(sink, true);
          return written - before;
        }),
      });
    }
  }
}

console.log(['op', 'keys', 'backends', 'value B', 'ns/op', 'ns/key'].map((h, i) => (i === 0 ? h.padEnd(6) : h.padStart(10))).join(''));
for (const r of results) {
  console.log([r.op.padEnd(6), ...[r.keys, r.backends, r.valueBytes ?? '–', r.nsPerOp.toLocaleString('en-US'), r.nsPerKey].map((v) => String(v).padStart(10))].join(''));
}
console.log(JSON.stringify({ bench: 'split-merge', unit: 'ns/op', node: process.version, results }));

// Micro-benchmark of MemcacheRequestParser and MemcacheReplyScanner on get/set pipelines, swept over value size and width.
// Bounded: about a third of a second per measurement, whole run well under 60 s; no servers, no sockets, no addons.
//
// Run: node_modules/.bin/node native-free-bench/memcache.bench.ts [--budget-ms=N]
// Prints a table, then one JSON line: {"bench":"memcache","results":[...]}. MB/s counts the input bytes framed per
// second: data blocks are jumped over by their length, never read, so large values give very large figures.
import {
  MemcacheRequestParser, MemcacheReplyScanner, DEFAULT_MEMCACHE_LIMITS, RK_RETRIEVAL, RK_STORAGE,
} from '../src/protocol/memcache/index.ts';

const VALUE_SIZES = [16, 1024, 64 * 1024, 1024 * 1024];
const WIDTHS = [1, 10, 100, 1000];
// A pipeline larger than this is not built (1000 x 1 MiB would be 1 GB of input).
const MAX_INPUT_BYTES = 64 * 1024 * 1024;
const budgetArg = process.argv.find((a) => a.startsWith('--budget-ms='));
const BUDGET_NS = BigInt(Math.max(20, Number(budgetArg?.split('=')[1] ?? 300))) * 1_000_000n;
const WARMUP_NS = BUDGET_NS / 4n;

interface Result {
  subject: string;
  valueBytes: number;
  width: number;
  inputBytes: number;
  requestsPerSec: number;
  mbPerSec: number;
  nsPerRequest: number;
}

const key = (i: number): string => `key:${i.toString().padStart(6, '0')}`;

function getPipeline(width: number): Buffer {
  const parts: string[] = [];
  for (let i = 0; i < width; i++) parts.push(`get ${key(i)}\r\n`);
  return Buffer.from(parts.join(''), 'latin1');
}

function setPipeline(valueBytes: number, width: number): Buffer {
  const value = Buffer.alloc(valueBytes, 0x61);
  const parts: Buffer[] = [];
  for (let i = 0; i < width; i++) parts.push(Buffer.from(`set ${key(i)} 0 0 ${valueBytes}\r\n`), value, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

function valueReplies(valueBytes: number, width: number): Buffer {
  const value = Buffer.alloc(valueBytes, 0x62);
  const parts: Buffer[] = [];
  for (let i = 0; i < width; i++) parts.push(Buffer.from(`VALUE ${key(i)} 0 ${valueBytes}\r\n`), value, Buffer.from('\r\nEND\r\n'));
  return Buffer.concat(parts);
}

function storedReplies(width: number): Buffer {
  return Buffer.from('STORED\r\n'.repeat(width), 'latin1');
}

/** Runs `pass` (one pass over the input, returning requests seen) for the time budget. */
function measure(pass: () => number): { frames: number; passes: number; ns: number } {
  const warmEnd = process.hrtime.bigint() + WARMUP_NS;
  while (process.hrtime.bigint() < warmEnd) pass();
  let frames = 0;
  let passes = 0;
  const start = process.hrtime.bigint();
  const stop = start + BUDGET_NS;
  let now = start;
  while (now < stop) {
    frames += pass();
    passes++;
    now = process.hrtime.bigint();
  }
  return { frames, passes, ns: Number(now - start) };
}

const results: Result[] = [];
const skipped: string[] = [];
const parser = new MemcacheRequestParser({ ...DEFAULT_MEMCACHE_LIMITS, maxValueBytes: 1024 * 1024 });
const scanner = new MemcacheReplyScanner();
let sink = 0;

function record(subject: string, valueBytes: number, width: number, input: Buffer, reps: number, m: { frames: number; passes: number; ns: number }): void {
  const secs = m.ns / 1e9;
  results.push({
    subject,
    valueBytes,
    width,
    inputBytes: input.length,
    requestsPerSec: Math.round(m.frames / secs),
    mbPerSec: Math.round(((input.length * m.passes * reps) / secs / 1e6) * 10) / 10,
    nsPerRequest: Math.round((m.ns / m.frames) * 10) / 10,
  });
}

function parseAll(input: Buffer, reps: number): () => number {
  const end = input.length;
  return () => {
    let n = 0;
    for (let k = 0; k < reps; k++) {
      let pos = 0;
      while (pos < end) {
        const r = parser.parse(input, pos, end);
        if (r <= 0) throw new Error(`parse failed: ${parser.errorMessage}`);
        sink += parser.keyLen[0];
        pos = r;
        n++;
      }
    }
    return n;
  };
}

function scanAll(input: Buffer, reps: number, kind: number): () => number {
  const end = input.length;
  return () => {
    let n = 0;
    for (let k = 0; k < reps; k++) {
      let pos = 0;
      while (pos < end) {
        const r = scanner.scan(input, pos, end, kind);
        if (r <= 0) throw new Error('scan failed');
        pos = r;
        n++;
      }
    }
    return n;
  };
}

for (const width of WIDTHS) {
  // Several passes per timed call for narrow pipelines, so the clock read does not dominate.
  const reps = Math.ceil(1000 / width);
  const gets = getPipeline(width);
  record('parse get', 0, width, gets, reps, measure(parseAll(gets, reps)));
  const stored = storedReplies(width);
  record('scan STORED', 0, width, stored, reps, measure(scanAll(stored, reps, RK_STORAGE)));
}

for (const valueBytes of VALUE_SIZES) {
  for (const width of WIDTHS) {
    if ((valueBytes + 64) * width > MAX_INPUT_BYTES) {
      skipped.push(`${valueBytes} B x ${width}`);
      continue;
    }
    const reps = Math.ceil(1000 / width);
    const sets = setPipeline(valueBytes, width);
    record('parse set', valueBytes, width, sets, reps, measure(parseAll(sets, reps)));
    const values = valueReplies(valueBytes, width);
    record('scan VALUE..END', valueBytes, width, values, reps, measure(scanAll(values, reps, RK_RETRIEVAL)));
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const header = ['subject', 'value', 'width', 'requests/s', 'MB/s', 'ns/request'];
const rows = results.map((r) => [r.subject, `${r.valueBytes} B`, String(r.width), fmt(r.requestsPerSec), fmt(r.mbPerSec), fmt(r.nsPerRequest)]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
if (skipped.length > 0) console.log(`skipped (input over ${MAX_INPUT_BYTES / 1024 / 1024} MiB): ${skipped.join(', ')}`);
console.log(JSON.stringify({ bench: 'memcache', node: process.version, budgetMs: Number(BUDGET_NS / 1_000_000n), skipped, results, sink: sink > 0 }));

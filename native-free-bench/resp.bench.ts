// Micro-benchmark of RespRequestParser and RespReplyScanner (redis-parser on the same replies for comparison).
// Bounded: about a third of a second per measurement, whole run well under 60 s; no servers, no sockets, no addons.
//
// Run: node_modules/.bin/node native-free-bench/resp.bench.ts [--budget-ms=N]
// Prints a table, then one JSON line: {"bench":"resp","results":[...]}. MB/s counts the input bytes framed per
// second: payloads are jumped over by their length, never read, so large values give very large figures.
import { createRequire } from 'node:module';
import { RespRequestParser, RespReplyScanner, DEFAULT_RESP_LIMITS } from '../src/protocol/resp/index.ts';

interface RedisParserLike {
  execute(buf: Buffer): void;
}
type RedisParserCtor = new (opts: {
  returnReply: (r: unknown) => void;
  returnError: (e: unknown) => void;
  returnFatalError: (e: unknown) => void;
  returnBuffers: boolean;
}) => RedisParserLike;
const RedisParser = createRequire(import.meta.url)('redis-parser') as RedisParserCtor;

const VALUE_SIZES = [16, 1024, 64 * 1024, 1024 * 1024];
const WIDTHS = [1, 16, 1000];
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
  framesPerSec: number;
  mbPerSec: number;
  nsPerFrame: number;
}

function requestPipeline(valueBytes: number, width: number): Buffer {
  const value = Buffer.alloc(valueBytes, 0x61);
  const parts: Buffer[] = [];
  for (let i = 0; i < width; i++) {
    const key = `key:${i.toString().padStart(6, '0')}`;
    parts.push(Buffer.from(`*3\r\n$3\r\nSET\r\n$${key.length}\r\n${key}\r\n$${valueBytes}\r\n`), value, Buffer.from('\r\n'));
  }
  return Buffer.concat(parts);
}

function replyPipeline(valueBytes: number, width: number): Buffer {
  const value = Buffer.alloc(valueBytes, 0x62);
  const parts: Buffer[] = [];
  for (let i = 0; i < width; i++) parts.push(Buffer.from(`$${valueBytes}\r\n`), value, Buffer.from('\r\n'));
  return Buffer.concat(parts);
}

/** Runs `pass` (one pass over the input, returning frames seen) for the time budget; returns passes and frames. */
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

function record(results: Result[], subject: string, valueBytes: number, width: number, input: Buffer, reps: number, m: { frames: number; passes: number; ns: number }): void {
  const secs = m.ns / 1e9;
  results.push({
    subject,
    valueBytes,
    width,
    inputBytes: input.length,
    framesPerSec: Math.round(m.frames / secs),
    mbPerSec: Math.round(((input.length * m.passes * reps) / secs / 1e6) * 10) / 10,
    nsPerFrame: Math.round((m.ns / m.frames) * 10) / 10,
  });
}

const results: Result[] = [];
const skipped: string[] = [];
const parser = new RespRequestParser(DEFAULT_RESP_LIMITS);
const scanner = new RespReplyScanner();
let sink = 0;

for (const valueBytes of VALUE_SIZES) {
  for (const width of WIDTHS) {
    if ((valueBytes + 64) * width > MAX_INPUT_BYTES) {
      skipped.push(`${valueBytes} B x ${width}`);
      continue;
    }
    // Several passes per timed call for narrow pipelines, so the clock read does not dominate.
    const reps = Math.ceil(1000 / width);
    const requests = requestPipeline(valueBytes, width);
    const reqEnd = requests.length;
    record(results, 'RespRequestParser', valueBytes, width, requests, reps, measure(() => {
      let n = 0;
      for (let k = 0; k < reps; k++) {
        let pos = 0;
        while (pos < reqEnd) {
          const r = parser.parse(requests, pos, reqEnd);
          if (r <= 0) throw new Error(`parse failed: ${parser.errorMessage}`);
          sink += parser.argLen[2];
          pos = r;
          n++;
        }
      }
      return n;
    }));

    const replies = replyPipeline(valueBytes, width);
    const repEnd = replies.length;
    record(results, 'RespReplyScanner', valueBytes, width, replies, reps, measure(() => {
      let n = 0;
      for (let k = 0; k < reps; k++) {
        let pos = 0;
        while (pos < repEnd) {
          const r = scanner.scan(replies, pos, repEnd);
          if (r <= 0) throw new Error('scan failed');
          pos = r;
          n++;
        }
      }
      return n;
    }));

    let count = 0;
    const rp = new RedisParser({
      returnReply: () => count++,
      returnError: () => count++,
      returnFatalError: (e) => {
        throw e;
      },
      returnBuffers: true,
    });
    record(results, 'redis-parser (buffers)', valueBytes, width, replies, reps, measure(() => {
      const before = count;
      for (let k = 0; k < reps; k++) rp.execute(replies);
      return count - before;
    }));
  }
}

const fmt = (n: number): string => n.toLocaleString('en-US');
const header = ['subject', 'value', 'width', 'frames/s', 'MB/s', 'ns/frame'];
const rows = results.map((r) => [r.subject, `${r.valueBytes} B`, String(r.width), fmt(r.framesPerSec), fmt(r.mbPerSec), fmt(r.nsPerFrame)]);
const widths = header.map((h, i) => Math.max(h.length, ...rows.map((row) => row[i].length)));
const line = (cells: string[]): string => cells.map((c, i) => (i < 3 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
console.log(line(header));
console.log(widths.map((w) => '-'.repeat(w)).join('  '));
for (const row of rows) console.log(line(row));
if (skipped.length > 0) console.log(`skipped (input over ${MAX_INPUT_BYTES / 1024 / 1024} MiB): ${skipped.join(', ')}`);
console.log(JSON.stringify({ bench: 'resp', node: process.version, budgetMs: Number(BUDGET_NS / 1_000_000n), skipped, results, sink: sink > 0 }));

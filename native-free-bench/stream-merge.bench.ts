// Micro-benchmark of the split MGET merge (the streaming MgetStreamMerge) for small replies (the common path: every piece's reply
// arrives whole, the request is written when the last piece answered). No servers; a few seconds. (It was measured against the
// whole-reply merge it replaced: BENCHMARKS.md, "Streaming split replies".)
// Prints one JSON line: {"bench":"stream-merge","results":[{keys,pieces,valueBytes,streamNs}]}.
import { MgetStreamMerge } from '../src/proxy/routing/mget-stream-merge.ts';
import type { ReplySink, Request } from '../src/io/index.ts';

const out = Buffer.allocUnsafe(1 << 20);
let outLen = 0;
const sink: ReplySink & { streamSink(): ReplySink; streamStalled(): void } = {
  write(buf: Uint8Array, start: number, end: number): void {
    out.set(buf.subarray(start, end), outLen & 0x7ffff);
    outLen += end - start;
  },
  streamWindow: 8 << 20,
  socketUnsent: 0,
  streamSink: () => sink,
  streamStalled: () => {},
};
const fakeReq = { client: sink, resp3: false } as unknown as Request;

function pieceReply(n: number, value: number): Buffer {
  const v = 'v'.repeat(value);
  return Buffer.from(`*${n}\r\n` + `$${value}\r\n${v}\r\n`.repeat(n), 'latin1');
}

function measure(fn: () => void, ms: number): number {
  for (let i = 0; i < 2000; i++) fn();
  const slices: number[] = [];
  for (let s = 0; s < 7; s++) {
    let ops = 0;
    const t0 = process.hrtime.bigint();
    const until = t0 + BigInt(Math.floor((ms / 7) * 1e6));
    let now = t0;
    while (now < until) {
      for (let i = 0; i < 200; i++) fn();
      ops += 200;
      now = process.hrtime.bigint();
    }
    slices.push(Number(now - t0) / ops);
  }
  return slices.sort((a, b) => a - b)[3]!;
}

const results = [];
for (const keys of [4, 20, 100]) {
  for (const valueBytes of [16, 1024]) {
    const pieces = 2;
    const replies = [pieceReply(keys / 2, valueBytes), pieceReply(keys / 2, valueBytes)];
    const keyPart = Int32Array.from({ length: keys }, (_, i) => i % pieces);
    const stream = (): void => {
      const m = new MgetStreamMerge(pieces, keys);
      m.setKeyParts(keyPart);
      m.request = fakeReq;
      for (let p = 0; p < pieces; p++) m.part(p, replies[p]!, 0, replies[p]!.length, false);
      m.pump(sink, true);
    };
    const streamNs = measure(stream, 300);
    results.push({ keys, pieces, valueBytes, streamNs: Math.round(streamNs) });
  }
}
process.stdout.write(JSON.stringify({ bench: 'stream-merge', results }) + '\n');

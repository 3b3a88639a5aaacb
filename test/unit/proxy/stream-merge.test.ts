// MgetStreamMerge and MemcacheGetStreamMerge alone (no sockets): key order, the 64 KiB start, whole errors before the start and
// nil / miss after it, the held-bytes window pausing the connection that runs ahead and resuming it, RESP3 nils, memcached misses.
import t from 'tap';
import { MgetStreamMerge } from '../../../src/proxy/routing/mget-stream-merge.ts';
import { MemcacheGetStreamMerge } from '../../../src/proxy/memcache/memcache-merge.ts';
import { STREAM_START_BYTES } from '../../../src/proxy/routing/stream-merge.ts';
import type { Pausable, ReplySink, Request } from '../../../src/io/index.ts';

class Sink implements ReplySink {
  chunks: Buffer[] = [];
  head = true;
  streamWindow = 1024 * 1024;
  socketUnsent = 0;
  write(buf: Uint8Array, start: number, end: number): void {
    this.chunks.push(Buffer.from(buf.subarray(start, end)));
  }
  text(): string {
    return Buffer.concat(this.chunks).toString('latin1');
  }
}

function bind<M extends { request: Request | null }>(m: M, sink: Sink, resp3 = false): M {
  const client = { streamSink: () => (sink.head ? sink : null), closed: false, replyArrived() {}, requestFinished() {} };
  m.request = { client, resp3 } as unknown as Request;
  return m;
}

const conn = (): Pausable & { resumed: number } => ({ resumed: 0, resumeReading() { this.resumed++; } });
const bulk = (s: string): Buffer => Buffer.from(`$${s.length}\r\n${s}\r\n`, 'latin1');
const wholeArray = (vals: (string | null)[]): Buffer => Buffer.from(`*${vals.length}\r\n` + vals.map((v) => (v === null ? '$-1\r\n' : `$${v.length}\r\n${v}\r\n`)).join(''), 'latin1');

t.test('MGET: small pieces answered whole are written in key order once all answered', async (t) => {
  const sink = new Sink();
  const m = bind(new MgetStreamMerge(2, 4), sink);
  m.setKeyParts(Int32Array.from([0, 1, 0, 1]));
  const a = wholeArray(['k0', null]);
  m.part(1, wholeArray(['k1', 'k3']), 0, wholeArray(['k1', 'k3']).length, false);
  t.equal(sink.text(), '', 'nothing before the start threshold');
  m.part(0, a, 0, a.length, false);
  t.equal(m.pump(sink, true), false, 'not an error');
  t.equal(sink.text(), '*4\r\n$2\r\nk0\r\n$2\r\nk1\r\n$-1\r\n$2\r\nk3\r\n');
});

t.test('MGET: a failure before the start is the whole reply; after it, nils (RESP3: _) and counted', async (t) => {
  const s1 = new Sink();
  const m1 = bind(new MgetStreamMerge(2, 2), s1);
  m1.setKeyParts(Int32Array.from([0, 1]));
  const ok = wholeArray(['a']);
  m1.part(0, ok, 0, ok.length, false);
  const err = Buffer.from('-ERR Storage: Connection refused\r\n');
  m1.part(1, err, 0, err.length, true);
  t.equal(m1.pump(s1, true), true);
  t.equal(s1.text(), '-ERR Storage: Connection refused\r\n');

  const s2 = new Sink();
  const m2 = bind(new MgetStreamMerge(2, 3), s2, true);
  m2.setKeyParts(Int32Array.from([0, 1, 0]));
  const big = 'x'.repeat(STREAM_START_BYTES);
  const c = conn();
  m2.unit(0, Buffer.from('*2\r\n'), 0, 4, c);
  m2.unit(0, bulk(big), 0, bulk(big).length, c);
  t.ok(s2.text().startsWith('*3\r\n$65536\r\n'), 'started once 64 KiB were known in order');
  m2.unit(0, bulk('z'), 0, bulk('z').length, c);
  m2.part(0, Buffer.alloc(0), 0, 0, false);
  m2.part(1, err, 0, err.length, true);
  t.equal(m2.pump(s2, true), true, 'counted as an error');
  t.equal(s2.text(), `*3\r\n${bulk(big).toString('latin1')}_\r\n$1\r\nz\r\n`, 'the failed piece\'s key is a RESP3 null');
});

t.test('MGET: a piece with the wrong number of values fails like an error', async (t) => {
  const sink = new Sink();
  const m = bind(new MgetStreamMerge(2, 3), sink);
  m.setKeyParts(Int32Array.from([0, 1, 1]));
  const a = wholeArray(['a']);
  const b = wholeArray(['b']);
  m.part(0, a, 0, a.length, false);
  m.part(1, b, 0, b.length, false);
  m.pump(sink, true);
  t.match(sink.text(), /^-ERR dynoproxy: a backend answered a split MGET with the wrong number of values/);
});

t.test('a piece running ahead is paused past the window and resumed once the earlier keys are written', async (t) => {
  const sink = new Sink();
  sink.streamWindow = 300_000;
  const m = bind(new MgetStreamMerge(2, 8), sink);
  m.setKeyParts(Int32Array.from([0, 1, 1, 1, 1, 0, 0, 0]));
  const slow = conn();
  const fast = conn();
  const v = bulk('y'.repeat(100_000));
  m.unit(1, Buffer.from('*4\r\n'), 0, 4, fast);
  const paused = [1, 2, 3, 4].map(() => m.unit(1, v, 0, v.length, fast));
  t.same(paused, [0, 0, 1, 1], 'held past the window (300 kB): the fast connection stops (UNIT_AHEAD)');
  t.equal(sink.text(), '', 'key 0 is not known: nothing written');
  m.part(1, Buffer.alloc(0), 0, 0, false);
  m.unit(0, Buffer.from('*4\r\n'), 0, 4, slow);
  t.equal(m.unit(0, v, 0, v.length, slow), 0);
  t.ok(fast.resumed >= 1, 'resumed once key 0 let the held keys out');
  t.equal(sink.chunks.length, 6, 'header, key 0 and the four held keys');
});

t.test('memcached: hits in key order, misses and duplicates, one END; an error before the start is the reply', async (t) => {
  const sink = new Sink();
  const m = bind(new MemcacheGetStreamMerge(2, 5), sink);
  const keys = Buffer.from('a b a c d');
  m.setKeys(keys, Int32Array.from([0, 2, 4, 6, 8]), Int32Array.from([1, 1, 1, 1, 1]));
  m.setKeyParts(Int32Array.from([0, 1, 0, 1, 0]));
  const p0 = Buffer.from('VALUE a 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nEND\r\n');
  const p1 = Buffer.from('VALUE c 5 2\r\n33\r\nEND\r\n');
  m.part(1, p1, 0, p1.length, false);
  m.part(0, p0, 0, p0.length, false);
  t.equal(m.pump(sink, true), false);
  t.equal(sink.text(), 'VALUE a 0 1\r\n1\r\nVALUE a 0 1\r\n1\r\nVALUE c 5 2\r\n33\r\nEND\r\n', 'b and d are misses');

  const s2 = new Sink();
  const e = bind(new MemcacheGetStreamMerge(2, 2), s2);
  e.setKeys(Buffer.from('a b'), Int32Array.from([0, 2]), Int32Array.from([1, 1]));
  e.setKeyParts(Int32Array.from([0, 1]));
  const err = Buffer.from('SERVER_ERROR Storage: Connection timed out\r\n');
  e.part(0, Buffer.from('END\r\n'), 0, 5, false);
  e.part(1, err, 0, err.length, true);
  t.equal(e.pump(s2, true), true);
  t.equal(s2.text(), err.toString());
});

t.test('a client that left: held bytes dropped, paused connections resumed, later units ignored', async (t) => {
  const sink = new Sink();
  sink.streamWindow = 10;
  const m = bind(new MgetStreamMerge(2, 2), sink);
  m.setKeyParts(Int32Array.from([0, 1]));
  const c = conn();
  m.unit(1, Buffer.from('*1\r\n'), 0, 4, c);
  t.equal(m.unit(1, bulk('0123456789abc'), 0, 20, c), 1, 'paused: key 1 held past the window, key 0 unknown');
  m.cancel();
  t.equal(c.resumed, 1);
  t.equal(m.unit(1, bulk('x'), 0, 7, c), 0);
  t.equal(sink.text(), '', 'nothing written for a client that left');
});

t.test('a client with unsent bytes past the window: UNIT_SLOW, resumed by a pump once it took them', async (t) => {
  const sink = new Sink();
  sink.streamWindow = 100_000;
  const m = bind(new MgetStreamMerge(1, 3), sink);
  m.setKeyParts(Int32Array.from([0, 0, 0]));
  const c = conn();
  const v = bulk('w'.repeat(STREAM_START_BYTES));
  m.unit(0, Buffer.from('*3\r\n'), 0, 4, c);
  t.equal(m.unit(0, v, 0, v.length, c), 0);
  sink.socketUnsent = 150_000;
  t.equal(m.unit(0, v, 0, v.length, c), 2, 'written, but the client is behind: UNIT_SLOW');
  t.equal(m.pump(sink, false), false);
  t.equal(c.resumed, 0, 'still behind');
  sink.socketUnsent = 0;
  m.pump(sink, false);
  t.equal(c.resumed, 1, 'resumed once it read');
});

/** A small deterministic generator: r(n) is in [0, n). */
function rng(seed: number): (n: number) => number {
  let s = seed >>> 0;
  return (n) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s % n;
  };
}

t.test('MGET reassembly: values back in the client key order over many random splits and reply orders', async (t) => {
  const r = rng(0x5eed);
  let bad = 0;
  for (let iter = 0; iter < 400; iter++) {
    const keys = 1 + r(40);
    const pieces = 1 + r(Math.min(6, keys));
    const sink = new Sink();
    const m = bind(new MgetStreamMerge(pieces, keys), sink);
    const keyPart = new Int32Array(keys);
    const values: (string | null)[] = [];
    const perPiece: (string | null)[][] = Array.from({ length: pieces }, () => []);
    for (let i = 0; i < keys; i++) {
      const p = i < pieces ? i : r(pieces);
      keyPart[i] = p;
      const kind = r(4);
      const v = kind === 0 ? null : kind === 1 ? '' : `v${i}\r\n$9\r\n*${'x'.repeat(r(30))}`;
      values.push(v);
      perPiece[p]!.push(v);
    }
    m.setKeyParts(keyPart);
    const order = Array.from({ length: pieces }, (_, i) => i).sort(() => r(3) - 1);
    for (const p of order) {
      const b = wholeArray(perPiece[p]!);
      m.part(p, b, 0, b.length, false);
    }
    m.pump(sink, true);
    if (sink.text() !== wholeArray(values).toString('latin1')) bad++;
  }
  t.equal(bad, 0, '400 random splits reassembled exactly');
});

t.test('memcached multi-get: hits back in the client key order with one END, misses left out, over random splits', async (t) => {
  const r = rng(99);
  let bad = 0;
  for (let iter = 0; iter < 300; iter++) {
    const nKeys = 1 + r(30);
    const pieces = 1 + r(Math.min(5, nKeys));
    const sink = new Sink();
    const m = bind(new MemcacheGetStreamMerge(pieces, nKeys), sink);
    const names = Array.from({ length: nKeys }, () => `k${r(12)}`);
    const hit = new Map<string, string | null>();
    const perPiece: string[][] = Array.from({ length: pieces }, () => []);
    const want: string[] = [];
    const pieceOf = new Map<string, number>();
    const keyPart = new Int32Array(nKeys);
    const offsets = new Int32Array(nKeys);
    const lengths = new Int32Array(nKeys);
    let off = 0;
    names.forEach((k, i) => {
      // A key always goes to the same piece (its owner), as the router splits; each occurrence is asked (and answered) again.
      if (!pieceOf.has(k)) pieceOf.set(k, pieceOf.size < pieces ? pieceOf.size : r(pieces));
      const p = pieceOf.get(k)!;
      keyPart[i] = p;
      offsets[i] = off;
      lengths[i] = k.length;
      off += k.length + 1;
      if (!hit.has(k)) hit.set(k, r(3) !== 0 ? `val-${k}-${'y'.repeat(r(20))}` : null);
      const v = hit.get(k);
      if (v != null) {
        const item = `VALUE ${k} ${k.length % 5} ${v.length}\r\n${v}\r\n`;
        perPiece[p]!.push(item);
        want.push(item);
      }
    });
    m.setKeys(Buffer.from(names.join(' ')), offsets, lengths);
    m.setKeyParts(keyPart);
    for (let p = 0; p < pieces; p++) {
      const b = Buffer.from(perPiece[p]!.join('') + 'END\r\n');
      m.part(p, b, 0, b.length, false);
    }
    m.pump(sink, true);
    if (sink.text() !== want.join('') + 'END\r\n') bad++;
  }
  t.equal(bad, 0, '300 random splits');
});

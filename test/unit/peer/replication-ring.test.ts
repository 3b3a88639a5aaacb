// ReplicationRing: order, wrap-around, bounded drops, and a real producer thread against a consumer thread.
// Bounded: every loop has a fixed count and the threaded case a deadline.
import t from 'tap';
import { Worker } from 'node:worker_threads';
import { ReplicationRing } from '../../../src/peer/replication-ring.ts';

function rec(i: number, size: number): Buffer {
  const b = Buffer.alloc(size, i & 0xff);
  b.writeUInt32LE(i, 0);
  return b;
}

t.test('records come out in order with their node, across many wrap-arounds', async (t) => {
  const ring = ReplicationRing.create(4096);
  const sizes: number[] = [];
  let next = 0;
  let seen = 0;
  let bad = 0;
  for (let round = 0; round < 500; round++) {
    for (let k = 0; k < 7; k++) {
      const size = 4 + ((round * 7 + k) % 300);
      if (!ring.push(next % 5, rec(next, size), 0, size)) bad++;
      sizes.push(size);
      next++;
    }
    ring.drain((node, buf, s, e) => {
      const i = Buffer.from(buf.buffer, buf.byteOffset + s, e - s).readUInt32LE(0);
      if (i !== seen || node !== seen % 5 || e - s !== sizes[seen]) bad++;
      seen++;
    });
  }
  t.equal(bad, 0, 'every push accepted and every record intact');
  t.equal(seen, next, 'every record drained once, in order');
  t.equal(ring.dropped, 0, 'nothing dropped when drained often');
  t.equal(ring.depth, 0);
});

t.test('a full ring refuses and counts, never overwrites', async (t) => {
  const ring = ReplicationRing.create(1024);
  let accepted = 0;
  for (let i = 0; i < 100; i++) if (ring.push(1, rec(i, 100), 0, 100)) accepted++;
  t.ok(accepted > 0 && accepted < 100, `some accepted (${accepted}), the rest refused`);
  t.equal(ring.dropped, 100 - accepted, 'refusals counted');
  const got: number[] = [];
  ring.drain((_n, buf, s) => got.push(Buffer.from(buf.buffer, buf.byteOffset + s, 4).readUInt32LE(0)));
  t.same(got, Array.from({ length: accepted }, (_, i) => i), 'the accepted ones, intact and in order');
  t.notOk(ring.push(1, Buffer.alloc(600), 0, 600), 'a record larger than half the ring is refused');
});

t.test('a producer thread and this consumer: every record once, in order', async (t) => {
  const ring = ReplicationRing.create(64 * 1024);
  const total = 200_000;
  const producer = new Worker(new URL('./fixtures/ring-producer.ts', import.meta.url), { workerData: { sab: ring.sab, total } });
  let seen = 0;
  let bad = 0;
  const deadline = Date.now() + 60_000;
  await new Promise<void>((resolve, reject) => {
    const tick = (): void => {
      ring.drain((node, buf, s, e) => {
        const v = Buffer.from(buf.buffer, buf.byteOffset + s, e - s);
        const i = v.readUInt32LE(0);
        if (i !== seen || node !== i % 7 || v.length !== 4 + (i % 61)) bad++;
        seen++;
      });
      if (seen >= total) return resolve();
      if (Date.now() > deadline) return reject(new Error(`only ${seen} of ${total} records arrived`));
      setImmediate(tick);
    };
    tick();
  });
  await producer.terminate();
  t.equal(bad, 0, 'no torn or reordered record');
  t.equal(seen, total);
});

/** Put both counters at `at` (white box: the ring's first two header slots), as if that many bytes had passed. */
function startAt(ring: ReplicationRing, at: number): void {
  const h = new Int32Array(ring.sab, 0, 2)
  h[0] = at | 0
  h[1] = at | 0
}

function drainAll(ring: ReplicationRing): Buffer[] {
  const out: Buffer[] = []
  ring.drain((node, buf, s, e) => out.push(Buffer.concat([Buffer.from([node & 0xff]), Buffer.from(buf.subarray(s, e))])))
  return out
}

t.test('wrap-around at every offset of the ring, with the byte counters also crossing 2^31', async (t) => {
  const cap = 1024
  const sizes = [0, 1, 3, 4, 5, 63, 200, 500, 504]
  let bad = 0
  let cases = 0
  for (const base of [0, 0x7fffffff - 600]) {
    for (let off = 0; off < cap; off += 4) {
      for (const size of sizes) {
        const ring = ReplicationRing.create(cap)
        startAt(ring, base + off)
        // Two records: the second crosses the end for some offsets, and must come out whole after the first.
        const a = rec(off, Math.max(4, size))
        const b = rec(off + 1, Math.max(4, 504 - size))
        const okA = ring.push(3, a, 0, a.length)
        const okB = ring.push(4, b, 0, b.length)
        const got = drainAll(ring)
        const want: Buffer[] = []
        if (okA) want.push(Buffer.concat([Buffer.from([3]), a]))
        if (okB) want.push(Buffer.concat([Buffer.from([4]), b]))
        if (!okA || got.length !== want.length || got.some((g, i) => !g.equals(want[i]!)) || ring.depth !== 0) bad++
        if (okA && !okB && ring.dropped !== 1) bad++
        cases++
      }
    }
  }
  t.equal(bad, 0, `${cases} cases: records intact and in order at every offset`)
})

t.test('a full ring: exactly its capacity is accepted at any offset, then it refuses until drained', async (t) => {
  const cap = 1024
  let bad = 0
  for (let off = 0; off < cap; off += 4) {
    const ring = ReplicationRing.create(cap)
    startAt(ring, off)
    // Records of 120 bytes take 128 with their header: eight fill the ring when none has to skip the end.
    let accepted = 0
    for (let i = 0; i < 20; i++) if (ring.push(1, rec(i, 120), 0, 120)) accepted++
    const skips = off % 128 !== 0
    if (skips ? accepted !== 7 : accepted !== 8) bad++
    if (ring.dropped !== 20 - accepted) bad++
    if (!skips && ring.depth !== cap) bad++
    const first: number[] = []
    ring.drain((_n, buf, s) => first.push(Buffer.from(buf.subarray(s, s + 4)).readUInt32LE(0)), 1)
    if (first[0] !== 0) bad++
    if (!ring.push(1, rec(99, 120), 0, 120)) bad++
    const rest = drainAll(ring).map((b) => b.readUInt32LE(1))
    if (rest.length !== accepted || rest[rest.length - 1] !== 99) bad++
  }
  t.equal(bad, 0, 'at all 256 offsets')
})

t.test('records bigger than half the ring or than the ring are refused and counted; the ring is untouched', async (t) => {
  const cap = 1024
  const ring = ReplicationRing.create(cap)
  t.ok(ring.push(1, rec(1, 10), 0, 10))
  for (const size of [cap / 2 - 7, cap, cap * 4]) {
    t.notOk(ring.push(1, Buffer.alloc(size), 0, size), `${size} bytes refused`)
  }
  t.ok(ring.push(1, Buffer.alloc(cap / 2 - 8), 0, cap / 2 - 8), 'half the ring, header included, fits')
  t.equal(ring.dropped, 3)
  t.equal(ring.pushed, 2)
  const got = drainAll(ring)
  t.equal(got.length, 2)
  t.equal(got[0]!.readUInt32LE(1), 1, 'the small record intact')
  t.throws(() => ReplicationRing.create(1000), /power of two/)
  t.throws(() => ReplicationRing.create(512), /power of two >= 1024/)
})

t.test('node numbers up to 2^32-1 and empty records survive', async (t) => {
  const ring = ReplicationRing.create(1024)
  t.ok(ring.push(0xffffffff, Buffer.alloc(0), 0, 0))
  const got: [number, number][] = []
  ring.drain((node, _b, s, e) => got.push([node, e - s]))
  t.same(got, [[0xffffffff, 0]])
})

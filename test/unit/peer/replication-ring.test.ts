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

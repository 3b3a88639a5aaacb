// Checks that hash tag extraction and ring lookups allocate nothing: a million calls must not trigger one GC.
// Pure: no processes, no sockets. A control loop that allocates proves the GC counter works.

import { PerformanceObserver } from 'node:perf_hooks';
import t from 'tap';
import {
  buildKetama, buildModula, hashTagRange, parseDynToken, TokenRing, twemproxyHashTagRange,
} from '../../../src/topology/index.ts';

// Hash functions are left out on purpose: they return uint32, and V8 boxes a result above 2^30 in a HeapNumber
// whenever the call is not inlined. That is the engine's calling convention, not an allocation of ours.

const CALLS = 1_000_000;
let gcs = 0;
const observer = new PerformanceObserver((list) => { gcs += list.getEntries().length; });
observer.observe({ entryTypes: ['gc'] });
t.teardown(() => observer.disconnect());

const settle = (): Promise<void> => new Promise((resolve) => setTimeout(resolve, 30));

async function gcsDuring(run: (n: number) => void): Promise<number> {
  run(50_000);
  await settle();
  const before = gcs;
  run(CALLS);
  await settle();
  return gcs - before;
}

const hashes = new Uint32Array(1024);
for (let i = 0; i < hashes.length; i++) hashes[i] = Math.imul(i + 1, 0x9e3779b1) >>> 0;
const keys = Buffer.from('{user1000}:followers|a{}b|no-tag-in-this-key-at-all|x#y#z');
const out = new Int32Array(2);
let sink = 0;

t.test('the GC counter sees an allocating loop', async (t) => {
  const held: unknown[] = [];
  const n = await gcsDuring((calls) => {
    for (let i = 0; i < calls; i++) {
      held.length = 0;
      held.push({ i, s: String(i) });
    }
  });
  t.ok(n > 0, `control loop triggered ${n} GCs`);
});

t.test('hash tag extraction allocates nothing', async (t) => {
  t.equal(await gcsDuring((calls) => {
    for (let i = 0; i < calls; i++) {
      hashTagRange(keys, i & 7, keys.length, 0x7b, 0x7d, out);
      twemproxyHashTagRange(keys, i & 7, keys.length, 0x23, 0x23, out);
      sink ^= out[0];
    }
  }), 0);
});

t.test('ring lookups allocate nothing', async (t) => {
  const servers = Array.from({ length: 30 }, (_, i) => ({ name: `10.0.0.${i}:6379`, weight: 1 + (i % 3) }));
  const ketama = buildKetama(servers);
  const modula = buildModula(servers);
  const tokens = ['0', '1073741824', '2147483648', '3221225472', '4000000000'];
  const ring = new TokenRing(tokens.map(parseDynToken), [0, 1, 2, 3, 4]);
  t.equal(await gcsDuring((calls) => {
    for (let i = 0; i < calls; i++) {
      const h = hashes[i & 1023];
      sink ^= ketama.lookup(h) ^ modula.lookup(h) ^ ring.lookup(h);
    }
  }), 0);
  t.ok(sink !== undefined);
});

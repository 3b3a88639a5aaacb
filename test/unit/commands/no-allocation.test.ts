// Checks that the per-request functions (resolveCommand, arityOk, keyIndexes, refusalFor) allocate nothing:
// a million requests must not trigger one GC. A control loop that allocates proves the GC counter works.
import { PerformanceObserver } from 'node:perf_hooks';
import t from 'tap';
import { resolveCommand, arityOk, keyIndexes, refusalFor } from '../../../src/commands/index.ts';
import { line, type Argv } from './argv.ts';

const CALLS = 1_000_000;
let gcs = 0;
const observer = new PerformanceObserver((list) => {
  gcs += list.getEntries().length;
});
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

// One request of each key layout, and lookups that miss.
const requests: Argv[] = [
  'GET user:1000', 'set k v EX 10', 'MGET a b c d', 'MSET a 1 b 2', 'CLIENT SETNAME conn', 'object encoding k', 'BLPOP a b 0',
  'EVAL return 2 k1 k2 a', 'ZUNIONSTORE dst 2 a b WEIGHTS 1 2', 'LMPOP 2 a b LEFT', 'SORT k BY w_* LIMIT 0 5 STORE dst',
  'XREAD COUNT 2 STREAMS s1 s2 0 0', 'XREAD BLOCK 0 STREAMS s $', 'COPY a b DB 1', 'EVAL s x k', 'NOSUCHCOMMAND a', 'CLIENT NOSUCH',
].map(line);
const out = new Int32Array(16);
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

t.test('lookup, arity, key extraction and refusal checks allocate nothing', async (t) => {
  const n = await gcsDuring((calls) => {
    for (let i = 0; i < calls; i++) {
      const r = requests[i % requests.length];
      const spec = resolveCommand(r.buf, r.off, r.len, r.argc);
      if (spec === undefined) {
        sink ^= 1;
        continue;
      }
      if (!arityOk(spec, r.argc)) continue;
      sink ^= keyIndexes(spec, r.buf, r.off, r.len, r.argc, out);
      sink ^= refusalFor(spec, r.buf, r.off, r.len, r.argc) === undefined ? 0 : 2;
    }
  });
  t.equal(n, 0, 'no GC during a million requests');
  t.ok(sink !== undefined);
});

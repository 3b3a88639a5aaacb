// Tests of the load generator's streaming reply counters: fixtures whole, split at every byte, and broken streams.
// Never needs a server: the fixtures are the bytes Redis and memcached send.
import t from 'tap';
import type { Test } from 'tap';
import { MemcacheReplyCounter, RespReplyCounter } from '../reply-counters.ts';
import type { ReplyCounter } from '../reply-counters.ts';

function countWhole(make: () => ReplyCounter, bytes: Buffer): { replies: number; errors: number } {
  const c = make();
  const replies = c.feed(bytes, 0, bytes.length);
  return { replies, errors: c.errors };
}

/** Every split into two chunks, and one byte at a time, must count the same as the whole. */
function checkSplits(t: Test, make: () => ReplyCounter, bytes: Buffer, replies: number, errors: number): void {
  for (let cut = 0; cut <= bytes.length; cut++) {
    const c = make();
    const a = Buffer.from(bytes.subarray(0, cut));
    const b = Buffer.from(bytes.subarray(cut));
    const n = c.feed(a, 0, a.length) + c.feed(b, 0, b.length);
    if (n !== replies || c.errors !== errors || c.broken) {
      t.fail(`split at ${cut}: ${n} replies, ${c.errors} errors, broken ${c.broken}`);
      return;
    }
  }
  const c = make();
  let n = 0;
  for (let i = 0; i < bytes.length; i++) n += c.feed(bytes, i, i + 1);
  t.equal(n, replies, 'one byte at a time');
  t.pass('every two-chunk split counts the same');
}

const respFixtures: [string, string, number, number][] = [
  ['simple and error', '+OK\r\n-ERR wrong\r\n:42\r\n', 3, 1],
  ['bulks', '$5\r\nhello\r\n$-1\r\n$0\r\n\r\n', 3, 0],
  ['bulk holding CRLF and type bytes', '$8\r\n\r\n*2\r\n$1\r\n', 1, 0],
  ['MGET reply with a nil', '*3\r\n$1\r\na\r\n$-1\r\n$2\r\nbc\r\n', 1, 0],
  ['nested arrays and empties', '*2\r\n*2\r\n:1\r\n:2\r\n*0\r\n*-1\r\n', 2, 0],
  ['RESP3 map, double, null, verbatim', '%2\r\n+a\r\n:1\r\n+b\r\n,1.5\r\n_\r\n=7\r\ntxt:abc\r\n', 3, 0],
];

t.test('RESP counter', async (t) => {
  for (const [name, text, replies, errors] of respFixtures) {
    await t.test(name, async (t) => {
      const bytes = Buffer.from(text, 'latin1');
      t.same(countWhole(() => new RespReplyCounter(), bytes), { replies, errors });
      checkSplits(t, () => new RespReplyCounter(), bytes, replies, errors);
    });
  }
  await t.test('an error inside an array is not a failed request', async (t) => {
    t.same(countWhole(() => new RespReplyCounter(), Buffer.from('*1\r\n-ERR x\r\n')), { replies: 1, errors: 0 });
  });
  await t.test('garbage breaks the stream', async (t) => {
    const c = new RespReplyCounter();
    const b = Buffer.from('+OK\r\n?what\r\n');
    t.equal(c.feed(b, 0, b.length), 1);
    t.ok(c.broken);
  });
});

const memcacheFixtures: [string, string, number, number][] = [
  ['miss and hit', 'END\r\nVALUE k 0 3\r\nabc\r\nEND\r\n', 2, 0],
  ['multi-get with cas and a value holding END', 'VALUE a 1 5 99\r\nEND\r\n\r\nVALUE bb 0 0\r\n\r\nEND\r\n', 1, 0],
  ['storage replies and errors', 'STORED\r\nNOT_STORED\r\nERROR\r\nCLIENT_ERROR bad data chunk\r\nSERVER_ERROR out of memory\r\nDELETED\r\n', 6, 3],
];

t.test('memcached counter', async (t) => {
  for (const [name, text, replies, errors] of memcacheFixtures) {
    await t.test(name, async (t) => {
      const bytes = Buffer.from(text, 'latin1');
      t.same(countWhole(() => new MemcacheReplyCounter(), bytes), { replies, errors });
      checkSplits(t, () => new MemcacheReplyCounter(), bytes, replies, errors);
    });
  }
  await t.test('a VALUE line without a length breaks the stream', async (t) => {
    const c = new MemcacheReplyCounter();
    const b = Buffer.from('VALUE k 0\r\n');
    c.feed(b, 0, b.length);
    t.ok(c.broken);
  });
});

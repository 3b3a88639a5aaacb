// RespReplyScanner against fixtures of every RESP2 and RESP3 reply type, whole and split at every byte; merge helpers.
// Expected boundaries are written by hand from the RESP2/RESP3 specifications.
import t from 'tap';
import { RespReplyScanner, SCAN_INCOMPLETE, SCAN_ERROR, arrayElementBounds, readIntegerReply } from '../../../../src/protocol/resp/index.ts';
import { feedReplies, cut, splitPoints } from './resp-feed.ts';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function nested(depth: number, leaf: string): string {
  let s = leaf;
  for (let i = 0; i < depth; i++) s = `*2\r\n:${i}\r\n${s}`;
  return s;
}

const bigValue = 'q'.repeat(200_000);
// Each fixture is one reply and the type byte the scanner must report for it.
const replies: [string, string, string][] = [
  ['simple string', '+OK\r\n', '+'],
  ['empty simple string', '+\r\n', '+'],
  ['error', '-ERR unknown command\r\n', '-'],
  ['error with code', '-WRONGTYPE Operation against a key holding the wrong kind of value\r\n', '-'],
  ['integer', ':1000\r\n', ':'],
  ['negative integer', ':-42\r\n', ':'],
  ['bulk', '$5\r\nhello\r\n', '$'],
  ['empty bulk', '$0\r\n\r\n', '$'],
  ['bulk holding CRLF and RESP', '$11\r\n\r\n*1\r\n$1\r\nx\r\n', '$'],
  ['null bulk', '$-1\r\n', '$'],
  ['big bulk (200 KB)', `$${bigValue.length}\r\n${bigValue}\r\n`, '$'],
  ['empty array', '*0\r\n', '*'],
  ['null array', '*-1\r\n', '*'],
  ['mixed array', '*5\r\n:1\r\n$-1\r\n+x\r\n-ERR inside\r\n$3\r\nabc\r\n', '*'],
  ['array of arrays', '*2\r\n*2\r\n:1\r\n:2\r\n*0\r\n', '*'],
  ['nested depth 5', nested(5, '$3\r\nend\r\n'), '*'],
  ['RESP3 null', '_\r\n', '_'],
  ['RESP3 double', ',3.14159\r\n', ','],
  ['RESP3 double inf', ',-inf\r\n', ','],
  ['RESP3 boolean', '#t\r\n', '#'],
  ['RESP3 big number', '(3492890328409238509324850943850943825024385\r\n', '('],
  ['RESP3 bulk error', '!21\r\nSYNTAX invalid syntax\r\n', '!'],
  ['RESP3 verbatim', '=15\r\ntxt:Some string\r\n', '='],
  ['RESP3 map', '%2\r\n+first\r\n:1\r\n+second\r\n:2\r\n', '%'],
  ['RESP3 empty map', '%0\r\n', '%'],
  ['RESP3 set', '~3\r\n+a\r\n+b\r\n+c\r\n', '~'],
  ['RESP3 push', '>3\r\n+message\r\n+chan\r\n$5\r\nhello\r\n', '>'],
  ['RESP3 attribute before an array', '|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n', '*'],
  ['RESP3 attribute before an error', '|1\r\n+k\r\n+v\r\n-ERR decorated\r\n', '-'],
  ['RESP3 empty attribute', '|0\r\n+OK\r\n', '+'],
  ['RESP3 attribute on an element', '*2\r\n|1\r\n+ttl\r\n:3600\r\n+v\r\n:2\r\n', '*'],
  ['RESP3 map of nested aggregates', '%1\r\n~1\r\n>1\r\n%1\r\n*1\r\n$1\r\nk\r\n_\r\n:9\r\n', '%'],
];

for (const [name, text, type] of replies) {
  t.test(name, async (t) => {
    const input = b(text);
    const whole = feedReplies([input]);
    t.same(whole.violations, [], 'no contract violation, whole');
    t.equal(whole.end, 'clean');
    t.equal(whole.items.length, 1, 'one reply');
    t.equal(whole.items[0]?.bytes, text, 'the whole input is the reply');
    t.equal(String.fromCharCode(whole.items[0]?.type ?? 0), type, 'type');
    t.equal(whole.items[0]?.isError, type === '-' || type === '!', 'isError');
    let bad = 0;
    for (const k of splitPoints(input.length, 2048)) {
      const split = feedReplies(cut(input, [k]));
      if (split.violations.length > 0 || split.end !== 'clean' || split.items.length !== 1 || split.items[0].bytes !== text || split.items[0].type !== whole.items[0].type) {
        if (bad++ < 3) t.fail(`split at ${k}: ${JSON.stringify({ v: split.violations, end: split.end, n: split.items.length })}`);
      }
    }
    t.equal(bad, 0, 'same reply at every split point');
    if (input.length <= 4096) {
      const bytes = feedReplies(cut(input, splitPoints(input.length, 1 << 30)));
      t.same(bytes.violations, [], 'no violation byte by byte');
      t.equal(bytes.items.length, 1);
      t.equal(bytes.items[0]?.bytes, text);
    }
  });
}

t.test('all fixtures pipelined in one stream, then randomly chunked', async (t) => {
  const texts = replies.map(([, text]) => text).filter((x) => x.length < 10_000);
  const stream = b(texts.join('').repeat(20));
  const expectedBytes = Array(20).fill(texts).flat();
  const whole = feedReplies([stream]);
  t.same(whole.violations, []);
  t.same(whole.items.map((r) => r.bytes), expectedBytes);
  let seed = 7;
  for (let round = 0; round < 10; round++) {
    const cuts: number[] = [];
    for (let p = 1; p < stream.length; p += 1 + ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) % (round * 40 + 5))) cuts.push(p);
    const out = feedReplies(cut(stream, cuts));
    t.same(out.violations, [], `round ${round}`);
    t.equal(out.end, 'clean');
    t.same(out.items.map((r) => r.bytes), expectedBytes, `round ${round}`);
  }
});

const garbage: [string, string][] = [
  ['unknown type byte', 'x\r\n'],
  ['a space', ' +OK\r\n'],
  ['streamed string', '$?\r\n;4\r\nHell\r\n;0\r\n'],
  ['streamed array', '*?\r\n:1\r\n.\r\n'],
  ['bulk not followed by CRLF', '$3\r\nabcX\r\n'],
  ['bulk followed by CR X', '$3\r\nabc\rX'],
  ['simple string CR without LF', '+OK\rX'],
  ['bulk length -2', '$-2\r\n'],
  ['array length -2', '*-2\r\n'],
  ['null map', '%-1\r\n'],
  ['null bulk error', '!-1\r\n'],
  ['bulk length not a number', '$abc\r\n'],
  ['bulk length empty', '$\r\n'],
  ['bulk length "-"', '$-\r\n'],
  ['array length too long', '*' + '1'.repeat(25) + '\r\n'],
  ['error inside an array', '*2\r\n:1\r\n?\r\n'],
  ['nesting deeper than 64', '*1\r\n'.repeat(65) + ':1\r\n'],
];

for (const [name, text] of garbage) {
  t.test(`SCAN_ERROR: ${name}`, async (t) => {
    const input = b(text);
    t.equal(feedReplies([input]).end, 'error', 'whole');
    let bad = 0;
    for (const k of splitPoints(input.length)) {
      const out = feedReplies(cut(input, [k]));
      if (out.end !== 'error' || out.violations.length > 0) bad++;
    }
    t.equal(bad, 0, 'error at every split');
  });
}

t.test('nesting of exactly 64 is accepted; maxDepth and maxBulkBytes are honoured', async (t) => {
  t.equal(feedReplies([b('*1\r\n'.repeat(64) + ':1\r\n')]).end, 'clean');
  t.equal(feedReplies([b('*1\r\n'.repeat(3) + ':1\r\n')], new RespReplyScanner(3)).end, 'clean');
  t.equal(feedReplies([b('*1\r\n'.repeat(4) + ':1\r\n')], new RespReplyScanner(3)).end, 'error');
  t.equal(feedReplies([b('$10\r\n0123456789\r\n')], new RespReplyScanner(64, 10)).end, 'clean');
  t.equal(feedReplies([b('$11\r\n0123456789a\r\n')], new RespReplyScanner(64, 10)).end, 'error');
  t.equal(feedReplies([b('+0123456789\r\n')], new RespReplyScanner(64, 10)).end, 'clean');
  t.equal(feedReplies([b('+0123456789a\r\n')], new RespReplyScanner(64, 10)).end, 'error');
  t.equal(feedReplies([b('+0123456789a')], new RespReplyScanner(64, 10)).end, 'error', 'a line past the bound fails before its CR arrives');
});

t.test('needed: exact inside a bulk, counting the values still owed', async (t) => {
  const s = new RespReplyScanner();
  const reply = b('*3\r\n$100\r\n' + 'x'.repeat(100) + '\r\n:1\r\n:2\r\n');
  t.equal(s.scan(reply, 0, 20), SCAN_INCOMPLETE);
  // The bulk ends at 4 + 6 + 100 + 2 = 112; two more values of at least 3 bytes each.
  t.equal(s.needed, 112 + 6);
  t.ok(s.needed <= reply.length);
  t.equal(s.scan(reply, 0, reply.length), reply.length);
});

t.test('resuming is linear: a 10k-element array and a long line over 100-byte chunks', async (t) => {
  const parts = ['*10000\r\n'];
  for (let i = 0; i < 10_000; i++) parts.push(i % 2 ? `$${String(i).length}\r\n${i}\r\n` : `:${i}\r\n`);
  for (const text of [parts.join(''), `-ERR ${'e'.repeat(200_000)}\r\n`]) {
    const reply = b(text);
    let reads = 0;
    const counting = new Proxy(reply, {
      get(target, prop) {
        if (typeof prop === 'string' && prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57) reads++;
        return target[prop as unknown as number];
      },
    }) as Buffer;
    const s = new RespReplyScanner();
    let r = 0;
    for (let k = 100; ; k = Math.min(k + 100, reply.length)) {
      r = s.scan(counting, 0, k);
      if (r !== SCAN_INCOMPLETE) break;
    }
    t.equal(r, reply.length);
    t.ok(reads < 2 * reply.length, `bytes read ${reads} for a ${reply.length}-byte reply`);
  }
});

t.test('reset drops partial state', async (t) => {
  const s = new RespReplyScanner();
  t.equal(s.scan(b('*2\r\n:1\r\n'), 0, 8), SCAN_INCOMPLETE);
  s.reset();
  const ok = b('+OK\r\n');
  t.equal(s.scan(ok, 0, ok.length), ok.length);
  t.equal(s.type, 43);
  t.equal(s.scan(b('?'), 0, 1), SCAN_ERROR);
  t.equal(s.scan(ok, 0, ok.length), ok.length, 'usable after an error');
});

t.test('arrayElementBounds', async (t) => {
  const reply = b('xx*4\r\n$3\r\nabc\r\n$-1\r\n*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n+OK\r\nyy');
  const out = new Int32Array(8);
  const n = arrayElementBounds(reply, 2, reply.length - 2, out);
  t.equal(n, 4);
  const elems = [];
  for (let i = 0; i < n; i++) elems.push(reply.subarray(out[i], out[i + 1]).toString('latin1'));
  t.same(elems, ['$3\r\nabc\r\n', '$-1\r\n', '*2\r\n:1\r\n|1\r\n+a\r\n+b\r\n:2\r\n', '+OK\r\n']);
  t.equal(out[n], reply.length - 2);
  const empty = b('*0\r\n');
  t.equal(arrayElementBounds(empty, 0, 4, out), 0);
  t.equal(out[0], 4);
  t.equal(arrayElementBounds(b('~2\r\n+a\r\n+b\r\n'), 0, 12, out), 2, 'a RESP3 set too');
  t.equal(arrayElementBounds(b('*-1\r\n'), 0, 5, out), -1, 'null array');
  t.equal(arrayElementBounds(b('+OK\r\n'), 0, 5, out), -1, 'not an array');
  t.equal(arrayElementBounds(b('*2\r\n:1\r\n'), 0, 8, out), -1, 'truncated');
  t.equal(arrayElementBounds(b('*2\r\n:1\r\n?\r\n'), 0, 11, out), -1, 'malformed element');
  t.equal(arrayElementBounds(b('*9\r\n'), 0, 4, new Int32Array(3)), -2, 'out too small');
  t.equal(arrayElementBounds(b('*2\r\n:1\r\n:2\r\n'), 0, 12, out), 2, 'the helper scanner recovered from the failures');
});

t.test('readIntegerReply', async (t) => {
  t.equal(readIntegerReply(b(':123\r\n'), 0, 6), 123);
  t.equal(readIntegerReply(b(':-7\r\n'), 0, 5), -7);
  t.equal(readIntegerReply(b(':0\r\n'), 0, 4), 0);
  t.equal(readIntegerReply(b('xx:42\r\n'), 2, 7), 42);
  t.ok(Number.isNaN(readIntegerReply(b('+OK\r\n'), 0, 5)));
  t.ok(Number.isNaN(readIntegerReply(b(':12'), 0, 3)), 'truncated');
  t.ok(Number.isNaN(readIntegerReply(b(':\r\n'), 0, 3)), 'no digits');
  t.ok(Number.isNaN(readIntegerReply(b(':1x\r\n'), 0, 5)), 'junk');
  t.ok(Number.isNaN(readIntegerReply(b(':123\r\n'), 0, 5)), 'CRLF beyond end');
});

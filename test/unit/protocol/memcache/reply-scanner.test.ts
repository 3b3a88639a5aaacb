// MemcacheReplyScanner against replies of every kind, each whole and split at every byte, plus valueBounds.
// Replies are written as memcached 1.6 sends them (checked live in memcached-compare.test.ts).
import t from 'tap';
import {
  MemcacheReplyScanner, SCAN_INCOMPLETE, SCAN_ERROR, RK_ANY, RK_STORAGE, RK_RETRIEVAL, RK_DELETE, RK_ARITHMETIC,
  RK_TOUCH, RK_OK, RK_VERSION, RK_STATS, RK_META, RK_META_DEBUG, RK_MN, replyKindFor, valueBounds, valueKeyEnd,
  isErrorReply, CMD_GET, CMD_GATS, CMD_CAS, CMD_MS, CMD_ME, CMD_MN, CMD_FLUSH_ALL, CMD_INCR, CMD_QUIT, CMD_INVALID,
} from '../../../../src/protocol/memcache/index.ts';
import { feedReplies, cut, splitPoints, b } from './mc-feed.ts';

interface Fixture {
  name: string;
  kinds: number[];
  replies: string[];
  /** Expected items when they differ from `replies` ('!' marks an error reply). */
  items?: string[];
  end?: string;
  input?: string;
}

const big = 'x'.repeat(70_000);
const fixtures: Fixture[] = [
  { name: 'storage replies', kinds: [RK_STORAGE], replies: ['STORED\r\n', 'NOT_STORED\r\n', 'EXISTS\r\n', 'NOT_FOUND\r\n'] },
  { name: 'retrieval: miss', kinds: [RK_RETRIEVAL], replies: ['END\r\n'] },
  { name: 'retrieval: values with CRLF, END and VALUE inside', kinds: [RK_RETRIEVAL], replies: ['VALUE a 0 5\r\n\r\nEND\r\nVALUE b 4294967295 13 77\r\nVALUE x 0 1\r\n\r\nEND\r\n', 'VALUE k\t\x01 1 0\r\n\r\nEND\r\n'] },
  { name: 'retrieval: a big value', kinds: [RK_RETRIEVAL], replies: [`VALUE big 0 ${big.length}\r\n${big}\r\nVALUE s 0 1\r\nz\r\nEND\r\n`] },
  { name: 'retrieval: an error instead, or after values', kinds: [RK_RETRIEVAL], replies: ['CLIENT_ERROR bad command line format\r\n', 'VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory writing get response\r\n'], items: ['!CLIENT_ERROR bad command line format\r\n', '!VALUE a 0 1\r\nx\r\nSERVER_ERROR out of memory writing get response\r\n'] },
  { name: 'delete, touch, ok, version', kinds: [RK_DELETE, RK_DELETE, RK_TOUCH, RK_TOUCH, RK_OK, RK_VERSION], replies: ['DELETED\r\n', 'NOT_FOUND\r\n', 'TOUCHED\r\n', 'NOT_FOUND\r\n', 'OK\r\n', 'VERSION 1.6.18\r\n'] },
  { name: 'arithmetic', kinds: [RK_ARITHMETIC], replies: ['0\r\n', '18446744073709551615\r\n', 'NOT_FOUND\r\n'] },
  { name: 'error lines for any kind', kinds: [RK_STORAGE, RK_META, RK_MN, RK_ARITHMETIC], replies: ['ERROR\r\n', 'CLIENT_ERROR invalid flag\r\n', 'SERVER_ERROR out of memory\r\n', 'ERROR: shutdown not enabled\r\n'], items: ['!ERROR\r\n', '!CLIENT_ERROR invalid flag\r\n', '!SERVER_ERROR out of memory\r\n', '!ERROR: shutdown not enabled\r\n'] },
  { name: 'stats', kinds: [RK_STATS], replies: ['STAT pid 1\r\nSTAT uptime 2\r\nEND\r\n', 'END\r\n', 'RESET\r\n', 'OK\r\n', 'ITEM k [1 b; 0 s]\r\nEND\r\n'] },
  { name: 'meta', kinds: [RK_META], replies: ['HD\r\n', 'HD c5 O1 kfoo\r\n', 'EN\r\n', 'NF O9\r\n', 'NS\r\n', 'EX\r\n', 'OK\r\n', 'VA 3 f0 O12\r\nabc\r\n', 'VA 0\r\n\r\n', 'VA 2\r\n\r\n\r\n'] },
  { name: 'meta debug and mn', kinds: [RK_META_DEBUG, RK_META_DEBUG, RK_MN], replies: ['ME k exp=-1 la=2 cas=3 fetch=no cls=1 size=63\r\n', 'EN\r\n', 'MN\r\n'] },
  { name: 'any: recognised by the first line', kinds: [RK_ANY], replies: ['STORED\r\n', 'VALUE a 0 1\r\nx\r\nEND\r\n', 'STAT a b\r\nEND\r\n', 'VA 1 t-1\r\nz\r\n', '42\r\n', 'END\r\n', 'MN\r\n'] },
  { name: 'partial reply at the end', kinds: [RK_RETRIEVAL], replies: ['END\r\n'], input: 'END\r\nVALUE a 0 10\r\nabc', end: 'incomplete' },
  { name: 'wrong reply for the kind', kinds: [RK_STORAGE], replies: [], input: 'DELETED\r\n', end: 'error' },
  { name: 'retrieval: junk between values', kinds: [RK_RETRIEVAL], replies: [], input: 'VALUE a 0 1\r\nx\r\nSTORED\r\n', end: 'error' },
  { name: 'retrieval: data not followed by CRLF', kinds: [RK_RETRIEVAL], replies: [], input: 'VALUE a 0 1\r\nxy\r\nEND\r\n', end: 'error' },
  { name: 'retrieval: bad VALUE lines', kinds: [RK_RETRIEVAL], replies: [], input: 'VALUE a 0\r\n', end: 'error' },
  { name: 'bare LF', kinds: [RK_ANY], replies: [], input: 'STORED\n', end: 'error' },
  { name: 'empty line', kinds: [RK_ANY], replies: [], input: '\r\n', end: 'error' },
  { name: 'meta: unknown code', kinds: [RK_META], replies: [], input: 'HX\r\n', end: 'error' },
  { name: 'meta: VA without a size', kinds: [RK_META], replies: [], input: 'VA x\r\n', end: 'error' },
  { name: 'mn: anything else', kinds: [RK_MN], replies: [], input: 'HD\r\n', end: 'error' },
];

for (const fx of fixtures) {
  const input = b(fx.input ?? fx.replies.join(''));
  const items = fx.items ?? fx.replies;
  const end = fx.end ?? 'clean';
  t.test(fx.name, async (t) => {
    const whole = feedReplies([input], fx.kinds);
    t.same(whole.violations, [], 'no contract violation, whole');
    t.same(whole.items, items, 'replies, whole');
    t.equal(whole.end, end, 'end state, whole');
    let bad = 0;
    for (const k of splitPoints(input.length, 2048)) {
      const split = feedReplies(cut(input, [k]), fx.kinds);
      if (split.violations.length > 0 || split.end !== end || JSON.stringify(split.items) !== JSON.stringify(items)) {
        if (bad++ < 3) t.fail(`split at ${k}: ${JSON.stringify({ v: split.violations, end: split.end, n: split.items.length })}`);
      }
    }
    t.equal(bad, 0, 'same outcome at every split point');
    if (input.length <= 4096) {
      const bytes = feedReplies(cut(input, splitPoints(input.length, 1 << 30)), fx.kinds);
      t.same(bytes.violations, [], 'no contract violation, byte by byte');
      t.same(bytes.items, items, 'replies, byte by byte');
      t.equal(bytes.end, end, 'end state, byte by byte');
    }
  });
}

t.test('expect() sets the kind for the following scans; the unit reports what it was', async (t) => {
  const s = new MemcacheReplyScanner();
  const buf = b('VALUE a 0 1\r\nx\r\nVALUE b 0 2\r\nyy\r\nEND\r\nSTORED\r\n');
  s.expect(RK_RETRIEVAL);
  t.equal(s.scan(buf, 0, buf.length), 38);
  t.same([s.kind, s.items, s.isError], [RK_RETRIEVAL, 2, false]);
  t.equal(s.scan(buf, 38, buf.length), SCAN_ERROR, 'STORED is no retrieval reply');
  s.expect(RK_STORAGE);
  t.equal(s.scan(buf, 38, buf.length), buf.length);
  t.equal(s.scan(buf, 0, buf.length, RK_ANY), 38, 'an explicit kind wins');
});

t.test('needed: exact inside a value, a lower bound elsewhere', async (t) => {
  const s = new MemcacheReplyScanner();
  const reply = b('VALUE k 0 1000\r\n' + 'v'.repeat(1000) + '\r\nEND\r\n');
  t.equal(s.scan(reply, 0, 10, RK_RETRIEVAL), SCAN_INCOMPLETE);
  t.ok(s.needed > 10 && s.needed <= reply.length);
  t.equal(s.scan(reply, 0, 20, RK_RETRIEVAL), SCAN_INCOMPLETE);
  t.equal(s.needed, reply.length, 'the value and the END line');
  const va = b('VA 500 f1\r\n' + 'w'.repeat(500) + '\r\n');
  t.equal(s.scan(va, 0, 15, RK_META), SCAN_INCOMPLETE);
  s.reset();
  t.equal(s.scan(va, 0, 15, RK_META), SCAN_INCOMPLETE);
  t.equal(s.needed, va.length);
  t.equal(s.scan(va, 0, va.length, RK_META), va.length);
});

t.test('a 1 MiB value in 64 KiB chunks is scanned in O(1) per chunk', async (t) => {
  const len = 1024 * 1024;
  const head = b(`VALUE big 0 ${len}\r\n`);
  const reply = Buffer.alloc(head.length + len + 7, 0x61);
  head.copy(reply, 0);
  b('\r\nEND\r\n').copy(reply, head.length + len);
  let reads = 0;
  const view = new Proxy(reply, {
    get(target, prop) {
      if (typeof prop === 'string' && prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57) reads++;
      return target[prop as unknown as number];
    },
  }) as Buffer;
  const s = new MemcacheReplyScanner();
  let r = 0;
  for (let k = 65536; ; k = Math.min(k + 65536, reply.length)) {
    r = s.scan(view, 0, k, RK_RETRIEVAL);
    if (r !== SCAN_INCOMPLETE) break;
    t.equal(s.needed, reply.length);
  }
  t.equal(r, reply.length);
  t.ok(reads < 200, `bytes read ${reads}`);
});

t.test('limits: line length and value size', async (t) => {
  const s = new MemcacheReplyScanner({ maxLineBytes: 20, maxValueBytes: 10 });
  const line = (n: number): Buffer => b('STAT ' + 'x'.repeat(n - 5) + '\r\nEND\r\n');
  t.equal(s.scan(line(20), 0, 27, RK_STATS), 27);
  t.equal(s.scan(line(21), 0, 28, RK_STATS), SCAN_ERROR);
  t.equal(s.scan(b('x'.repeat(22)), 0, 22, RK_ANY), SCAN_ERROR, 'no CR LF within the limit');
  t.equal(s.scan(b('VALUE k 0 10\r\n'), 0, 14, RK_RETRIEVAL), SCAN_INCOMPLETE);
  s.reset();
  t.equal(s.scan(b('VALUE k 0 11\r\n'), 0, 14, RK_RETRIEVAL), SCAN_ERROR);
  t.equal(s.scan(b('VA 11\r\n'), 0, 7, RK_META), SCAN_ERROR);
});

t.test('valueBounds lists each VALUE item and the END line', async (t) => {
  const reply = b('VALUE a 0 1\r\nx\r\nVALUE bb 3 2 99\r\nyy\r\nEND\r\n');
  const out = new Int32Array(3);
  t.equal(valueBounds(reply, 0, reply.length, out), 2);
  t.same(Array.from(out), [0, 16, 37]);
  t.equal(reply.subarray(out[1], out[2]).toString(), 'VALUE bb 3 2 99\r\nyy\r\n');
  t.equal(valueKeyEnd(reply, out[1], reply.length), 24);
  t.equal(reply.subarray(out[1] + 6, 24).toString(), 'bb');
  t.equal(valueBounds(reply, 0, reply.length, new Int32Array(2)), -2, 'out too small');
  t.equal(valueBounds(b('END\r\n'), 0, 5, out), 0);
  t.equal(valueBounds(b('SERVER_ERROR x\r\n'), 0, 16, out), -1);
  t.equal(valueBounds(reply, 0, reply.length - 1, out), -1, 'truncated');
  t.equal(valueKeyEnd(b('STORED\r\n'), 0, 8), -1);
});

t.test('isErrorReply and replyKindFor', async (t) => {
  t.ok(isErrorReply(b('ERROR\r\n'), 0, 7));
  t.ok(isErrorReply(b('CLIENT_ERROR bad data chunk\r\n'), 0, 29));
  t.ok(isErrorReply(b('SERVER_ERROR Storage: Connection refused\r\n'), 0, 42));
  t.notOk(isErrorReply(b('END\r\n'), 0, 5));
  t.notOk(isErrorReply(b('EN\r\n'), 0, 4));
  t.same(
    [CMD_GET, CMD_GATS, CMD_CAS, CMD_MS, CMD_ME, CMD_MN, CMD_FLUSH_ALL, CMD_INCR, CMD_QUIT, CMD_INVALID].map(replyKindFor),
    [RK_RETRIEVAL, RK_RETRIEVAL, RK_STORAGE, RK_META, RK_META_DEBUG, RK_MN, RK_OK, RK_ARITHMETIC, RK_ANY, RK_ANY],
  );
});

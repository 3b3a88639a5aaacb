// MemcacheRequestParser's contract: offsets into the caller's buffer, `needed`, linear resumption, limits, reset.
// These are the promises the proxy's connection code relies on, so each is checked on its own.
import t from 'tap';
import {
  MemcacheRequestParser, PARSE_INCOMPLETE, PARSE_ERROR, CMD_GET, CMD_SET, CMD_MG, CMD_MS, CMD_INVALID, ERR_CLIENT,
  ERR_ERROR, ERR_SERVER, ERR_CLOSE, DEFAULT_MEMCACHE_LIMITS, decodeBase64Key, requestErrorReply, MSG_TOO_MANY_KEYS,
} from '../../../../src/protocol/memcache/index.ts';
import { feedRequests, cut, countingView, b } from './mc-feed.ts';

t.test('offsets point into the caller buffer', async (t) => {
  const p = new MemcacheRequestParser();
  const buf = b('xxget a bb\r\nms key 3 O42 q T5\r\nabc\r\n');
  t.equal(p.parse(buf, 2, buf.length), 12);
  t.equal(p.cmd, CMD_GET);
  t.equal(p.frameStart, 2);
  t.same([p.keyCount, p.keyOff[0], p.keyLen[0], p.keyOff[1], p.keyLen[1]], [2, 6, 1, 8, 2]);
  t.equal(p.lineEnd, 12);
  t.equal(p.dataLen, -1);
  const r = p.parse(buf, 12, buf.length);
  t.equal(r, buf.length);
  t.equal(p.cmd, CMD_MS);
  t.same([p.keyOff[0], p.keyLen[0]], [15, 3]);
  t.same([p.opaqueOff, p.opaqueLen], [22, 2]);
  t.equal(buf.subarray(p.flagsStart, p.flagsEnd).toString(), 'O42 q T5');
  t.same([p.lineEnd, p.dataStart, p.dataLen], [31, 31, 3]);
  t.ok(p.quiet);
  t.ok(p.hasMetaFlag(0x71) && p.hasMetaFlag(0x54) && p.hasMetaFlag(0x4f));
  t.notOk(p.hasMetaFlag(0x76) || p.hasMetaFlag(0x21));
});

t.test('offsets after resuming in a data block are relative to the re-presented frame', async (t) => {
  const p = new MemcacheRequestParser();
  const frame = b('ms kk 5 O9\r\nhello\r\n');
  const first = Buffer.concat([b('junk'), frame.subarray(0, 14)]);
  t.equal(p.parse(first, 4, first.length), PARSE_INCOMPLETE);
  t.equal(p.frameStart, 4);
  t.equal(p.needed, frame.length, 'exact once the data length is known');
  const again = Buffer.concat([b('zz'), frame]);
  t.equal(p.parse(again, 2, again.length), again.length);
  t.same([p.frameStart, p.keyOff[0], p.opaqueOff, p.lineEnd, p.dataStart], [2, 5, 11, 14, 14]);
  t.equal(again.subarray(p.dataStart, p.dataStart + p.dataLen).toString(), 'hello');
});

t.test('needed: a lower bound while reading the line, exact in the data block', async (t) => {
  const p = new MemcacheRequestParser();
  const frame = b('set key 0 0 1000\r\n' + 'v'.repeat(1000) + '\r\n');
  t.equal(p.parse(frame, 0, 5), PARSE_INCOMPLETE);
  t.ok(p.needed > 5 && p.needed <= frame.length);
  t.equal(p.parse(frame, 0, 30), PARSE_INCOMPLETE);
  t.equal(p.needed, frame.length);
  t.equal(p.parse(frame, 0, frame.length), frame.length);
});

t.test('a 1 MiB value in 64 KiB chunks is read in O(1) per chunk', async (t) => {
  const len = 1024 * 1024;
  const head = b(`set big 0 0 ${len}\r\n`);
  const frame = Buffer.alloc(head.length + len + 2, 0x61);
  head.copy(frame, 0);
  frame[frame.length - 2] = 13;
  frame[frame.length - 1] = 10;
  const { view, reads } = countingView(frame);
  const p = new MemcacheRequestParser();
  let calls = 0;
  let inexact = 0;
  let r = 0;
  for (let k = 65536; ; k = Math.min(k + 65536, frame.length)) {
    calls++;
    r = p.parse(view, 0, k);
    if (r !== PARSE_INCOMPLETE) break;
    if (p.needed !== frame.length) inexact++;
  }
  t.equal(r, frame.length);
  t.equal(p.cmd, CMD_SET);
  t.equal(p.dataLen, len);
  t.equal(inexact, 0, 'needed is exact at every chunk');
  t.ok(calls >= 16);
  t.ok(reads() < 200, `bytes read ${reads()} over ${calls} calls`);
});

t.test('a long multi-get line arriving in small chunks is read in linear time', async (t) => {
  const keys: string[] = [];
  for (let i = 0; i < 10_000; i++) keys.push(`key:${i}`);
  const frame = b('get ' + keys.join(' ') + '\r\n');
  const { view, reads } = countingView(frame);
  const p = new MemcacheRequestParser();
  let r = 0;
  for (let k = 100; ; k = Math.min(k + 100, frame.length)) {
    r = p.parse(view, 0, k);
    if (r !== PARSE_INCOMPLETE) break;
  }
  t.equal(r, frame.length);
  t.equal(p.keyCount, 10_000);
  t.equal(frame.subarray(p.keyOff[9999], p.keyOff[9999] + p.keyLen[9999]).toString(), 'key:9999');
  t.ok(reads() < 3 * frame.length, `bytes read ${reads()} for a ${frame.length}-byte line`);
});

t.test('a refused data block is discarded without being buffered', async (t) => {
  const p = new MemcacheRequestParser();
  const line = b('set k 0 0 5000000\r\n');
  const r = p.parse(line, 0, line.length);
  t.equal(r, line.length);
  t.equal(p.cmd, CMD_INVALID);
  t.equal(p.errorKind, ERR_SERVER);
  t.equal(requestErrorReply(p.errorMessage).toString(), 'SERVER_ERROR object too large for cache\r\n');
  t.equal(p.swallowing, 5_000_002);
  const chunk = Buffer.alloc(65536, 0x78);
  let chunks = 0;
  while (p.swallowing > 65536) {
    t.equal(p.parse(chunk, 0, chunk.length), PARSE_INCOMPLETE);
    t.equal(p.frameStart, chunk.length, 'nothing to keep');
    chunks++;
  }
  const tail = Buffer.concat([Buffer.alloc(p.swallowing, 0x78), b('get k\r\n')]);
  t.equal(p.parse(tail, 0, tail.length), tail.length);
  t.equal(p.cmd, CMD_GET);
  t.equal(p.frameStart, tail.length - 7);
  t.ok(chunks > 70);
});

t.test('limits: key length, line length, value size, key count', async (t) => {
  const limits = { maxKeyLength: 4, maxLineBytes: 30, maxValueBytes: 10, maxKeys: 3 };
  const run = (s: string): string => {
    const out = feedRequests([b(s)], new MemcacheRequestParser(limits));
    return [...out.items, out.end].join(' | ');
  };
  t.equal(run('get abcd\r\n'), 'get abcd | clean');
  t.equal(run('get abcde\r\n'), '! CLIENT_ERROR bad command line format | clean');
  t.equal(run('set k 0 0 10\r\n0123456789\r\n'), 'set k <0123456789> | clean');
  t.equal(run('set k 0 0 11\r\n0123456789a\r\nmn\r\n'), '! SERVER_ERROR object too large for cache key=k | mn | clean');
  t.equal(run('get a b c\r\n'), 'get a b c | clean');
  t.equal(run('get a b c d\r\n'), `! ${MSG_TOO_MANY_KEYS} | clean`);
  t.equal(run('gat 0 a b c d e\r\n'), `! ${MSG_TOO_MANY_KEYS} | clean`);
  t.equal(run('x'.repeat(30) + '\n'), '! ERROR | clean');
  t.equal(run('x'.repeat(31) + '\n'), 'close: command line too long');
  // get lines may reach maxLineBytes + maxKeys * (maxKeyLength + 1) = 45 bytes before the newline.
  t.equal(run('get a b c' + ' '.repeat(36) + '\n'), 'get a b c | clean');
  t.equal(run('get a b c' + ' '.repeat(37) + '\n'), 'close: command line too long');
  t.same(DEFAULT_MEMCACHE_LIMITS, { maxKeyLength: 250, maxLineBytes: 2048, maxValueBytes: 1048576, maxKeys: 16384 });
});

t.test('error kinds', async (t) => {
  const p = new MemcacheRequestParser();
  const kinds = (s: string): number => {
    p.reset();
    const buf = b(s);
    p.parse(buf, 0, buf.length);
    return p.errorKind;
  };
  t.equal(kinds('bogus\r\n'), ERR_ERROR);
  t.equal(kinds('get ' + 'k'.repeat(251) + '\r\n'), ERR_CLIENT);
  t.equal(kinds('set k 0 0 2000000\r\n'), ERR_SERVER);
  t.equal(kinds('GET / HTTP/1.1\r\n'), ERR_CLOSE);
  t.equal(kinds('get k\r\n'), 0);
});

t.test('binary magic closes only as the first byte of the connection', async (t) => {
  const p = new MemcacheRequestParser();
  const bin = Buffer.from([0x80, 0x00]);
  t.equal(p.parse(bin, 0, 2), PARSE_ERROR);
  const q = new MemcacheRequestParser();
  const buf = b('mn\r\n\x80x\r\n');
  t.equal(q.parse(buf, 0, buf.length), 4);
  t.equal(q.parse(buf, 4, buf.length), buf.length);
  t.equal(q.errorMessage, 'ERROR');
  const fresh = new MemcacheRequestParser();
  t.equal(fresh.parse(buf, 0, 0), PARSE_INCOMPLETE, 'no bytes: nothing seen yet');
  t.equal(fresh.parse(bin, 0, 2), PARSE_ERROR);
});

t.test('base64 keys decode like memcached, into the scratch buffer', async (t) => {
  const dec = (s: string): string => {
    const out = new Uint8Array(64);
    const n = decodeBase64Key(b(s), 0, s.length, out, 0);
    return n < 0 ? 'fail' : Buffer.from(out.subarray(0, n)).toString('hex');
  };
  t.equal(dec('Zm9vYmFy'), Buffer.from('foobar').toString('hex'));
  t.equal(dec('Zm9vYg=='), Buffer.from('foob').toString('hex'));
  t.equal(dec('Zm9vYmE='), Buffer.from('fooba').toString('hex'));
  t.equal(dec('Zm9v\x01YmFy'), Buffer.from('foobar').toString('hex'), 'bytes outside the alphabet are skipped');
  t.equal(dec('Zm9vYg==Zm9v'), Buffer.from('foob').toString('hex'), 'stops after the padded block');
  t.equal(dec('a='), 'fail');
  t.equal(dec('a==='), 'fail');
  t.equal(dec('===='), 'fail');
  t.equal(dec('!!!!'), 'fail');
  t.equal(dec(''), 'fail');
  const p = new MemcacheRequestParser();
  const buf = b('mg Zm9vYmFy b v\r\n');
  t.equal(p.parse(buf, 0, buf.length), buf.length);
  t.equal(p.cmd, CMD_MG);
  t.ok(p.keyBinary);
  t.equal(Buffer.from(p.decodedKey.subarray(0, p.decodedKeyLen)).toString(), 'foobar');
  t.equal(buf.subarray(p.keyOff[0], p.keyOff[0] + p.keyLen[0]).toString(), 'Zm9vYmFy', 'the key as sent');
});

t.test('reset drops partial frames and discarding; the parser is reusable after a close', async (t) => {
  const p = new MemcacheRequestParser();
  t.equal(p.parse(b('set k 0 0 5\r\nab'), 0, 15), PARSE_INCOMPLETE);
  p.reset();
  const get = b('get a\r\n');
  t.equal(p.parse(get, 0, get.length), get.length);
  t.equal(p.parse(b('set k 0 0 9999999\r\n'), 0, 19), 19);
  t.ok(p.swallowing > 0);
  p.reset();
  t.equal(p.swallowing, 0);
  t.equal(p.parse(get, 0, get.length), get.length);
  t.equal(p.parse(b('x'.repeat(3000)), 0, 3000), PARSE_ERROR);
  p.reset();
  t.equal(p.parse(get, 0, get.length), get.length);
  t.equal(p.cmd, CMD_GET);
});

t.test('presenting fewer bytes than before restarts instead of reading past end', async (t) => {
  const p = new MemcacheRequestParser();
  const frame = b('set k 0 0 5\r\nvalue\r\n');
  t.equal(p.parse(frame, 0, frame.length - 3), PARSE_INCOMPLETE);
  t.equal(p.parse(frame, 0, 6), PARSE_INCOMPLETE);
  t.equal(p.parse(frame, 0, frame.length), frame.length);
  t.equal(p.dataLen, 5);
});

t.test('a pipeline of thousands of commands, whole and in random chunks', async (t) => {
  const pieces: Buffer[] = [];
  const expected: string[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i % 3 === 0) {
      const v = 'z'.repeat((i * 37) % 300);
      pieces.push(b(`set k${i} 0 0 ${v.length}\r\n${v}\r\n`));
      expected.push(v.length <= 40 ? `set k${i} <${v}>` : '');
    } else if (i % 3 === 1) {
      pieces.push(b(`get k${i} k${i + 1}\r\n`));
      expected.push(`get k${i} k${i + 1}`);
    } else {
      pieces.push(b(`mg k${i} v q O${i}\r\n`));
      expected.push(`mg k${i} [q] O=${i}`);
    }
  }
  const input = Buffer.concat(pieces);
  let seed = 7;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const whole = feedRequests([input]);
  t.same(whole.violations, []);
  t.equal(whole.items.length, 3000);
  t.same(whole.items.filter((_, i) => expected[i] !== ''), expected.filter((e) => e !== ''));
  for (let round = 0; round < 4; round++) {
    const cuts: number[] = [];
    for (let p = rand(300) + 1; p < input.length; p += rand(round === 0 ? 6 : 3000) + 1) cuts.push(p);
    const out = feedRequests(cut(input, cuts));
    t.same(out.violations, [], `round ${round}: no violation`);
    t.same(out.items, whole.items, `round ${round}: same frames`);
  }
});

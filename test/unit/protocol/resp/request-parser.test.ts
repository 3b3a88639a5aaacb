// RespRequestParser against fixtures of every request shape and error, each whole and split at every byte.
// Expected frames and messages come from Redis's networking.c behaviour, written out by hand.
import t from 'tap';
import { RespRequestParser, PARSE_INCOMPLETE, PARSE_ERROR, DEFAULT_RESP_LIMITS } from '../../../../src/protocol/resp/index.ts';
import { feedRequests, encodeCommand, cut, splitPoints } from './resp-feed.ts';

interface Fixture {
  name: string;
  input: Buffer;
  /** Expected frames: arguments, and '!' as the first entry marks an inline frame. */
  frames: string[][];
  end: string;
}

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const E = (m: string): string => `error: Protocol error: ${m}`;

const big = 'v'.repeat(100_000) + '\r\n$3\r\n' + 'w'.repeat(5000);
const valid: Fixture[] = [
  { name: 'GET', input: encodeCommand(['GET', 'key']), frames: [['GET', 'key']], end: 'clean' },
  { name: 'one argument', input: encodeCommand(['PING']), frames: [['PING']], end: 'clean' },
  { name: 'empty argument', input: encodeCommand(['SET', 'k', '']), frames: [['SET', 'k', '']], end: 'clean' },
  { name: 'binary value with CRLF and NUL inside', input: encodeCommand(['SET', 'k', 'a\r\nb\0c\r\n*1\r\n$']), frames: [['SET', 'k', 'a\r\nb\0c\r\n*1\r\n$']], end: 'clean' },
  { name: 'big value (100 KB)', input: encodeCommand(['SET', 'k', big]), frames: [['SET', 'k', big]], end: 'clean' },
  { name: 'all 256 byte values as a key', input: encodeCommand(['GET', String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))]), frames: [['GET', String.fromCharCode(...Array.from({ length: 256 }, (_, i) => i))]], end: 'clean' },
  { name: 'pipeline of three', input: Buffer.concat([encodeCommand(['SET', 'a', '1']), encodeCommand(['GET', 'a']), encodeCommand(['DEL', 'a', 'b', 'c'])]), frames: [['SET', 'a', '1'], ['GET', 'a'], ['DEL', 'a', 'b', 'c']], end: 'clean' },
  { name: '*0 and *-1 are skipped', input: b('*0\r\n*-1\r\n*-5\r\n*1\r\n$4\r\nPING\r\n*0\r\n'), frames: [['PING']], end: 'clean' },
  { name: 'empty lines are skipped', input: b('\r\n\n  \t\r\n*1\r\n$4\r\nPING\r\n\r\n'), frames: [['PING']], end: 'clean' },
  { name: 'inline CRLF', input: b('PING\r\n'), frames: [['!', 'PING']], end: 'clean' },
  { name: 'inline LF only', input: b('PING\n'), frames: [['!', 'PING']], end: 'clean' },
  { name: 'inline blanks', input: b(' \t set   a\tb  \r\n'), frames: [['!', 'set', 'a', 'b']], end: 'clean' },
  { name: 'inline double quotes and escapes', input: b('set "a b" "\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\"\\q\\xZZ"\r\n'), frames: [['!', 'set', 'a b', 'AJ\n\r\t\b\x07\\"qxZZ']], end: 'clean' },
  { name: 'inline single quotes', input: b("set 'it\\'s' 'a\\nb' ''\r\n"), frames: [['!', 'set', "it's", 'a\\nb', '']], end: 'clean' },
  { name: 'inline quote inside a word', input: b('a"b c" d\n'), frames: [['!', 'ab c', 'd']], end: 'clean' },
  { name: 'inline empty quoted argument', input: b('echo ""\r\n'), frames: [['!', 'echo', '']], end: 'clean' },
  { name: 'inline CR inside the line splits', input: b('get a\rb\n'), frames: [['!', 'get', 'a', 'b']], end: 'clean' },
  { name: 'inline vertical tab: skipped between, kept inside', input: b('\x0bget\x0bx\x0c \x0c\r\n'), frames: [['!', 'get\x0bx\x0c']], end: 'clean' },
  { name: 'inline then multibulk', input: b('PING\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\nQUIT\n'), frames: [['!', 'PING'], ['GET', 'k'], ['!', 'QUIT']], end: 'clean' },
  { name: 'partial frame at the end', input: b('*1\r\n$4\r\nPING\r\n*2\r\n$3\r\nGET\r\n$1\r\n'), frames: [['PING']], end: 'incomplete' },
  { name: 'inline line with NUL waits (Redis strchr)', input: b('PING\0\r\n'), frames: [], end: 'incomplete' },
];

const errors: Fixture[] = [
  { name: 'count not a number', input: b('*abc\r\n'), frames: [], end: E('invalid multibulk length') },
  { name: 'count empty', input: b('*\r\n'), frames: [], end: E('invalid multibulk length') },
  { name: 'count leading zero', input: b('*01\r\n$1\r\na\r\n'), frames: [], end: E('invalid multibulk length') },
  { name: 'count -0', input: b('*-0\r\n'), frames: [], end: E('invalid multibulk length') },
  { name: 'count "-"', input: b('*-\r\n'), frames: [], end: E('invalid multibulk length') },
  { name: 'count CR without LF', input: b('*1\rX'), frames: [], end: E('invalid multibulk length') },
  { name: 'count above maxArgs', input: b('*1048577\r\n'), frames: [], end: E('invalid multibulk length') },
  { name: 'count below -2^63', input: b('*-9999999999999999999\r\n'), frames: [], end: E('invalid multibulk length') },
  { name: 'count string too long', input: b('*' + '1'.repeat(21)), frames: [], end: E('too big mbulk count string') },
  { name: 'expected $', input: b('*1\r\nx\r\n'), frames: [], end: `${E("expected '$', got 'x'")}` },
  { name: 'expected $, got CR', input: b('*1\r\n\r\n'), frames: [], end: `${E("expected '$', got ' '")}` },
  { name: 'bulk length not a number', input: b('*1\r\n$abc\r\n'), frames: [], end: E('invalid bulk length') },
  { name: 'bulk length negative', input: b('*1\r\n$-1\r\n'), frames: [], end: E('invalid bulk length') },
  { name: 'bulk length leading zero', input: b('*1\r\n$01\r\na\r\n'), frames: [], end: E('invalid bulk length') },
  { name: 'bulk length empty', input: b('*1\r\n$\r\n'), frames: [], end: E('invalid bulk length') },
  { name: 'bulk length CR without LF', input: b('*1\r\n$3\rX'), frames: [], end: E('invalid bulk length') },
  { name: 'bulk above 512 MiB', input: b('*1\r\n$536870913\r\n'), frames: [], end: E('invalid bulk length') },
  { name: 'bulk length string too long', input: b('*1\r\n$' + '9'.repeat(21)), frames: [], end: E('too big bulk count string') },
  { name: 'bulk not followed by CRLF', input: b('*1\r\n$3\r\nabcX\r\n'), frames: [], end: E('expected CRLF after bulk data') },
  { name: 'bulk followed by CR and not LF', input: b('*1\r\n$3\r\nabc\rX'), frames: [], end: E('expected CRLF after bulk data') },
  { name: 'bulk followed by LF only', input: b('*2\r\n$3\r\nabc\n$1\r\na\r\n'), frames: [], end: E('expected CRLF after bulk data') },
  { name: 'error after good frames', input: b('*1\r\n$4\r\nPING\r\nPING\r\n*x\r\n'), frames: [['PING'], ['!', 'PING']], end: E('invalid multibulk length') },
  { name: 'unterminated double quote', input: b('set "abc\r\n'), frames: [], end: E('unbalanced quotes in request') },
  { name: 'unterminated single quote', input: b("set 'abc\n"), frames: [], end: E('unbalanced quotes in request') },
  { name: 'closing quote followed by a letter', input: b('set "a"b\r\n'), frames: [], end: E('unbalanced quotes in request') },
  { name: 'closing single quote followed by a letter', input: b("set 'a'b\r\n"), frames: [], end: E('unbalanced quotes in request') },
  { name: 'escaped closing quote', input: b('set "a\\"\r\n'), frames: [], end: E('unbalanced quotes in request') },
  { name: 'inline line without newline past 64 KiB', input: b('x'.repeat(65537)), frames: [], end: E('too big inline request') },
  { name: 'inline line of 64 KiB + CR before LF', input: b('x'.repeat(65536) + '\r\n'), frames: [], end: E('too big inline request') },
  { name: 'inline line with NUL past 64 KiB', input: b('PING\0' + 'x'.repeat(65533) + '\n'), frames: [], end: E('too big inline request') },
];

function render(out: { items: { args: string[]; inline: boolean }[] }): string[][] {
  return out.items.map((f) => (f.inline ? ['!', ...f.args] : f.args));
}

for (const fx of [...valid, ...errors]) {
  t.test(fx.name, async (t) => {
    const whole = feedRequests([fx.input]);
    t.same(whole.violations, [], 'no contract violation, whole');
    t.same(render(whole), fx.frames, 'frames, whole');
    t.equal(whole.end, fx.end, 'end state, whole');
    let bad = 0;
    for (const k of splitPoints(fx.input.length, 2048)) {
      const split = feedRequests(cut(fx.input, [k]));
      if (split.violations.length > 0 || split.end !== fx.end || JSON.stringify(render(split)) !== JSON.stringify(fx.frames)) {
        if (bad++ < 3) t.fail(`split at ${k}: ${JSON.stringify({ v: split.violations, end: split.end, frames: render(split).length })}`);
      }
    }
    t.equal(bad, 0, 'same outcome at every split point');
    // One byte at a time: the most chunked the proxy can see.
    if (fx.input.length <= 4096) {
      const bytes = feedRequests(cut(fx.input, splitPoints(fx.input.length, 1 << 30)));
      t.same(bytes.violations, [], 'no contract violation, byte by byte');
      t.same(render(bytes), fx.frames, 'frames, byte by byte');
      t.equal(bytes.end, fx.end, 'end state, byte by byte');
    }
  });
}

t.test('inline line of exactly 64 KiB is accepted', async (t) => {
  const line = 'x'.repeat(65536);
  const out = feedRequests([b(line + '\n')]);
  t.equal(out.end, 'clean');
  t.equal(out.items[0].args[0].length, 65536);
});

t.test('a pipeline of thousands of commands in one chunk', async (t) => {
  const cmds: string[][] = [];
  for (let i = 0; i < 5000; i++) cmds.push(i % 3 === 0 ? ['SET', `key:${i}`, 'x'.repeat(i % 50)] : i % 3 === 1 ? ['GET', `key:${i}`] : ['MGET', 'a', 'b', `${i}`]);
  const input = Buffer.concat(cmds.map((c) => encodeCommand(c)));
  const out = feedRequests([input]);
  t.same(out.violations, []);
  t.equal(out.end, 'clean');
  t.same(render(out), cmds);
});

t.test('random chunking of a long pipeline gives the same frames', async (t) => {
  const cmds: string[][] = [];
  const pieces: Buffer[] = [];
  for (let i = 0; i < 3000; i++) {
    if (i % 7 === 0) {
      cmds.push(['!', 'PING', `${i}`]);
      pieces.push(b(`PING ${i}\r\n`));
    } else {
      const c = ['SET', `k${i}`, 'z'.repeat(i % 10 === 0 ? (i * 37) % 3000 : (i * 37) % 200)];
      cmds.push(c);
      pieces.push(encodeCommand(c));
    }
  }
  const input = Buffer.concat(pieces);
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  for (let round = 0; round < 5; round++) {
    const cuts: number[] = [];
    for (let p = rand(500) + 1; p < input.length; p += rand(round === 0 ? 8 : 4000) + 1) cuts.push(p);
    const out = feedRequests(cut(input, cuts));
    t.same(out.violations, [], `round ${round}: no violation`);
    t.equal(out.end, 'clean');
    t.same(render(out), cmds, `round ${round}: frames`);
  }
});

t.test('frame offsets: argOff points into the caller buffer, frameStart after skipped lines', async (t) => {
  const p = new RespRequestParser();
  const buf = b('xx\r\n*0\r\n*2\r\n$3\r\nGET\r\n$1\r\nk\r\n');
  const r = p.parse(buf, 2, buf.length);
  t.equal(r, buf.length);
  t.equal(p.frameStart, 8);
  t.equal(p.argBuf, buf);
  t.equal(p.argc, 2);
  t.same([p.argOff[0], p.argLen[0], p.argOff[1], p.argLen[1]], [16, 3, 25, 1]);
  t.equal(p.inline, false);
});

t.test('needed: exact once a bulk header is read, a lower bound before', async (t) => {
  const p = new RespRequestParser();
  const frame = encodeCommand(['SET', 'key', 'v'.repeat(1000)]);
  t.equal(p.parse(frame, 0, 5), PARSE_INCOMPLETE);
  t.ok(p.needed > 5 && p.needed <= frame.length);
  const header = frame.indexOf('$1000\r\n') + 7;
  t.equal(p.parse(frame, 0, header + 10), PARSE_INCOMPLETE);
  t.equal(p.needed, frame.length, 'the last bulk header gives the exact frame length');
  t.equal(p.parse(frame, 0, frame.length), frame.length);
});

t.test('resuming is linear: a 10k-key MSET over 100-byte chunks', async (t) => {
  const args = ['MSET'];
  for (let i = 0; i < 10_000; i++) args.push(`key:${i}`, `value:${i}`);
  const frame = encodeCommand(args);
  const p = new RespRequestParser();
  let reads = 0;
  const counting = new Proxy(frame, {
    get(target, prop) {
      if (typeof prop === 'string' && prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57) reads++;
      return target[prop as unknown as number];
    },
  }) as Buffer;
  let r = 0;
  for (let k = 100; ; k = Math.min(k + 100, frame.length)) {
    r = p.parse(counting, 0, k);
    if (r !== PARSE_INCOMPLETE) break;
  }
  t.equal(r, frame.length);
  t.equal(p.argc, 20_001);
  t.ok(reads < 2 * frame.length, `bytes read ${reads} for a ${frame.length}-byte frame`);
});

t.test('resuming is O(1) per chunk inside a 64 MiB value', async (t) => {
  const len = 64 * 1024 * 1024;
  const head = b(`*3\r\n$3\r\nSET\r\n$3\r\nbig\r\n$${len}\r\n`);
  const frame = Buffer.allocUnsafe(head.length + len + 2);
  head.copy(frame, 0);
  frame[frame.length - 2] = 13;
  frame[frame.length - 1] = 10;
  let reads = 0;
  const counting = new Proxy(frame, {
    get(target, prop) {
      if (typeof prop === 'string' && prop.charCodeAt(0) >= 48 && prop.charCodeAt(0) <= 57) reads++;
      return target[prop as unknown as number];
    },
  }) as Buffer;
  const p = new RespRequestParser();
  let calls = 0;
  let inexact = 0;
  let r = 0;
  for (let k = 65536; ; k = Math.min(k + 65536, frame.length)) {
    calls++;
    r = p.parse(counting, 0, k);
    if (r !== PARSE_INCOMPLETE) break;
    if (p.needed !== frame.length) inexact++;
  }
  t.equal(inexact, 0, 'needed is the exact frame length at every chunk');
  t.equal(r, frame.length);
  t.equal(p.argLen[2], len);
  t.ok(calls > 1000);
  t.ok(reads < 200, `bytes read ${reads} over ${calls} calls`);
});

t.test('limits: maxArgs, maxBulkBytes, maxRequestBytes, maxInlineBytes', async (t) => {
  const limits = { maxArgs: 3, maxBulkBytes: 10, maxInlineBytes: 16, maxRequestBytes: 60 };
  const run = (s: string | Buffer): string => feedRequests([typeof s === 'string' ? b(s) : s], new RespRequestParser(limits)).end;
  t.equal(run(encodeCommand(['a', 'b', 'c'])), 'clean');
  t.equal(run(encodeCommand(['a', 'b', 'c', 'd'])), E('invalid multibulk length'));
  t.equal(run(encodeCommand(['SET', 'k', '0123456789'])), 'clean');
  t.equal(run(encodeCommand(['SET', 'k', '0123456789a'])), E('invalid bulk length'));
  // Three 10-byte bulks ("$10\r\n" + 10 + CRLF = 17 bytes each) after "*3\r\n" make a 55-byte frame.
  t.equal(run(encodeCommand(['0123456789', '0123456789', '0123456789'])), 'clean');
  t.equal(run(b('*3\r\n$10\r\n0123456789\r\n$10\r\n0123456789\r\n$10\r\n')), 'incomplete');
  const tight = { ...limits, maxRequestBytes: 51 };
  t.equal(feedRequests([encodeCommand(['0123456789', '0123456789', '0123456789'])], new RespRequestParser(tight)).end, E('request too large'));
  // The count alone can prove a request too large: 3 arguments of at least 6 bytes each.
  const tiny = { ...limits, maxRequestBytes: 20 };
  t.equal(feedRequests([b('*3\r\n')], new RespRequestParser(tiny)).end, E('request too large'));
  t.equal(run('get 0123456789ab\n'), 'clean');
  t.equal(run('get 0123456789abc\n'), E('too big inline request'));
  t.equal(DEFAULT_RESP_LIMITS.maxArgs, 1024 * 1024);
  t.equal(DEFAULT_RESP_LIMITS.maxBulkBytes, 512 * 1024 * 1024);
  t.equal(DEFAULT_RESP_LIMITS.maxInlineBytes, 64 * 1024);
  t.equal(DEFAULT_RESP_LIMITS.maxRequestBytes, 512 * 1024 * 1024);
});

t.test('reset drops partial state; an error leaves the parser reusable after reset', async (t) => {
  const p = new RespRequestParser();
  t.equal(p.parse(b('*2\r\n$3\r\nGET\r\n'), 0, 13), PARSE_INCOMPLETE);
  p.reset();
  const ping = encodeCommand(['PING']);
  t.equal(p.parse(ping, 0, ping.length), ping.length);
  t.equal(p.parse(b('*x\r\n'), 0, 4), PARSE_ERROR);
  p.reset();
  t.equal(p.parse(ping, 0, ping.length), ping.length);
  t.equal(p.argc, 1);
});

t.test('presenting fewer bytes than before restarts instead of reading past end', async (t) => {
  const p = new RespRequestParser();
  const frame = encodeCommand(['SET', 'k', 'value']);
  t.equal(p.parse(frame, 0, frame.length - 3), PARSE_INCOMPLETE);
  t.equal(p.parse(frame, 0, 6), PARSE_INCOMPLETE);
  t.equal(p.parse(frame, 0, frame.length), frame.length);
  t.same([p.argc, p.argLen[2]], [3, 5]);
});

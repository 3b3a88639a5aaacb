// MemcacheRequestParser against fixtures of every command and bad input, each whole and split at every byte.
// Expected frames and error lines are memcached 1.6.18's behaviour, written out by hand (and checked live in
// memcached-compare.test.ts).
import t from 'tap';
import { MemcacheRequestParser, type MemcacheLimits } from '../../../../src/protocol/memcache/index.ts';
import { feedRequests, cut, splitPoints, b } from './mc-feed.ts';

interface Fixture {
  name: string;
  input: Buffer | string;
  frames: string[];
  end?: string;
  limits?: MemcacheLimits;
}

const BAD = '! CLIENT_ERROR bad command line format';
const k250 = 'k'.repeat(250);
const k251 = 'k'.repeat(251);
const LIMITS: MemcacheLimits = { maxKeyLength: 250, maxLineBytes: 2048, maxValueBytes: 1024 * 1024, maxKeys: 16384 };

const valid: Fixture[] = [
  { name: 'get one key', input: 'get foo\r\n', frames: ['get foo'] },
  { name: 'get many keys, extra spaces', input: '  get   a  b\tc   d \r\n', frames: ['get a b\tc d'] },
  { name: 'gets', input: 'gets a b\r\n', frames: ['gets a b'] },
  { name: 'gat with keys', input: 'gat 100 a b\r\n', frames: ['gat a b'] },
  { name: 'gats with negative exptime', input: 'gats -1 a\r\n', frames: ['gats a'] },
  { name: 'gat without keys (memcached answers END)', input: 'gat 10\r\n', frames: ['gat'] },
  { name: 'bget is get', input: 'bget k\r\n', frames: ['get k'] },
  { name: 'LF-only line end', input: 'get k\n', frames: ['get k'] },
  { name: 'CR inside the key stays', input: 'get k\r\r\n', frames: ['get k\r'] },
  { name: 'NUL ends the line (strlen)', input: 'get a b\0c d\r\n', frames: ['get a b'] },
  { name: 'control characters in keys (memcached accepts them)', input: 'get a\x01b \x7f\xff\r\n', frames: ['get a\x01b \x7f\xff'] },
  { name: '250-byte key', input: `get ${k250}\r\n`, frames: [`get ${k250}`] },
  { name: 'set', input: 'set k 0 0 5\r\nhello\r\n', frames: ['set k <hello>'] },
  { name: 'set with CRLF and NUL inside the value', input: 'set k 1 2 7\r\na\r\nb\0c\r\r\n', frames: ['set k <a\r\nb\0c\r>'] },
  { name: 'set empty value', input: 'set k 0 0 0\r\n\r\n', frames: ['set k <>'] },
  { name: 'set noreply', input: 'set k 0 0 1 noreply\r\nx\r\n', frames: ['set k [noreply] <x>'] },
  { name: 'set with an ignored 6th token', input: 'set k 0 0 1 x\r\nx\r\n', frames: ['set k <x>'] },
  { name: 'set numbers as strtol reads them', input: 'set k +1 -0 01\r\nx\r\n', frames: ['set k <x>'] },
  { name: 'set bytes wraps to 32 bits (4294967297 is 1)', input: 'set k 0 0 4294967297\r\nx\r\n', frames: ['set k <x>'] },
  { name: 'set flags up to 2^64-1', input: 'set k 18446744073709551615 0 1\r\nx\r\n', frames: ['set k <x>'] },
  { name: 'set number followed by a tab and junk', input: 'set k 1\tz 0 1\r\nx\r\n', frames: ['set k <x>'] },
  { name: 'add replace append prepend', input: 'add a 0 0 1\r\n1\r\nreplace b 0 0 1\r\n2\r\nappend c 0 0 1\r\n3\r\nprepend d 0 0 1\r\n4\r\n', frames: ['add a <1>', 'replace b <2>', 'append c <3>', 'prepend d <4>'] },
  { name: 'cas', input: 'cas k 0 0 2 12345\r\nab\r\ncas k 0 0 1 1 noreply\r\nx\r\n', frames: ['cas k <ab>', 'cas k [noreply] <x>'] },
  { name: 'delete forms', input: 'delete a\r\ndelete b 0\r\ndelete c noreply\r\ndelete d 0 noreply\r\n', frames: ['delete a', 'delete b', 'delete c [noreply]', 'delete d [noreply]'] },
  { name: 'incr decr', input: 'incr a 1\r\ndecr b 18446744073709551615 noreply\r\nincr c 1 x\r\n', frames: ['incr a', 'decr b [noreply]', 'incr c'] },
  { name: 'touch', input: 'touch a 10\r\ntouch b -1 noreply\r\n', frames: ['touch a', 'touch b [noreply]'] },
  { name: 'version, quit, stats', input: 'version\r\nversion x\r\nstats\r\nstats slabs\r\nstats nosuch\r\nquit\r\n', frames: ['version', 'version', 'stats', 'stats', 'stats', 'quit'] },
  { name: 'verbosity', input: 'verbosity 1\r\nverbosity 2 noreply\r\n', frames: ['verbosity', 'verbosity [noreply]'] },
  { name: 'flush_all forms', input: 'flush_all\r\nflush_all 10\r\nflush_all noreply\r\nflush_all 0 noreply\r\nflush_all 0 0\r\n', frames: ['flush_all', 'flush_all', 'flush_all [noreply]', 'flush_all [noreply]', 'flush_all'] },
  { name: 'admin commands are framed, not validated', input: 'shutdown\r\nslabs automove 1\r\nlru_crawler crawl all\r\nwatch\r\nlru mode flat\r\ncache_memlimit 100\r\nextstore x\r\nrefresh_certs\r\n', frames: Array(8).fill('admin') },
  { name: 'mg with flags', input: 'mg foo v f t s c k O123 q\r\n', frames: ['mg foo [q] O=123'] },
  { name: 'mg without flags, trailing space', input: 'mg foo \r\n', frames: ['mg foo'] },
  { name: 'mg with every known flag', input: 'mg aw== b N1 T2 R3 l O P L k s t c f v h u q\r\nmg k F4 C5 MS J6 D7 I\r\n', frames: ['mg aw== b64=6b [q] O=', 'mg k'] },
  { name: 'mg base64 key', input: 'mg aw== b v\r\nmg Zm9vYmFy b k\r\n', frames: ['mg aw== b64=6b', 'mg Zm9vYmFy b64=666f6f626172'] },
  { name: 'ms', input: 'ms k 3 T10 F5 I\r\nabc\r\n', frames: ['ms k <abc>'] },
  { name: 'ms modes and quiet', input: 'ms k 1 ME q O7\r\nx\r\nms k 1 MA\r\ny\r\n', frames: ['ms k [q] O=7 <x>', 'ms k <y>'] },
  { name: 'ms base64 key', input: 'ms Zm9v 2 b\r\nhi\r\n', frames: ['ms Zm9v b64=666f6f <hi>'] },
  { name: 'md, ma, mn, me', input: 'md k q\r\nma k N0 J5 D2 MD v\r\nmn\r\nmn extra\r\nme k\r\nme aw== b\r\nme k x b\r\n', frames: ['md k [q]', 'ma k', 'mn', 'mn', 'me k', 'me aw== b64=6b', 'me k'] },
  { name: 'quiet and noreply interleaved in a pipeline', input: 'set a 0 0 1 noreply\r\n1\r\nmg a v q\r\nmg b v q k O1\r\nms c 1 q\r\n3\r\nmd a q\r\ndelete b noreply\r\nmn\r\nget a b c\r\n', frames: ['set a [noreply] <1>', 'mg a [q]', 'mg b [q] O=1', 'ms c [q] <3>', 'md a [q]', 'delete b [noreply]', 'mn', 'get a b c'] },
  { name: 'partial frame at the end', input: 'get a\r\nset k 0 0 10\r\nabc', frames: ['get a'], end: 'incomplete' },
  { name: 'get line longer than 2048 bytes', input: 'get ' + 'ab '.repeat(1000) + '\r\n', frames: ['get' + ' ab'.repeat(1000)] },
  { name: 'gets line longer than 2048 bytes after 100 spaces', input: ' '.repeat(100) + 'gets ' + 'x '.repeat(1500) + '\r\n', frames: ['gets' + ' x'.repeat(1500)] },
  { name: 'a 2048-byte line is still read', input: 'x'.repeat(2047) + '\r\n', frames: ['! ERROR'] },
  { name: 'mid-stream 0x80 is a text line', input: 'get a\r\n\x80get a\r\n', frames: ['get a', '! ERROR'] },
];

const errors: Fixture[] = [
  { name: 'empty line', input: '\r\n\n', frames: ['! ERROR', '! ERROR'] },
  { name: 'one-letter command', input: 'x\r\n', frames: ['! ERROR'] },
  { name: 'unknown command', input: 'foo bar\r\nSET k 0 0 1\r\n', frames: ['! ERROR', '! ERROR'] },
  { name: 'unknown name in a known first-letter branch skips the HTTP check', input: 'sfoo HTTP/1.1\r\nstats HTTP/1.1\r\n', frames: ['! ERROR', 'stats'] },
  { name: 'get without key', input: 'get\r\ngets  \r\nbget\r\n', frames: ['! ERROR', '! ERROR', '! ERROR'] },
  { name: 'tab is not a separator', input: 'get\tk\r\n', frames: ['! ERROR'] },
  { name: 'get key too long', input: `get a ${k251} b\r\n`, frames: [BAD] },
  { name: 'gat bad exptime', input: 'gat x k\r\ngat 1x k\r\n', frames: ['! CLIENT_ERROR invalid exptime argument', '! CLIENT_ERROR invalid exptime argument'] },
  { name: 'set wrong arity, data read as a command', input: 'set k 0 0\r\nab\r\n', frames: ['! ERROR', '! ERROR'] },
  { name: 'set arity error is not silenced by noreply', input: 'set k 0 0 1 2 noreply\r\n', frames: ['! ERROR'] },
  { name: 'set bad flags, data read as a command', input: 'set k x 0 3\r\nabc\r\n', frames: [BAD, '! ERROR'] },
  { name: 'set bad flags with noreply is silent', input: 'set k x 0 3 noreply\r\nabc\r\n', frames: [BAD + ' [silent]', '! ERROR'] },
  { name: 'set negative flags', input: 'set k -1 0 1\r\n', frames: [BAD] },
  { name: 'set flags above 2^64-1', input: 'set k 18446744073709551616 0 1\r\n', frames: [BAD] },
  { name: 'set bad bytes', input: 'set k 0 0 1z\r\nset k 0 0 -1\r\nset k 0 0 2147483646\r\nset k 0 0 2147483648\r\n', frames: [BAD, BAD, BAD, BAD] },
  { name: 'set exptime out of long range', input: 'set k 0 99999999999999999999 1\r\n', frames: [BAD] },
  { name: 'set key too long', input: `set ${k251} 0 0 1\r\nx\r\n`, frames: [BAD, '! ERROR'] },
  { name: 'cas arity and bad unique', input: 'cas k 0 0 1\r\ncas k 0 0 1 x\r\nx\r\n', frames: ['! ERROR', BAD, '! ERROR'] },
  { name: 'bad data chunk, the rest read as commands', input: 'set k 0 0 3\r\nabcde\r\n', frames: ['! CLIENT_ERROR bad data chunk', '! ERROR'] },
  { name: 'bad data chunk with noreply is silent', input: 'set k 0 0 3 noreply\r\nabcde\r\n', frames: ['! CLIENT_ERROR bad data chunk [silent]', '! ERROR'] },
  { name: 'data followed by LF only', input: 'set k 0 0 1\r\nx\n\r\n', frames: ['! CLIENT_ERROR bad data chunk', '! ERROR'] },
  { name: 'value too large: swallowed, then the stream goes on', input: 'set k 0 0 1048577\r\n' + 'v'.repeat(1048577) + '\r\nget k\r\n', frames: ['! SERVER_ERROR object too large for cache key=k', 'get k'] },
  { name: 'value too large with noreply: silent', input: 'set k 0 0 2000000 noreply\r\n' + 'v'.repeat(10), frames: ['! SERVER_ERROR object too large for cache [silent] key=k'], end: 'swallowing' },
  { name: 'delete bad forms', input: 'delete\r\ndelete k 1\r\ndelete k 0 x\r\ndelete k x noreply\r\ndelete a b c d\r\n', frames: ['! ERROR', '! CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]', '! CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply]', '! CLIENT_ERROR bad command line format.  Usage: delete <key> [noreply] [silent]', '! ERROR'] },
  { name: 'delete key too long', input: `delete ${k251}\r\n`, frames: [BAD] },
  { name: 'incr/decr bad', input: 'incr k\r\nincr k x\r\nincr k -1\r\ndecr k x noreply\r\nincr k 1 2 3\r\n', frames: ['! ERROR', '! CLIENT_ERROR invalid numeric delta argument', '! CLIENT_ERROR invalid numeric delta argument', '! CLIENT_ERROR invalid numeric delta argument [silent]', '! ERROR'] },
  { name: 'touch bad', input: 'touch k\r\ntouch k x\r\n', frames: ['! ERROR', '! CLIENT_ERROR invalid exptime argument'] },
  { name: 'verbosity bad', input: 'verbosity\r\nverbosity x\r\nverbosity noreply\r\nverbosity 1 2 3\r\n', frames: ['! ERROR', BAD, BAD + ' [silent]', '! ERROR'] },
  { name: 'flush_all bad', input: 'flush_all x\r\nflush_all x noreply\r\nflush_all noreply x\r\nflush_all 0 0 0\r\n', frames: ['! CLIENT_ERROR invalid exptime argument', '! CLIENT_ERROR invalid exptime argument [silent]', '! CLIENT_ERROR invalid exptime argument', '! ERROR'] },
  { name: 'meta: unknown, arity', input: 'mz\r\nmg\r\nms\r\nmd\r\nma\r\nme\r\nms k\r\n', frames: ['! ERROR', '! ERROR', '! ERROR', '! ERROR', '! ERROR', BAD, BAD] },
  { name: 'meta: flags', input: 'mg k Z\r\nmg k T\r\nmg k Tx\r\nmg k q q\r\nmg k \x80\r\nmg k M\r\nmg k MSS\r\nmg k Fx\r\nmg k Jx\r\nmg k Dx\r\nmg k Cx\r\n', frames: ['! CLIENT_ERROR invalid flag', '! CLIENT_ERROR bad token in command line format', '! CLIENT_ERROR bad token in command line format', '! CLIENT_ERROR duplicate flag', '! CLIENT_ERROR duplicate flag', '! CLIENT_ERROR incorrect length for M token', '! CLIENT_ERROR incorrect length for M token', BAD, '! CLIENT_ERROR invalid numeric initial value', '! CLIENT_ERROR invalid numeric delta value', '! CLIENT_ERROR bad token in command line format'] },
  { name: 'meta: a later flag decides the message', input: 'mg k Tx Z\r\nmg k Tx Dx\r\nmg k Tx q q\r\n', frames: ['! CLIENT_ERROR invalid flag', '! CLIENT_ERROR invalid numeric delta value', '! CLIENT_ERROR duplicate flag'] },
  { name: 'meta: md and ma say one thing for every flag problem', input: 'md k Z\r\nma k Dx\r\nma k MZ\r\n', frames: ['! CLIENT_ERROR invalid or duplicate flag', '! CLIENT_ERROR invalid or duplicate flag', '! CLIENT_ERROR invalid mode for ma M token'] },
  { name: 'meta: key too long, too many flags', input: `mg ${k251} v\r\nmg k a b c d e f g h i j k l m n o p q r\r\nmd k a b c d e f g h i j k l m n o p q r\r\n`, frames: [BAD, '! CLIENT_ERROR options flags are too long', '! CLIENT_ERROR options flags too long'] },
  { name: 'meta: opaque too long', input: `mg k O${'1'.repeat(32)}\r\nmd k O${'1'.repeat(31)}\r\n`, frames: ['! CLIENT_ERROR opaque token too long', 'md k O=' + '1'.repeat(31)] },
  { name: 'meta: bad base64 keys', input: 'mg a= b\r\nmg a=== b\r\nmg k v k b\r\nme k b\r\n', frames: ['! CLIENT_ERROR error decoding key', '! CLIENT_ERROR error decoding key', '! CLIENT_ERROR error decoding key', BAD] },
  { name: 'ms errors before the data length leave the data to be read', input: 'ms k x\r\nab\r\nms k -1\r\nab\r\n', frames: [BAD, '! ERROR', BAD, '! ERROR'] },
  { name: 'ms flag errors swallow the data', input: 'ms k 2 Z\r\nab\r\nms k 2 q q\r\nab\r\nms k 2 MZ\r\nab\r\nms k 2 b\r\nab\r\nmn\r\n', frames: ['! CLIENT_ERROR invalid flag', '! CLIENT_ERROR duplicate flag', '! CLIENT_ERROR invalid mode for ms M token', '! CLIENT_ERROR error decoding key', 'mn'] },
  { name: 'ms opaque too long swallows the data', input: `ms k 2 O${'1'.repeat(32)}\r\nab\r\nmn\r\n`, frames: ['! CLIENT_ERROR opaque token too long', 'mn'] },
  { name: 'ms bad data chunk is never silent', input: 'ms k 2 q\r\nabc\r\n', frames: ['! CLIENT_ERROR bad data chunk', '! ERROR'] },
  { name: 'ms too large', input: 'ms k 2000000 T0\r\n' + 'v'.repeat(100), frames: ['! SERVER_ERROR object too large for cache key=k'], end: 'swallowing' },
  { name: 'HTTP request closes', input: 'GET / HTTP/1.1\r\nHost: x\r\n\r\n', frames: [], end: 'close: HTTP request on a memcached connection' },
  { name: 'binary magic as first byte closes', input: Buffer.from([0x80, 0, 0, 5, 0, 0, 0, 0]), frames: [], end: 'close: binary protocol request on a text connection' },
  { name: 'line without newline past 2048 bytes closes', input: 'x'.repeat(2049), frames: [], end: 'close: command line too long' },
  { name: 'a 2049-byte line closes even with its newline', input: 'x'.repeat(2049) + '\n', frames: [], end: 'close: command line too long' },
  { name: 'gat lines may not grow past 2048 bytes', input: 'gat 0 ' + 'a '.repeat(1100) + '\r\n', frames: [], end: 'close: command line too long' },
  { name: 'more than 100 spaces before a long get closes', input: ' '.repeat(101) + 'get ' + 'a '.repeat(1100) + '\r\n', frames: [], end: 'close: command line too long' },
  { name: 'error after good frames', input: 'get a\r\nset k 0 0 1\r\nx\r\nfoo HTTP/1.0\r\n', frames: ['get a', 'set k <x>'], end: 'close: HTTP request on a memcached connection' },
];

for (const fx of [...valid, ...errors]) {
  const input = typeof fx.input === 'string' ? b(fx.input) : fx.input;
  const end = fx.end ?? 'clean';
  const make = (): MemcacheRequestParser => new MemcacheRequestParser(fx.limits ?? LIMITS);
  t.test(fx.name, async (t) => {
    const whole = feedRequests([input], make());
    t.same(whole.violations, [], 'no contract violation, whole');
    t.same(whole.items, fx.frames, 'frames, whole');
    t.equal(whole.end, end, 'end state, whole');
    let bad = 0;
    for (const k of splitPoints(input.length, 2600)) {
      const split = feedRequests(cut(input, [k]), make());
      if (split.violations.length > 0 || split.end !== end || JSON.stringify(split.items) !== JSON.stringify(fx.frames)) {
        if (bad++ < 3) t.fail(`split at ${k}: ${JSON.stringify({ v: split.violations, end: split.end, items: split.items.slice(0, 4) })}`);
      }
    }
    t.equal(bad, 0, 'same outcome at every split point');
    if (input.length <= 4096) {
      const bytes = feedRequests(cut(input, splitPoints(input.length, 1 << 30)), make());
      t.same(bytes.violations, [], 'no contract violation, byte by byte');
      t.same(bytes.items, fx.frames, 'frames, byte by byte');
      t.equal(bytes.end, end, 'end state, byte by byte');
    }
  });
}
